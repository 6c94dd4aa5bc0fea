"""`qms` starts quickly (issue 12): the heavy libraries that only some commands and pages
use (the PDF engine, the spreadsheet writer, the procedure files' schema) are imported
when used, not when the command line or the app starts. Checked in a fresh interpreter."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("xhtml2pdf", "reportlab", "openpyxl", "xlsxwriter", "pydantic", "pypdf")


def test_the_command_line_and_the_app_start_without_the_heavy_libraries(tmp_path):
    script = (
        "import sys\n"
        "from qms.commands import cli\n"
        "from qms import create_app\n"
        "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'SECRET_KEY': 'x'})\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={"QMS_INSTANCE_PATH": str(tmp_path), "PATH": ""}, check=True)
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
