"""Text helpers shared by search, imports and filters."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import gettext as _

from qms.errors import ValidationError


def fold(text: str) -> str:
    """Lower-case, unaccented form for search: "Đăng ký khai sinh" → "dang ky khai sinh".

    Both databases compare these the same way, so search is one LIKE on a folded column
    (LIKE is case-insensitive on SQLite only, and neither folds Vietnamese marks)."""
    text = unicodedata.normalize("NFD", text or "").replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().split())


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


# Control characters people paste without seeing them (Word's vertical tab for a manual line
# break, NUL, \x01 ...): kept they break spreadsheets (openpyxl refuses them), PDFs and
# PostgreSQL (no NUL in text). Tab, line feed and carriage return are text; a vertical tab or
# form feed is a line break; every other C0/C1 control and DEL goes, and so does a lone
# UTF-16 surrogate (JSON's "\ud800": no database can store it).
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_controls(value):
    """`value` without invisible control characters (strings only; anything else as is)."""
    if not isinstance(value, str):
        return value
    return _CONTROLS.sub("", value.translate(_LINE_BREAKS))


def strip_controls_deep(value):
    """The same through a decoded JSON document: every string, keys included."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, list):
        return [strip_controls_deep(item) for item in value]
    if isinstance(value, dict):
        return {strip_controls_deep(key): strip_controls_deep(item) for key, item in value.items()}
    return value


# --- what people type into filters ----------------------------------------------------------------
_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")  # a date input's value
_VN_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")  # 20/11/2026, as people write it


def parse_date(text: str, label: str) -> date | None:
    """A typed date, ISO or day/month/year; None when blank; a clear error otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if _ISO_DATE.match(text):
            return date(*(int(part) for part in text.split("-")))
        if _VN_DATE.match(text):
            day, month, year = (int(part) for part in text.split("/"))
            return date(year, month, day)
    except ValueError:
        pass
    raise ValidationError(_("%(label)s không hợp lệ: “%(value)s”. Hãy nhập ngày theo dạng ngày/tháng/năm, ví dụ 20/11/2026.",
                            label=label, value=text[:40]))


def parse_choice(enum_class, text: str, label: str):
    """A typed enum value; None when blank; a clear error for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return enum_class(text)
    except ValueError:
        raise ValidationError(_("%(label)s không hợp lệ: “%(value)s”.", label=label,
                                value=text[:40])) from None
