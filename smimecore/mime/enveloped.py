"""S/MIME encrypted messages (RFC 8551 sections 3.3 and 3.4): reading them.

``application/pkcs7-mime`` (or ``x-pkcs7-mime``, or ``application/octet-stream``
named ``*.p7m``) with ``smime-type=enveloped-data`` or ``authEnveloped-data``,
matched in any letter case.  A part without ``smime-type`` is taken as
encrypted when its CMS says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from smimecore.errors import NotProtectedError
from smimecore.mime.entity import RawEntity
from smimecore.mime.protected import decode_body_view, is_pkcs7_mime, split_header

__all__ = ["ENVELOPED_TYPES", "EncryptedMessage", "parse_encrypted"]

ENVELOPED_TYPES = frozenset({"enveloped-data", "authenveloped-data"})
"""``smime-type`` values of encrypted content, lowercased."""


@dataclass(frozen=True)
class EncryptedMessage:
    """An encrypted message taken apart: its outer entity and the CMS bytes.

    ``outer`` holds the header section only (its body, decoded, is ``cms``).
    """

    outer: RawEntity
    cms: bytes


def parse_encrypted(raw: bytes) -> EncryptedMessage:
    """Take apart an encrypted message; raises :class:`NotProtectedError` if it is not one."""
    entity, body_start = split_header(raw)
    if not is_pkcs7_mime(entity):
        raise NotProtectedError(
            f"the message is not S/MIME encrypted (Content-Type {entity.content_type})"
        )
    smime_type = (entity.parameter("smime-type") or "").lower()
    if smime_type and smime_type not in ENVELOPED_TYPES:
        raise NotProtectedError(f"the message is S/MIME {smime_type}, not enveloped-data")
    body = memoryview(raw)[body_start:]
    return EncryptedMessage(entity, decode_body_view(entity, body, "the enveloped-data body"))
