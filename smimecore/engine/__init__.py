"""The recipe layer: the API most callers use."""

from smimecore.engine.smime import SMIME
from smimecore.engine.status import Result, StatusRecord, format_status, parse_status

__all__ = ["SMIME", "Result", "StatusRecord", "format_status", "parse_status"]
