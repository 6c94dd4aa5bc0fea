"""The monthly compliance report of a department (báo cáo kết quả giải quyết hồ sơ tháng):
as PDF (templates/pdf/monthly_report.html, always Vietnamese, with bar charts drawn as
HTML tables, the signature block and page numbers) and as XLSX (openpyxl, write-only;
sheets: summary, late dossiers, steps; every user-typed text through safe_text).

Both read `report_context`: a signed review's frozen snapshot, else the live figures.
`progress(n)` callbacks report rows written, for the command line's progress bar."""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, timedelta

from flask_babel import gettext as _

from qms.localtime import start_of_day, to_local
from qms.models import Department, MonthlyReviewStatus
from qms.reports.pdf import render_pdf
from qms.reports.xlsx import safe_text
from qms.services import monthly_reviews as reviews
from qms.services.register import local_naive

# Rows of each list printed in the PDF, which must render in ≤ 2 s: xhtml2pdf lays out
# everything twice (the "page x / y" footer needs two passes) and a bordered table cell
# costs ~2 ms, so the lists print as lines (~1 ms a row) and the step table (sorted worst
# first) its first rows; the spreadsheet and the page list them all (up to the snapshot's
# limit).
PDF_LIST_LIMIT = 100
PDF_STEP_ROWS = 30
DATE_FORMAT = "dd/mm/yyyy hh:mm"

Progress = Callable[[int], None]


def _none(_count: int) -> None:
    pass


