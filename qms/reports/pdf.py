"""The one PDF renderer. Every printable document goes through `render_pdf`.

xhtml2pdf's traps (DESIGN §6), handled here once:
- its default fonts draw Vietnamese letters outside Latin-1 as black boxes without any
  error: the templates declare DejaVu Sans (four faces, shipped in fonts/) by @font-face
  with relative URLs, resolved against this folder;
- decomposed marks are drawn misplaced: the HTML is normalised to NFC first;
- its default policy reads any file under the working directory (instance/, the
  database): the policy here allows this folder only and nothing remote;
- `result.err == 0` proves nothing: a character no font can draw is only a warning in
  the render log; such warnings are an error here.
"""
from __future__ import annotations

import io
import unicodedata
from pathlib import Path

from flask import render_template
from flask_babel import force_locale
from xhtml2pdf import pisa
from xhtml2pdf.files import ResourceAccessPolicy

ASSETS = Path(__file__).resolve().parent / "fonts"


class PdfError(RuntimeError):
    pass


def html_to_pdf(html: str) -> bytes:
    html = unicodedata.normalize("NFC", html)
    out = io.BytesIO()
    result = pisa.CreatePDF(
        html, dest=out, encoding="utf-8",
        path=str(ASSETS / "document.html"),  # relative URLs resolve in the assets folder
        resource_policy=ResourceAccessPolicy.server(base_dir=ASSETS, allow_remote=False),
        raise_exception=False)
    # result.log holds (level, line, message format, source fragment) for each warning.
    missing = sorted({f"no embedded font can draw a character of {entry[3]}"
                      for entry in result.log if "can draw" in str(entry[2])})
    if result.err or missing:
        raise PdfError("; ".join(missing) or f"xhtml2pdf reported {result.err} error(s)")
    return out.getvalue()


def render_pdf(template: str, **context) -> bytes:
    """Render templates/pdf/<template> to PDF bytes, always in Vietnamese: the printed forms
    and reports are official records, whatever language the user reads the pages in."""
    with force_locale("vi"):
        return html_to_pdf(render_template(template, **context))
