"""`qms report monthly`: a department's monthly compliance report as PDF or XLSX."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from qms import clock
from qms.commands import cli, handle_errors
from qms.errors import ValidationError
from qms.extensions import db
from qms.reports import monthly as report
from qms.services import monthly_reviews


@cli.group("report")
def report_group():
    """Reports exported to files."""


def _check_writable(out: Path) -> Path:
    """The output file's folder must exist and be writable; refuse a folder as the file."""
    out = out.expanduser()
    if out.is_dir():
        raise click.ClickException(_("%(p)s là một thư mục; hãy ghi tên tệp, ví dụ %(e)s.",
                                     p=str(out), e=str(out / "bao-cao.pdf")))
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise click.ClickException(_("Không có thư mục %(p)s.", p=str(folder)))
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise click.ClickException(_("Không ghi được vào %(p)s (không có quyền ghi).", p=str(out)))
    return out


def _write_atomically(out: Path, data: bytes) -> None:
    """Write beside the target then rename: a failed export leaves no half-written file."""
    try:
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".qms-", suffix=out.suffix)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, out)
    except OSError as error:
        raise click.ClickException(_("Không ghi được %(p)s: %(e)s", p=str(out), e=error.strerror or str(error))) \
            from None


@report_group.command("monthly")
@click.option("--department", "department_code", required=True, metavar="CODE",
              help="The department's code, e.g. A-MC.")
@click.option("--month", "month_text", required=True, metavar="YYYY-MM", help="The month, e.g. 2026-10.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx"]), default="pdf", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="FILE",
              help="The file to write.")
@with_appcontext
@handle_errors(writes=False)
def monthly(department_code: str, month_text: str, fmt: str, out: Path):
    """Write the monthly compliance report of a department: the signed snapshot when the
    month is signed, otherwise the live figures. Shows progress over the rows written."""
    now = clock.now()
    out = _check_writable(out)
    department = monthly_reviews.department_by_code(department_code)
    month = monthly_reviews.parse_month(month_text)
    if not monthly_reviews.has_begun(month, now):
        raise ValidationError(_("Tháng %(m)s chưa bắt đầu.", m=monthly_reviews.month_label(month)))
    click.echo(_("Đang tổng hợp số liệu tháng %(m)s của %(d)s…", m=monthly_reviews.month_label(month),
                 d=department.name), err=True)
    context = report.report_context(department, month, now)
    writer = report.monthly_pdf if fmt == "pdf" else report.monthly_xlsx
    with click.progressbar(length=report.row_count(context, fmt), label=_("Đang ghi báo cáo"),
                           file=sys.stderr) as bar:
        data = writer(context, progress=bar.update)
    _write_atomically(out, data)
    state = _("đã ký") if context["signed"] else _("chưa ký, số liệu trực tiếp")
    click.echo(_("Đã ghi %(p)s (%(n)s byte; %(s)s).", p=str(out), n=f"{len(data):,}".replace(",", "."), s=state))


@cli.command("rollup")
@click.option("--rebuild", is_flag=True, help="Recount every ended month from the records, not only those not frozen yet.")
@click.option("--month", "month_text", metavar="YYYY-MM", help="Only this ended month (recounted).")
@with_appcontext
@handle_errors(writes=False)
def rollup(rebuild: bool, month_text: str | None):
    """Freeze the ended months' counts per department into the monthly rollup that
    dashboards, trends, objectives and rankings read (run daily from cron, after midnight)."""
    from qms.services import rollups
    from qms.transactions import writing

    now = clock.now()
    if month_text:
        months = [monthly_reviews.parse_month(month_text)]
    else:
        months = rollups.months_to_freeze(now, rebuild=rebuild)
    if not months:
        click.echo(_("Không có tháng nào cần tổng hợp."))
        return
    for month in months:
        started = time.perf_counter()
        counts = rollups.count_month(month, now)
        db.session.rollback()  # read without SQLite's write lock, then write briefly
        with writing():
            rollups.store(counts, now)
            db.session.commit()
        click.echo(_("Tháng %(m)s: %(n)d phòng ban, %(s).1f giây.", m=monthly_reviews.month_label(month),
                     n=len(counts.departments), s=time.perf_counter() - started))
