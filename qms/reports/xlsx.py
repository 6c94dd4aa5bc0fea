"""Spreadsheet helpers shared by every export."""
from __future__ import annotations

from qms.text import strip_controls

# A text cell starting with one of these is run as a formula when someone edits it in Excel
# or LibreOffice ("formula injection", OWASP): such text is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value):
    """The value to write for user-typed text: without control characters a spreadsheet
    cannot hold (text stored before input was cleaned), and never starting a formula."""
    value = strip_controls(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
