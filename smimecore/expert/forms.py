"""The two forms of a bare CMS object: DER (or BER) octets, and PEM text.

What ``openssl cms -inform``/``-outform DER|PEM`` read and write.  A PEM
CMS object is one ``-----BEGIN CMS-----`` block (``PKCS7``, as ``openssl
smime -pk7out`` labels it, is read too); text around the block is ignored.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from smimecore.errors import ConfigError, MalformedCMSError
from smimecore.pki.der import TAG_SEQUENCE, Bytes
from smimecore.pki.pem import find_pem_blocks

__all__ = ["PEM_LABELS", "CMSForm", "CMSInput", "cms_der", "write_cms"]

CMSForm = Literal["der", "pem"]
"""How a CMS object is written out: ``der`` octets or ``pem`` text."""

CMSInput = Bytes | str
"""A CMS object as given: DER or BER octets, or PEM (as bytes or text)."""

PEM_LABELS = ("CMS", "PKCS7")
"""The PEM labels read as a CMS ContentInfo; ``CMS`` is the one written."""

_PEM_LINE = 64


def cms_der(data: CMSInput) -> Bytes:
    """The DER (or BER) of a CMS object given as DER, BER or PEM.

    DER and BER come back as they are (no copy); PEM is decoded.  Anything
    else (a MIME message, say) is a :class:`MalformedCMSError` saying what
    was expected.
    """
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    view = memoryview(data)
    if view.nbytes and view[0] == TAG_SEQUENCE:
        return data
    text = bytes(view)
    if b"-----BEGIN " in text:
        return _pem_body(text)
    raise MalformedCMSError(
        "not a CMS object (DER, BER or PEM); a MIME message is read by SMIME, not here"
    )


def _pem_body(text: bytes) -> bytes:
    """The DER of the first CMS (else PKCS7) block of ``text`` (found by :func:`find_pem_blocks`).

    The base64 is decoded strictly: a CMS object with a character out of
    place is refused rather than decoded around.
    """
    blocks = find_pem_blocks(text)
    for label in PEM_LABELS:
        found = next((block for block in blocks if block.label == label), None)
        if found is None:
            if f"-----BEGIN {label}-----".encode("ascii") in text:
                raise MalformedCMSError(f"PEM {label} block has no END line")
            continue
        try:
            body = b"".join(found.text.splitlines()[1:-1])
            return base64.b64decode(b"".join(body.split()), validate=True)
        except binascii.Error:
            raise MalformedCMSError(f"PEM {label} block has broken base64") from None
    raise MalformedCMSError(
        f"PEM data holds no CMS object (a -----BEGIN {PEM_LABELS[0]}----- block)"
    )


def write_cms(der: Bytes, outform: CMSForm) -> bytes:
    """A DER CMS object in the form ``outform``: its octets, or a PEM ``CMS`` block."""
    if outform == "der":
        return bytes(der)
    if outform != "pem":
        raise ConfigError("outform", f"{outform!r} is neither 'der' nor 'pem'")
    text = base64.b64encode(der)
    lines = b"".join(text[i : i + _PEM_LINE] + b"\n" for i in range(0, len(text), _PEM_LINE))
    label = PEM_LABELS[0].encode("ascii")
    return b"-----BEGIN " + label + b"-----\n" + lines + b"-----END " + label + b"-----\n"
