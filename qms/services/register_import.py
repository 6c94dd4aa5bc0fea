"""The provincial system's dossier register (Sổ theo dõi hồ sơ), exported as XLSX or CSV,
taken in like the sync endpoint's batches (issue 13): each row becomes a dossier in the
national portal's shape and goes through the same upsert and held queue
(`qms.services.sync`), so importing the same file again changes nothing.

The file is read as people export it: title rows (often merged cells) above the header, the
header found by its Vietnamese headings (or named by a mapping file when they differ), dates
as `dd/mm/yyyy HH:mm`, Excel serial numbers or ISO, statuses and channels as numbers or as
their Vietnamese names. A file that is not a register is refused with what was looked for.

A mapping file (YAML) names what differs from the defaults:

    columns: {MaHoSo: "Số biên nhận", NgayTiepNhan: "Ngày nhận hồ sơ"}
    statuses: {"Chờ bổ sung": 5}
    defaults: {MaDinhDanh: "000.00.22.H12"}   # the unit, for a register of one unit
"""
from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml
from flask import current_app
from flask_babel import gettext as _

from qms import authz
from qms.errors import ValidationError
from qms.extensions import db
from qms.models import Channel, DossierStatus, ImportStatus, RegisterImport, SyncSource, User
from qms.services import sync
from qms.text import fold

# The portal field → the headings a register uses for it (compared folded: no accents, lower case)
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "MaHoSo": ("ma ho so", "so ho so", "ma so ho so", "so bien nhan", "ma bien nhan"),
    "MaTTHC": ("ma thu tuc", "ma tthc", "ma thu tuc hanh chinh", "ma thu tuc tthc"),
    "TenTTHC": ("ten thu tuc", "ten tthc", "thu tuc", "ten thu tuc hanh chinh", "thu tuc hanh chinh"),
    "MaLinhVuc": ("ma linh vuc",),
    "ChuHoSo": ("chu ho so", "nguoi nop", "nguoi nop ho so", "ten nguoi nop", "to chuc, ca nhan",
                "to chuc, ca nhan nop ho so", "ten to chuc, ca nhan"),
    "KenhThucHien": ("kenh", "kenh thuc hien", "kenh nop", "hinh thuc nop", "hinh thuc tiep nhan"),
    "TrichYeuHoSo": ("trich yeu", "trich yeu ho so", "noi dung"),
    "NgayNopHoSo": ("ngay nop", "ngay nop ho so", "thoi gian nop"),
    "NgayTiepNhan": ("ngay tiep nhan", "ngay nhan", "ngay nhan ho so", "thoi gian tiep nhan",
                     "ngay, gio tiep nhan"),
    "NgayHenTra": ("ngay hen tra", "hen tra ket qua", "ngay hen tra ket qua", "ngay, gio hen tra"),
    "NgayYeuCauBoSung": ("ngay yeu cau bo sung", "ngay bo sung"),
    "NgayTuChoi": ("ngay tu choi",),
    "NgayKetThucXuLy": ("ngay ket thuc xu ly", "ngay co ket qua", "ngay giai quyet xong",
                        "ngay hoan thanh", "ngay xu ly xong", "ngay ket thuc"),
    "NgayTra": ("ngay tra", "ngay tra ket qua", "ngay, gio tra ket qua"),
    "TrangThaiHoSo": ("trang thai", "trang thai ho so", "tinh trang", "tinh trang ho so"),
    "DonViXuLy": ("don vi xu ly", "co quan xu ly", "don vi giai quyet", "co quan giai quyet"),
    "MaDinhDanh": ("ma dinh danh", "ma don vi", "ma co quan", "ma dinh danh don vi"),
    "HinhThuc": ("hinh thuc tra ket qua", "hinh thuc nhan ket qua", "nhan ket qua"),
}
REQUIRED = ("MaHoSo", "MaTTHC", "ChuHoSo", "TrangThaiHoSo", "MaDinhDanh")
DATES = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayYeuCauBoSung", "NgayTuChoi",
         "NgayKetThucXuLy", "NgayTra")
HEADER_SEARCH_ROWS = 30  # title rows above the header: a few, never this many
BATCH = 1000
# Statuses and channels named in words: the national label and the words registers use
STATUS_WORDS = {**{fold(str(status.lazy_label)): status.national_code for status in DossierStatus},
                "moi dang ky": 1, "cho tiep nhan": 1, "da nhan": 2, "tiep nhan": 2, "tu choi": 3,
                "tu choi tiep nhan": 3, "dang xu ly": 4, "dang giai quyet": 4, "cho bo sung": 5,
                "bo sung": 5, "yeu cau bo sung": 5, "cho nghia vu tai chinh": 6, "rut ho so": 7,
                "da rut": 7, "dung xu ly": 8, "da giai quyet": 9, "da xu ly xong": 9, "co ket qua": 9,
                "cho tra ket qua": 9, "da tra": 10, "da tra ket qua": 10, "hoan thanh": 10}
