"""CMS CompressedData (RFC 3274): zlib-compressed content, decompressed with a size limit."""

from __future__ import annotations

import zlib

from asn1crypto import cms

from smimecore.errors import (
    MalformedCMSError,
    ResourceLimitError,
    UnsupportedAlgorithmError,
    first_line,
)

__all__ = ["decompress"]

_ZLIB = "1.2.840.113549.1.9.16.3.8"


def decompress(data: bytes, *, limit: int) -> bytes:
    """The content of a DER/BER ContentInfo holding CompressedData.

    Raises :class:`MalformedCMSError` when the data is broken, and
    :class:`ResourceLimitError` as soon as the decompressed content would
    exceed ``limit`` bytes (a compression bomb: no more is inflated).
    """
    try:
        content_info = cms.ContentInfo.load(data)
        if content_info["content_type"].native != "compressed_data":
            raise MalformedCMSError(
                f"expected CMS compressed-data, found {content_info['content_type'].native}"
            )
        compressed = content_info["content"]
        algorithm = compressed["compression_algorithm"]["algorithm"].dotted
        payload = compressed["encap_content_info"]["content"].native
    except MalformedCMSError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedCMSError(
            f"broken CMS CompressedData: {first_line(exc, 'truncated')}"
        ) from None
    if algorithm != _ZLIB:
        raise UnsupportedAlgorithmError(algorithm, "is not a supported compression algorithm")
    if not isinstance(payload, bytes):
        raise MalformedCMSError("CompressedData carries no content")
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(payload, limit + 1)
    except zlib.error as exc:
        raise MalformedCMSError(f"compressed content is damaged: {exc}") from None
    if len(content) > limit:
        raise ResourceLimitError(f"decompressed content exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise MalformedCMSError("compressed content is truncated")
    return content
