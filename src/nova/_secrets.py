"""Keep secret values out of files, logs and database rows.

Secrets enter nova only through ``${ENV}`` references in nova.yaml. Every resolved secret is
registered here, and every writer (run store, documents, logs) passes what it writes through
``redact`` as a last line of defence: even a model that echoes its API key back does not get
that key stored.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["REDACTED", "RedactingFilter", "clear_secrets", "redact", "register_secret"]

REDACTED = "***"
_MIN_LEN = 6  # shorter values would redact ordinary words; no real key is that short
_lock = threading.Lock()
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()
"""The secrets, longest first (so a secret that contains another is masked whole); rebuilt
on change instead of sorted for every string ``redact`` looks at."""


def register_secret(value: str | None) -> None:
    """Remember a secret value so that ``redact`` removes it."""
    global _longest_first
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _secrets.add(value)
            _longest_first = tuple(sorted(_secrets, key=len, reverse=True))


def clear_secrets() -> None:
    """Forget all registered secrets (for tests)."""
    global _longest_first
    with _lock:
        _secrets.clear()
        _longest_first = ()


def redact(obj: Any) -> Any:
    """A copy of ``obj`` (str, dict, list, tuple, scalars) with every registered secret masked."""
    if not _longest_first:
        return obj
    if isinstance(obj, str):
        for s in _longest_first:
            if s in obj:
                obj = obj.replace(s, REDACTED)
        return obj
    if isinstance(obj, dict):
        return {redact(k): redact(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(redact(v) for v in obj)
    return obj


class RedactingFilter(logging.Filter):
    """Logging filter that masks registered secrets in messages and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            record.args = (
                tuple(redact(a) for a in record.args)
                if isinstance(record.args, tuple)
                else redact(record.args)
            )
        return True
