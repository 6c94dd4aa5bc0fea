"""Text helpers shared by search and imports."""
from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case, unaccented form for search: "Đăng ký khai sinh" → "dang ky khai sinh".

    Both databases compare these the same way, so search is one LIKE on a folded column
    (LIKE is case-insensitive on SQLite only, and neither folds Vietnamese marks)."""
    text = unicodedata.normalize("NFD", text or "").replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().split())


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")