CHANNEL_WORDS = {**{fold(str(channel.lazy_label)): channel.national_code for channel in Channel},
                 "truc tiep tai bo phan mot cua": 1, "qua mang": 2, "dich vu cong truc tuyen": 2,
                 "buu chinh": 3, "qua buu chinh": 3, "qua dich vu buu chinh cong ich": 3}
EXCEL_EPOCH = datetime(1899, 12, 30)
DATE_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y",
                "%H:%M %d/%m/%Y", "%H:%M:%S %d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S")


class NotARegister(ValidationError):
    """The file is not a dossier register (or cannot be read as one)."""


@dataclass
class Mapping:
    """What a mapping file changes: headings per field, status words, default values."""

    columns: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    statuses: dict[str, int] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, text: str | None) -> Mapping:
        mapping = cls()
        if not text:
            return mapping
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise ValidationError(_("Tệp ánh xạ không đọc được: %(e)s", e=error)) from None
        if not isinstance(data, dict) or set(data) - {"columns", "statuses", "defaults"}:
            raise ValidationError(_("Tệp ánh xạ chỉ có các mục columns, statuses, defaults."))
        for name, heading in (data.get("columns") or {}).items():
            if name not in DEFAULT_COLUMNS:
                raise ValidationError(_("Tệp ánh xạ: không có trường %(f)s (các trường: %(all)s).",
                                        f=name, all=", ".join(DEFAULT_COLUMNS)))
            headings = heading if isinstance(heading, list) else [heading]
            mapping.columns[name] = tuple(fold(str(h)) for h in headings)
        for word, number in (data.get("statuses") or {}).items():
            if not isinstance(number, int) or not 1 <= number <= 10:
                raise ValidationError(_("Tệp ánh xạ: trạng thái “%(w)s” phải là một số từ 1 đến 10.", w=word))
            mapping.statuses[fold(str(word))] = number
        for name, value in (data.get("defaults") or {}).items():
            if name not in DEFAULT_COLUMNS:
                raise ValidationError(_("Tệp ánh xạ: không có trường %(f)s (các trường: %(all)s).",
                                        f=name, all=", ".join(DEFAULT_COLUMNS)))
            mapping.defaults[name] = str(value)
        return mapping


# --- reading the file --------------------------------------------------------------------------
def _rows(name: str, content: bytes) -> Iterator[list]:
    """The file's rows as lists of cell values (XLSX: its first sheet; CSV: UTF-8 or
    Windows-1258/1252, comma, semicolon or tab)."""
    if name.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook  # not at start-up: it is heavy

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as error:  # a damaged or renamed file: openpyxl raises many kinds
            raise NotARegister(_("Không đọc được tệp Excel: %(e)s", e=error.__class__.__name__)) from None
        try:
            for row in workbook.worksheets[0].iter_rows(values_only=True):
                yield list(row)
        finally:
            workbook.close()
        return
    if not name.lower().endswith((".csv", ".txt")):
        raise NotARegister(_("Chỉ nhận tệp .xlsx hoặc .csv."))
    for encoding in ("utf-8-sig", "cp1258", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # cp1252 decodes almost anything; kept for completeness
        raise NotARegister(_("Không đọc được tệp CSV (mã hóa ký tự)."))
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text), dialect)


def _header(rows: Iterator[list], mapping: Mapping) -> tuple[int, dict[str, int]]:
    """The header row (its number, from 1) and the column of each field it names."""
    wanted = {heading: name for name, headings in mapping.columns.items() for heading in headings}
    for number, row in enumerate(rows, start=1):
        found = {}
        for column, cell in enumerate(row):
            name = wanted.get(fold(str(cell))) if cell not in (None, "") else None
            if name is not None and name not in found:
                found[name] = column
        if "MaHoSo" in found and len(found) >= 3:
            missing = [name for name in REQUIRED if name not in found and name not in mapping.defaults]
            if "NgayTiepNhan" not in found and "NgayNopHoSo" not in found:
                missing.append("NgayTiepNhan")
            if missing:
                raise NotARegister(_("Dòng tiêu đề (dòng %(n)d) thiếu cột: %(c)s. Đặt tên cột trong tệp ánh xạ "
                                     "nếu sổ dùng tiêu đề khác.", n=number, c=", ".join(missing)))
            return number, found
        if number >= HEADER_SEARCH_ROWS:
            break
    raise NotARegister(_("Không phải sổ theo dõi hồ sơ: không thấy dòng tiêu đề có cột “Mã hồ sơ” và các cột "
                         "khác của sổ trong %(n)d dòng đầu.", n=HEADER_SEARCH_ROWS))


