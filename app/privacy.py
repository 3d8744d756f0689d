"""Mask phone numbers, ID-card numbers, street addresses and secrets before anything reaches a log or an export."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# 身份证: region, birth date, sequence, check digit
_ID_NUMBER = re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)")
_ADDRESS = re.compile(
    r"[\u4e00-\u9fffA-Za-z0-9]{0,12}(?:路|街|巷|弄|村|小区|大厦|花园|公寓)[\u4e00-\u9fffA-Za-z0-9\-]{0,16}"
)
_SIGNATURE = re.compile(r"(sha256=)[0-9a-fA-F]{8,}")
_BEARER = re.compile(r"(?i)(bearer\s+|token=)[A-Za-z0-9._\-]{8,}")
_AGENT_TOKEN = re.compile(r"kfa_[A-Za-z0-9_\-]{8,}")


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """'13812345678 上海市徐汇区漕溪北路88号' → '138****5678 上海市徐汇区<地址>'; an ID-card number → '<身份证号>'."""
    for secret in secrets:
        text = text.replace(secret, "<secret>")
    text = _ID_NUMBER.sub("<身份证号>", text)
    text = _PHONE.sub(r"\1****\2", text)
    text = _ADDRESS.sub("<地址>", text)
    text = _SIGNATURE.sub(r"\1<masked>", text)
    return _AGENT_TOKEN.sub("kfa_<masked>", _BEARER.sub(r"\1<masked>", text))


class MaskingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info), self._secrets)
            record.exc_info = None
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """One stderr handler whose filter masks every record, ours and our libraries'; no line per outbound request."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter(secrets))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: in a promotion, millions of lines saying a reply went out,
    # which the outbox table and /metrics already record. Shown when debugging only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
