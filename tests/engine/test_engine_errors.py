"""Every error leaving an SMIME operation is a SmimeError that carries a record (issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smimecore import SMIME, Config, SmimeError

ENGINE = SMIME(Config(accept_untrusted_cas=True))
GARBAGE = b"\x00\x01 not a header line\n\nbody"
PLAIN = b"Subject: x\n\nx"

CALLS: dict[str, tuple[Callable[[], Any], str]] = {
    "encrypt-garbage": (lambda: ENGINE.encrypt(GARBAGE, recipients=["a@b.example"]), "Encrypt"),
    "encrypt-cipher": (
        lambda: ENGINE.encrypt(PLAIN, recipients=["a@b.example"], cipher="rot13"),
        "Encrypt",
    ),
    "sign-digest": (lambda: ENGINE.sign(PLAIN, signer="a@b.example", digest="md5"), "Sign"),
    "verify_decrypt-empty": (lambda: ENGINE.verify_decrypt(b""), "VerifyDecrypt"),
    "certificate_info": (lambda: ENGINE.certificate_info(b"not a certificate"), "KeyCheck"),
    "address_info": (lambda: ENGINE.address_certificate_info("a@b.example"), "KeyCheck"),
    "decrypt-plain": (lambda: ENGINE.decrypt(PLAIN), "Decrypt"),
    "verify-plain": (lambda: ENGINE.verify(PLAIN), "Verify"),
}


@pytest.mark.parametrize("name", CALLS)
def test_every_error_carries_a_record(name: str) -> None:
    call, operation = CALLS[name]
    with pytest.raises(SmimeError) as raised:
        call()
    (record, *_) = raised.value.statuses
    assert (record.operation, record.status) == (operation, "ERROR")
    assert str(raised.value) in record.message
