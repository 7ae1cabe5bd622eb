"""PEM blocks found in text that holds other things too, in linear time whatever the text."""

from __future__ import annotations

import gc
import time

from smimecore.pki.pem import find_pem_blocks

BLOCK = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_blocks_among_text_and_unfinished_ones() -> None:
    text = (
        b"dump\n"
        + BLOCK
        + b"-----BEGIN PRIVATE KEY-----\nno end\n"
        + BLOCK.replace(b"\n", b" \r\n")
    )
    blocks = find_pem_blocks(text)
    assert [block.label for block in blocks] == ["CERTIFICATE", "CERTIFICATE"]
    assert blocks[0].text == BLOCK
    nested = b"-----BEGIN A-----\n-----BEGIN A-----\nx\n-----END A-----\n"
    assert [block.text for block in find_pem_blocks(nested)] == [nested]


def _cpu_seconds(data: bytes) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        assert find_pem_blocks(data) == []
        return time.process_time() - start
    finally:
        gc.enable()


def test_begin_lines_that_never_end_cost_linear_time() -> None:
    """320 KB of BEGIN lines took 25 s with the old regular expression (quadratic)."""
    line = b"-----BEGIN CERTIFICATE-----\n"
    small = min(_cpu_seconds(line * 3_000) for _ in range(3))
    large = min(_cpu_seconds(line * 48_000) for _ in range(3))
    assert large < 40 * max(small, 1e-4), (small, large)  # linear: 16x
