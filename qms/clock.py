"""The one clock the rules read. Tests freeze it; code never calls datetime.now() itself."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def frozen(at: datetime):
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
