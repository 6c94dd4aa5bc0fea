"""The dossier register (sổ theo dõi hồ sơ, Mẫu 07) as a spreadsheet, written row by row
in openpyxl's write-only mode so memory stays flat however many rows are exported."""
from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from qms.models import Agency, Dossier
from qms.reports.xlsx import safe_text
from qms.services import register as register_service

COLUMNS = ((_l("STT"), 6), (_l("Mã hồ sơ"), 20), (_l("Tên thủ tục hành chính"), 40),
           (_l("Người nộp hồ sơ"), 24), (_l("Địa chỉ"), 30), (_l("Số điện thoại"), 14),
           (_l("Kênh tiếp nhận"), 14), (_l("Ngày nhận"), 17), (_l("Ngày hẹn trả"), 17),
           (_l("Giải quyết xong"), 17), (_l("Ngày trả kết quả"), 17), (_l("Trạng thái"), 20), (_l("Tình trạng hạn"), 16),
           (_l("Ghi chú"), 40))
DATE_FORMAT = "dd/mm/yyyy hh:mm"


def register_workbook(rows: Iterable[Dossier], *, agency: Agency, now: datetime, limit: int,
                      channel_labels: dict, timeliness_labels: dict) -> bytes:
    """The .xlsx bytes: a title block, the column headers, one row per dossier (at most
    `limit`; give one row more to have the cut noted at the end)."""
    from openpyxl import Workbook  # imported when used: `qms` starts faster
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Sổ theo dõi hồ sơ")[:31])
    for index, (_title, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)

    def cell(value, *, font=None, number_format=None):
        c = WriteOnlyCell(sheet, value=value)
        if font:
            c.font = font
        if number_format:
            c.number_format = number_format
        return c

    def moment(value):
        return cell(register_service.local_naive(value), number_format=DATE_FORMAT)

    sheet.append([cell(_("SỔ THEO DÕI HỒ SƠ"), font=bold)])
    sheet.append([agency.name])
    sheet.append([_("Xuất lúc %(t)s", t=register_service.local_time_text(now))])
    sheet.append([])
    sheet.append([cell(str(title), font=bold) for title, _width in COLUMNS])
    written = 0
    for dossier in rows:
        if written == limit:
            sheet.append([])
            sheet.append([_("Chỉ xuất %(n)s dòng đầu; hãy thu hẹp bộ lọc để xuất phần còn lại.",
                            n=f"{limit:,}".replace(",", "."))])
            break
        written += 1
        timeliness = register_service.timeliness_of(dossier)
        sheet.append([
            written, dossier.code, dossier.procedure.name, safe_text(dossier.applicant_name),
            safe_text(dossier.applicant_address), safe_text(dossier.applicant_phone),
            str(channel_labels[dossier.channel.value]),
            moment(dossier.received_at), moment(dossier.due_at),
            moment(dossier.processed_at), moment(dossier.returned_at),
            dossier.status.label, str(timeliness_labels.get(timeliness, "")),
            safe_text(register_service.note_of(dossier))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
