"""The interface speaks Vietnamese by default and English on request, and the English
catalog keeps up with the source."""
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG_DIR = ROOT / "qms" / "translations" / "en" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def english():
    with open(CATALOG_DIR / "messages.po", "rb") as f:
        return read_po(f)


def test_every_source_message_has_an_english_translation(english):
    translated = {m.id: m for m in english if m.id}
    missing = sorted(m for m in source_messages() if m not in translated)
    assert not missing, "run the translation update in README.md; untranslated: " + "; ".join(missing)
    empty = sorted(m.id for m in translated.values() if not m.string or m.fuzzy)
    assert not empty, f"empty or fuzzy translations: {empty}"


def test_translations_keep_their_placeholders(english):
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message in english:
        if message.id:
            assert sorted(placeholder.findall(message.id)) == sorted(placeholder.findall(message.string)), message.id


def test_compiled_catalog_matches_the_po_file(english):
    with open(CATALOG_DIR / "messages.mo", "rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    expected = {m.id: m.string for m in english if m.id and not m.fuzzy}
    assert compiled == expected, "run `pybabel compile -d qms/translations`"


def test_vietnamese_by_default_and_english_on_request(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="vi">' in page and "Tên đăng nhập" in page
    response = client.get("/language/en", headers={"Referer": "http://localhost/auth/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/login")
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "User name" in page and "Tên đăng nhập" not in page
    client.get("/language/vi")
    assert "Tên đăng nhập" in client.get("/auth/login").get_data(as_text=True)


def test_unknown_language_is_not_found(client):
    assert client.get("/language/fr").status_code == 404