def _moment(value) -> str | object:
    """A date cell as the portal's yyyyMMddHHmmss; what cannot be read is returned as it is
    (the dossier is then refused, naming the column)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, date):
        return value.strftime("%Y%m%d000000")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        moment = EXCEL_EPOCH + timedelta(days=float(value))  # an Excel serial number
        return (moment + timedelta(microseconds=500_000)).replace(microsecond=0).strftime("%Y%m%d%H%M%S")
    text = " ".join(str(value).split())
    if text.replace(".", "", 1).isdigit() and 20000 < float(text) < 80000:
        return _moment(float(text))
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).strftime("%Y%m%d%H%M%S")
        except ValueError:
            continue
    return str(value)


def _number(value, words: dict[str, int]):
    """A status or channel as its national number: a number, or its name in words."""
    if value in (None, ""):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    return words.get(fold(text), text)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code read as a number by Excel
    return " ".join(str(value).split())


def _payload(row: list, columns: dict[str, int], mapping: Mapping) -> dict:
    statuses = {**STATUS_WORDS, **mapping.statuses}
    payload = dict(mapping.defaults)
    for name, column in columns.items():
        value = row[column] if column < len(row) else None
        if name in DATES:
            value = _moment(value)
        elif name == "TrangThaiHoSo":
            value = _number(value, statuses)
        elif name == "KenhThucHien":
            value = _number(value, CHANNEL_WORDS)
        else:
            value = _text(value)
        if value not in (None, ""):
            payload[name] = value
    return payload


# --- importing ---------------------------------------------------------------------------------
@dataclass
class ImportSummary:
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        (sync.CREATED, sync.UPDATED, sync.UNCHANGED, sync.HELD, sync.REFUSED), 0))
    held: dict[str, int] = field(default_factory=dict)  # reason → dossiers
    problems: list[str] = field(default_factory=list)  # refused rows, with the row number

    def add(self, row_number: int, outcome: sync.Outcome) -> None:
        self.rows += 1
        self.counts[outcome.result] += 1
        if outcome.result == sync.HELD:
            self.held[outcome.reason] = self.held.get(outcome.reason, 0) + 1
        elif outcome.result == sync.REFUSED:
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in outcome.errors) or outcome.message
            self.problems.append(_("Dòng %(n)d (%(c)s): %(d)s", n=row_number, c=outcome.source_code or "—", d=detail))


def count_rows(name: str, content: bytes, mapping: Mapping) -> int:
    """How many dossier rows the file has below its header (for a progress bar)."""
    rows = _rows(name, content)
    _header(rows, mapping)
    return sum(1 for row in rows if any(cell not in (None, "") for cell in row))


def import_register(source: SyncSource, name: str, content: bytes, *, actor: User, now: datetime,
                    mapping: Mapping | None = None,
                    progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Take in every row of the register file, in batches of BATCH through the sync upsert.
    Flushes; the caller commits (or rolls back for a dry run). `progress(rows_done)` is
    called after each batch."""
    mapping = mapping or Mapping()
    rows = _rows(Path(name).name, content)
    header_row, columns = _header(rows, mapping)
    summary = ImportSummary()
    batch: list[tuple[int, dict]] = []

    def flush_batch():
        outcomes = sync.sync_dossiers(source, [payload for _n, payload in batch], actor=actor, now=now)
        for (number, _sent), outcome in zip(batch, outcomes, strict=True):
            summary.add(number, outcome)
        batch.clear()
        if progress is not None:
            progress(summary.rows)

    for number, row in enumerate(rows, start=header_row + 1):
        if not any(cell not in (None, "") for cell in row):
            continue  # blank lines, and the cells a sheet keeps below its data
        batch.append((number, _payload(row, columns, mapping)))
        if len(batch) >= BATCH:
            flush_batch()
    if batch:
        flush_batch()
    if summary.rows == 0:
        raise NotARegister(_("Sổ không có dòng hồ sơ nào dưới dòng tiêu đề."))
    return summary


# --- uploads on the sync page (taken in by a background worker: qms/web/admin/sync.py) ---------
UPLOAD_FOLDER = "imports"  # under the instance folder
STALLED_AFTER = timedelta(minutes=10)  # a running import not heard from since: its worker died


def upload_path(storage_name: str) -> Path:
    return Path(current_app.instance_path) / UPLOAD_FOLDER / storage_name


def start_upload(source: SyncSource, filename: str, content: bytes, *, actor: User, now: datetime,
                 mapping_text: str = "") -> RegisterImport:
    """Check the uploaded register (a file that is not one is refused now, with the reason)
    and keep it for the background import: the job, at 0 of its rows."""
    authz.require(actor, "sync.manage", message=_("Chỉ quản trị hoặc cán bộ ISO cấu hình đồng bộ."))
    name = Path(filename or "").name
    total = count_rows(name, content, Mapping.read(mapping_text))
    storage_name = secrets.token_hex(16) + Path(name).suffix.lower()
    path = upload_path(storage_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    job = RegisterImport(source=source, filename=name[:255], storage_name=storage_name, mapping=mapping_text or "",
                         uploaded_by=actor, uploaded_at=now, status=ImportStatus.running, rows_total=total,
                         progressed_at=now)
    db.session.add(job)
    db.session.flush()
    return job


def stalled(job: RegisterImport, now: datetime) -> bool:
    return job.status is ImportStatus.running and now - job.progressed_at > STALLED_AFTER
