"""The dossier register (sổ theo dõi hồ sơ, Mẫu 07) as a spreadsheet. XlsxWriter in
constant-memory mode writes it row by row into a temporary file, which the response then
streams: memory stays flat however many rows are exported, and the labels are translated
once per export, not once per cell (issue 12: ≥ 10,000 rows/s, bench/province.py)."""
from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from qms import localtime
from qms.models import Agency, DossierStatus
from qms.reports.xlsx import safe_text
from qms.services import register as register_service

COLUMNS = ((_l("STT"), 6), (_l("Mã hồ sơ"), 20), (_l("Tên thủ tục hành chính"), 40),
           (_l("Người nộp hồ sơ"), 24), (_l("Địa chỉ"), 30), (_l("Số điện thoại"), 14),
           (_l("Kênh tiếp nhận"), 14), (_l("Ngày nhận"), 17), (_l("Ngày hẹn trả"), 17),
           (_l("Giải quyết xong"), 17), (_l("Ngày trả kết quả"), 17), (_l("Trạng thái"), 20), (_l("Tình trạng hạn"), 16),
           (_l("Ghi chú"), 40))
DATE_FORMAT = "dd/mm/yyyy hh:mm"
FIRST_ROW = 5  # after the title block and the headers (0-based)


def register_workbook(rows: Iterable[tuple], *, agency: Agency, now: datetime, limit: int,
                      channel_labels: dict, timeliness_labels: dict) -> IO[bytes]:
    """The .xlsx as a temporary file, rewound: a title block, the column headers, one row
    per (dossier row, remarks) of register.export_rows (at most `limit`; give one row more
    to have the cut noted at the end)."""
    import xlsxwriter  # imported when used: `qms` starts faster

    out = tempfile.TemporaryFile()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet(_("Sổ theo dõi hồ sơ")[:31])
    bold = book.add_format({"bold": True})
    when = book.add_format({"num_format": DATE_FORMAT})
    for index, (_title, width) in enumerate(COLUMNS):
        sheet.set_column(index, index, width)
    sheet.write(0, 0, _("SỔ THEO DÕI HỒ SƠ"), bold)
    sheet.write(1, 0, agency.name)
    sheet.write(2, 0, _("Xuất lúc %(t)s", t=register_service.local_time_text(now)))
    sheet.write_row(4, 0, [str(title) for title, _width in COLUMNS], bold)
    # translated once: a lazy label costs a catalogue look-up each time it is read
    channels = {key: str(label) for key, label in channel_labels.items()}
    statuses = {status: status.label for status in DossierStatus}
    timeliness = {key: str(label) for key, label in timeliness_labels.items()}
    zone = localtime.zone()
    row = FIRST_ROW
    for written, (dossier, remarks) in enumerate(rows, start=1):
        if written > limit:
            sheet.write(row + 1, 0, _("Chỉ xuất %(n)s dòng đầu; hãy thu hẹp bộ lọc để xuất phần còn lại.",
                                      n=f"{limit:,}".replace(",", ".")))
            break
        sheet.write_row(row, 0, (written, dossier.code, dossier.procedure_name,
                                 safe_text(dossier.applicant_name), safe_text(dossier.applicant_address),
                                 safe_text(dossier.applicant_phone), channels[dossier.channel.value]))
        for column, moment in enumerate((dossier.received_at, dossier.due_at, dossier.processed_at,
                                         dossier.returned_at), start=7):
            if moment is not None:
                sheet.write_datetime(row, column, moment.astimezone(zone).replace(tzinfo=None), when)
        sheet.write_row(row, 11, (statuses[dossier.status], timeliness.get(dossier.timeliness, ""),
                                  safe_text(remarks)))
        row += 1
    book.close()
    out.seek(0)
    return out
