"""The clauses of ISO 9001:2015 (TCVN ISO 9001:2015), 4 to 10, as shipped data
(procedures_iso/iso9001_2015_clauses.yaml): the audit checklist is generated from them, and
nonconformities cite them."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from qms import resource_folder
from qms.text import nfc

CLAUSES_FILE = "iso9001_2015_clauses.yaml"
_INDENT = "\u00a0\u00a0"  # no-break spaces: a select keeps them


@dataclass(frozen=True)
class Clause:
    number: str  # "8.5.1"
    title_vi: str  # the TCVN title
    title_en: str  # the ISO title
    # The standard numbers the sub-clause without a heading (9.2.1): the titles describe it.
    untitled: bool = False

    @property
    def level(self) -> int:
        return self.number.count(".") + 1

    def title(self, language: str = "vi") -> str:
        return self.title_en if language == "en" else self.title_vi

    def within(self, number: str) -> bool:
        """This clause is `number` or one of its sub-clauses ("8.5" → 8.5.1, not 8.50)."""
        return self.number == number or self.number.startswith(f"{number}.")


def _path() -> Path:
    return Path(resource_folder("procedures_iso")) / CLAUSES_FILE


@functools.cache
def _load() -> tuple[tuple[Clause, ...], dict[str, Clause]]:
    data = yaml.safe_load(_path().read_text(encoding="utf-8"))
    clauses = tuple(
        Clause(number=str(row["number"]).strip(), title_vi=nfc(str(row["vi"]).strip()),
               title_en=str(row["en"]).strip(), untitled=bool(row.get("untitled", False)))
        for row in data["clauses"])
    return clauses, {c.number: c for c in clauses}


def all_clauses() -> list[Clause]:
    """Every clause, 4 … 10.3, in the order of the standard."""
    return list(_load()[0])


def get(number: str | None) -> Clause | None:
    return _load()[1].get((number or "").strip())


def in_scope(numbers) -> list[Clause]:
    """The clauses selected by `numbers`, in the order of the standard: each number selects
    itself and its sub-clauses ("8.5" → 8.5, 8.5.1 … 8.5.6, never 8.50). Unknown numbers
    select nothing."""
    wanted = [n.strip() for n in numbers or () if n and n.strip()]
    return [c for c in _load()[0] if any(c.within(n) for n in wanted)]


def _language() -> str:
    try:
        from flask_babel import get_locale

        locale = get_locale()
    except Exception:  # outside an application or request context
        locale = None
    return locale.language if locale is not None else "vi"


def label(number: str | None) -> str:
    """"8.5.1 Kiểm soát sản xuất và cung cấp dịch vụ" in the current language; a number the
    list does not know is shown as it is."""
    number = (number or "").strip()
    clause = get(number)
    return f"{clause.number} {clause.title(_language())}" if clause else number


def choices(*, blank: str = "") -> list[tuple[str, str]]:
    """(number, label) pairs for a select field, indented by level, in document order."""
    language = _language()
    pairs = [("", blank)] if blank else []
    pairs += [(c.number, f"{_INDENT * (c.level - 1)}{c.number} {c.title(language)}")
              for c in _load()[0]]
    return pairs
