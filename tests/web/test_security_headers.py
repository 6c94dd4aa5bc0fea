"""Security headers on every response (issue 14): a Content-Security-Policy that runs no
inline script, frames denied, nosniff, a referrer policy, and no caching of pages or files
holding personal data; the templates carry no inline script for the policy to block."""
import re
from pathlib import Path

import pytest

from tests.conftest import browser_as

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _policy(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";")
                if part.strip())


@pytest.mark.parametrize("path", ["/", "/auth/login", "/tra-cuu", "/thu-tuc/"])
def test_public_pages_carry_the_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["form-action"] == "'self'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_and_files_with_personal_data_are_not_cached(app, users):
    admin = browser_as(app, "admin")
    for path in ("/", "/dossiers/register", "/dossiers/register.xlsx", "/admin/users"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_static_assets_may_be_cached(client):
    response = client.get("/static/qms.js")
    assert response.status_code == 200 and response.headers.get("Cache-Control") != "no-store"


def test_no_template_has_inline_script():
    """Inline handlers (onclick=...) and script blocks would be refused by the policy: the
    pages' behaviour is in static/qms.js (data-confirm, data-autosubmit)."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if path.parts[-2] == "pdf":
            continue  # rendered to PDF, never served as a page
        text = path.read_text(encoding="utf-8")
        if re.search(r"\son[a-z]+\s*=", text) or re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(path.name)
    assert offenders == []
