"""CMS CompressedData (RFC 3274): zlib-compressed content, decompressed with a size limit."""

from __future__ import annotations

import zlib
from typing import NamedTuple

from smimecore.cms.content_info import (
    COMPRESSED_DATA_OID,
    close_content_info,
    open_content_info,
    read_encapsulated,
)
from smimecore.errors import MalformedCMSError, ResourceLimitError, UnsupportedAlgorithmError
from smimecore.pki.der import DEFAULT_LIMITS, TAG_SEQUENCE, AlgorithmIdentifier, Bytes, ReaderLimits

__all__ = ["CompressedData", "decompress", "parse_compressed"]

_ZLIB = "1.2.840.113549.1.9.16.3.8"
_VERSIONS = frozenset({0})


class CompressedData(NamedTuple):
    """A CompressedData as read: the compression algorithm and the encapsulated content."""

    algorithm: AlgorithmIdentifier
    content_type: str
    content: bytes | memoryview | None


def parse_compressed(data: Bytes, limits: ReaderLimits = DEFAULT_LIMITS) -> CompressedData:
    """Read a DER/BER ContentInfo holding CompressedData (the content stays a view)."""
    _, cursor = open_content_info(data, {COMPRESSED_DATA_OID: "compressed-data"}, limits)
    cursor.enter(TAG_SEQUENCE, "CompressedData")
    cursor.version("CompressedData.version", _VERSIONS)
    algorithm = cursor.algorithm("CompressedData.compressionAlgorithm")
    content_type, content = read_encapsulated(cursor, "CompressedData.encapContentInfo")
    cursor.leave("CompressedData")
    close_content_info(cursor)
    return CompressedData(algorithm, content_type, content)


def decompress(data: Bytes, *, limit: int, limits: ReaderLimits = DEFAULT_LIMITS) -> bytes:
    """The content of a DER/BER ContentInfo holding CompressedData.

    Raises :class:`MalformedCMSError` when the data is broken, and
    :class:`ResourceLimitError` as soon as the decompressed content would
    exceed ``limit`` bytes (a compression bomb: no more is inflated).
    """
    compressed = parse_compressed(data, limits)
    if compressed.algorithm.oid != _ZLIB:
        raise UnsupportedAlgorithmError(
            compressed.algorithm.oid, "is not a supported compression algorithm"
        )
    if compressed.content is None:
        raise MalformedCMSError("CompressedData carries no content")
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(compressed.content, limit + 1)
    except zlib.error as exc:
        raise MalformedCMSError(f"compressed content is damaged: {exc}") from None
    if len(content) > limit:
        raise ResourceLimitError(f"decompressed content exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise MalformedCMSError("compressed content is truncated")
    return content
