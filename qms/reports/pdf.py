"""The one PDF renderer. Every printable document goes through `render_pdf`.

xhtml2pdf's traps (DESIGN §6), handled here once:
- its default fonts draw Vietnamese letters outside Latin-1 as black boxes without any
  error: the templates declare DejaVu Sans (four faces, shipped in fonts/) by @font-face
  with relative URLs, resolved against this folder;
- decomposed marks are drawn misplaced: the HTML is normalised to NFC first;
- its default policy reads any file under the working directory (instance/, the
  database): the policy here allows this folder only and nothing remote;
- `result.err == 0` proves nothing: a character no font can draw is only a warning in
  the render log; such warnings are an error here. So that stored text can never make a
  document fail (an applicant's name in Chinese, a review comment with a Thai word), what
  the embedded faces cannot draw is replaced before rendering (`drawable_text`) and logged.
"""
from __future__ import annotations

import functools
import io
import logging
import unicodedata
from pathlib import Path

from flask import render_template
from flask_babel import force_locale

ASSETS = Path(__file__).resolve().parent / "fonts"


# U+FFFD REPLACEMENT CHARACTER: Unicode's own sign for "cannot be shown here".
PLACEHOLDER = "\ufffd"
log = logging.getLogger(__name__)


class PdfError(RuntimeError):
    pass


@functools.cache
def drawable() -> frozenset[int]:
    """The code points that every embedded face draws (bold and italic text included)."""
    from reportlab.pdfbase.ttfonts import TTFontFile  # imported when used: `qms` starts faster

    faces = [set(TTFontFile(str(path)).charToGlyph) for path in ASSETS.glob("*.ttf")]
    return frozenset(set.intersection(*faces))


def _substitute(char: str, can: frozenset[int]) -> str:
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):  # a variation selector, a joiner
        return ""
    folded = unicodedata.normalize("NFKC", char)  # full-width "Ａ" is "A"
    return folded if all(ord(c) in can for c in folded) else PLACEHOLDER


def drawable_text(html: str) -> str:
    """`html` with every character no embedded face can draw replaced: by its compatibility
    form where that is drawable, else by PLACEHOLDER; each replacement is logged."""
    can = drawable()
    missing = {char for char in set(html) if ord(char) >= 0x20 and ord(char) not in can}
    if not missing:
        return html
    table = {ord(char): _substitute(char, can) for char in missing}
    log.warning("PDF: no embedded font draws %s; replaced",
                ", ".join(f"U+{ord(c):04X}" for c in sorted(missing)))
    return html.translate(table)


def html_to_pdf(html: str) -> bytes:
    from xhtml2pdf import pisa  # imported when used (0.4 s): `qms` starts faster
    from xhtml2pdf.files import ResourceAccessPolicy

    html = drawable_text(unicodedata.normalize("NFC", html))
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


def render_pdf_after_commit(template: str, **context) -> bytes | None:
    """render_pdf for a page that shows a result already committed (the receipt with its
    one-time lookup secret): a failure is logged and None returned, so that the page,
    and the result on it, is shown all the same."""
    try:
        return render_pdf(template, **context)
    except Exception:  # any failure: the committed result must still reach the user
        log.exception("PDF %s failed after the commit; the page is shown without it", template)
        return None