def _revive(items: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Snapshot lists keep times as ISO text; give them back as datetimes."""
    revived = []
    for item in items:
        item = dict(item)
        for key in keys:
            if isinstance(item.get(key), str):
                item[key] = datetime.fromisoformat(item[key])
        revived.append(item)
    return revived


def report_context(department: Department, month: date, now: datetime) -> dict:
    """What both exports print: the department, the month, the review (or None), the
    figures (frozen when signed), the differences from the live figures (signed only)."""
    review = reviews.get_review(department, month)
    figures = reviews.figures_of(review, department, month, now)
    signed = review is not None and review.status is MonthlyReviewStatus.signed
    read_at = datetime.fromisoformat(figures["read_at"])
    end = reviews.metrics.month_bounds(month)[1]
    return {
        "department": department, "agency": department.agency, "month": month,
        "month_label": reviews.month_label(month), "review": review, "signed": signed,
        "figures": figures,
        "read_at": read_at,
        # read at the month's end: "to the end of its last day", else the moment
        "whole_month": read_at >= start_of_day(end),
        "last_day": end - timedelta(days=1),
        # Snapshots signed while processed and returned were one moment name it returned_at.
        "late_dossiers": _revive([{"processed_at": item.get("returned_at"), **item}
                                  for item in figures["late_dossiers"]],
                                 ("received_at", "due_at", "processed_at")),
        "late_steps": _revive(figures["late_steps"], ("handed_over_at", "due_at", "completed_at")),
        "differences": reviews.compare(review, now) if signed else None,
        "now": now,
    }


def row_count(context: dict, fmt: str = "xlsx") -> int:
    """The rows an export writes (for a progress bar's length)."""
    figures = context["figures"]
    lists = [context["late_dossiers"], context["late_steps"]]
    step_rows = len(figures["steps"]["rows"])
    if fmt == "pdf":
        lists = [items[:PDF_LIST_LIMIT] for items in lists]
        step_rows = min(step_rows, PDF_STEP_ROWS)
    return sum(len(items) for items in lists) + step_rows + len(reviews.DOSSIER_LABELS)


# --- PDF ------------------------------------------------------------------------------------------
# The chart's bars: figure key, colour; their labels are monthly_reviews.BAR_LABELS (the PDF,
# a record, renders them in Vietnamese: render_pdf forces the locale).
BARS = (("early", "#2e7d32"), ("on_time", "#66bb6a"), ("late", "#c62828"),
        ("in_progress_within", "#1565c0"), ("in_progress_overdue", "#ef6c00"), ("paused", "#9e9e9e"))


def bars(figures: dict, labels: dict = reviews.BAR_LABELS) -> list[dict]:
    """The bars of the chart: the resolved dossiers by timeliness and the dossiers open at
    the month's end, each as a share of the largest value (HTML widths, in %)."""
    d = figures["dossiers"]
    top = max((d[key] for key, _colour in BARS), default=0) or 1
    return [{"key": key, "label": labels[key], "value": d[key], "colour": colour,
             "width": max(1, round(70 * d[key] / top)) if d[key] else 0} for key, colour in BARS]


def _step_bars(figures: dict, limit: int = 10) -> list[dict]:
    rows = [r for r in figures["steps"]["rows"] if r["late"] or r["overdue_open"]][:limit]
    top = max((r["late"] + r["overdue_open"] for r in rows), default=0) or 1
    return [{"label": f"{r['procedure_code']} · {r['position']}. {r['name']}", "late": r["late"],
             "overdue": r["overdue_open"], "late_width": round(60 * r["late"] / top),
             "overdue_width": round(60 * r["overdue_open"] / top)} for r in rows]


def monthly_pdf(context: dict, progress: Progress = _none) -> bytes:
    """The report as PDF bytes; long lists are cut into tables of PDF_CHUNK rows."""
    late, steps = context["late_dossiers"][:PDF_LIST_LIMIT], context["late_steps"][:PDF_LIST_LIMIT]
    progress(len(late) + len(steps))
    step_rows = context["figures"]["steps"]["rows"][:PDF_STEP_ROWS]
    progress(len(step_rows) + len(reviews.DOSSIER_LABELS))
    return render_pdf("pdf/monthly_report.html", **{**context, "late_dossiers": late, "late_steps": steps},
                      step_rows=step_rows, step_rows_limit=PDF_STEP_ROWS, bars=bars(context["figures"]),
                      step_bars=_step_bars(context["figures"]))


# --- XLSX -----------------------------------------------------------------------------------------
def _number(value):
    return "" if value is None else value


def monthly_xlsx(context: dict, progress: Progress = _none) -> bytes:
    """The report as .xlsx bytes: "Tổng hợp" (figures, objectives, quality, the head's
    comments and actions, the signature), "Hồ sơ trễ hạn", "Các bước xử lý"."""
    from openpyxl import Workbook  # imported when used: `qms` starts faster
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    figures, department = context["figures"], context["department"]
    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet(title: str, widths: tuple[int, ...]):
        ws = book.create_sheet(title[:31])
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        return ws

    def cell(ws, value, *, font=None, number_format=None):
        c = WriteOnlyCell(ws, value=value)
        if font:
            c.font = font
        if number_format:
            c.number_format = number_format
        return c

    def moment(ws, value):
        return cell(ws, local_naive(value), number_format=DATE_FORMAT) if value else ""

    summary = sheet(_("Tổng hợp"), (52, 18, 18, 18))
    summary.append([cell(summary, _("BÁO CÁO XEM XÉT TUÂN THỦ THÁNG %(m)s", m=context["month_label"]), font=bold)])
    summary.append([safe_text(context["agency"].name)])
    summary.append([safe_text(f"{department.code} — {department.name}")])
    if context["whole_month"]:
        summary.append([_("Số liệu tính đến hết ngày %(d)s", d=context["last_day"].strftime("%d/%m/%Y"))])
    else:
        summary.append([_("Số liệu tính đến %(t)s", t=to_local(context["read_at"])
                          .strftime("%H:%M %d/%m/%Y"))])
    review = context["review"]
    if context["signed"]:
        summary.append([_("Đã ký: %(n)s, lúc %(t)s", n=safe_text(review.signed_by.full_name),
                          t=to_local(review.signed_at).strftime("%d/%m/%Y %H:%M"))])
    else:
        summary.append([_("Chưa ký (số liệu trực tiếp từ hồ sơ)")])
    summary.append([])
    summary.append([cell(summary, _("Chỉ tiêu"), font=bold), cell(summary, _("Giá trị"), font=bold)])
    for key, label in reviews.DOSSIER_LABELS.items():
        summary.append([str(label), _number(figures["dossiers"].get(key))])
    progress(len(reviews.DOSSIER_LABELS))
    for key, label in reviews.STEP_LABELS.items():
        summary.append([str(label), _number(figures["steps"]["totals"].get(key))])
    for key, label in reviews.QUALITY_LABELS.items():
        summary.append([str(label), _number(figures["quality"].get(key))])
    if figures["objectives"]:
        summary.append([])
        summary.append([cell(summary, _("Mục tiêu chất lượng năm %(y)s", y=context["month"].year), font=bold),
                        cell(summary, _("Chỉ tiêu"), font=bold), cell(summary, _("Thực hiện"), font=bold),
                        cell(summary, _("Kết quả"), font=bold)])
        for objective in figures["objectives"]:
            sign = "≥" if objective["comparison"] == "at_least" else "≤"
            met = {True: _("Đạt"), False: _("Không đạt"), None: _("Chưa có số liệu")}[objective["met"]]
            summary.append([safe_text(objective["title"]), f"{sign} {objective['target']:g}",
                            _number(objective["measured"]), met])
    summary.append([])
    summary.append([cell(summary, _("Nhận xét"), font=bold)])
    summary.append([safe_text(review.comments if review else "")])
    summary.append([cell(summary, _("Biện pháp, hành động"), font=bold)])
    summary.append([safe_text(review.actions if review else "")])

    late = sheet(_("Hồ sơ trễ hạn"), (6, 22, 12, 36, 26, 17, 17, 17, 18))
    late.append([cell(late, str(title), font=bold) for title in (
        _("STT"), _("Mã hồ sơ"), _("Mã thủ tục"), _("Tên thủ tục"), _("Người nộp"), _("Ngày nhận"),
        _("Hạn trả"), _("Giải quyết xong"), _("Tình trạng"))])
    for number, item in enumerate(context["late_dossiers"], start=1):
        late.append([number, item["code"], safe_text(item["procedure_code"]),
                     safe_text(item["procedure_name"]), safe_text(item["applicant_name"]),
                     moment(late, item["received_at"]), moment(late, item["due_at"]),
                     moment(late, item["processed_at"]), str(reviews.STATE_LABELS[item["state"]])])
        progress(1)
    if figures["late_dossiers_total"] > len(context["late_dossiers"]):
        late.append([_("Chỉ liệt kê %(n)s hồ sơ đầu trong tổng số %(t)s.", n=len(context["late_dossiers"]),
                       t=figures["late_dossiers_total"])])

    steps = sheet(_("Các bước xử lý"), (12, 8, 40, 14, 12, 12, 14, 14))
    steps.append([cell(steps, str(title), font=bold) for title in (
        _("Mã thủ tục"), _("Bước"), _("Tên bước"), _("Hoàn thành"), _("Quá hạn"), _("Tỷ lệ đúng hạn (%)"),
        _("Đang quá hạn"))])
    for row in figures["steps"]["rows"]:
        steps.append([safe_text(row["procedure_code"]), row["position"], safe_text(row["name"]),
                      row["completed"], row["late"], _number(row["on_time_rate"]), row["overdue_open"]])
        progress(1)
    steps.append([])
    steps.append([cell(steps, str(title), font=bold) for title in (
        _("Mã hồ sơ"), _("Bước"), _("Tên bước"), _("Phòng ban"), _("Giao lúc"), _("Hạn"), _("Hoàn thành lúc"),
        _("Tình trạng"))])
    for item in context["late_steps"]:
        steps.append([item["code"], item["position"], safe_text(item["name"]), safe_text(item["department"]),
                      moment(steps, item["handed_over_at"]), moment(steps, item["due_at"]),
                      moment(steps, item["completed_at"]), str(reviews.STEP_STATE_LABELS[item["state"]])])
        progress(1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(department: Department, month: date, extension: str) -> str:
    return f"xem-xet-thang-{department.code}-{month:%Y-%m}.{extension}"
