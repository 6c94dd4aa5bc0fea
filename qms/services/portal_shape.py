"""The dossier as provincial one-stop systems push it to the national public-service portal,
as typed models: the sync endpoint and the register import both read dossiers in this shape
(so a province points its existing push code here), and the OpenAPI document is generated
from the same models.

Field names are the portal's (MaHoSo, NgayTiepNhan, ...); times are `yyyyMMddHHmmss` in
local time (the display zone, Asia/Ho_Chi_Minh); unknown fields are ignored. Each dossier is
checked on its own, so one malformed dossier is refused with its reasons and the rest of
the batch goes on.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

import pydantic
from flask_babel import gettext as _
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from qms import localtime

PORTAL_TIME_FORMAT = "%Y%m%d%H%M%S"
HISTORY_MAX = 500  # a dossier's handling history; far more is not a dossier


def parse_portal_time(value: Any, info: ValidationInfo | None = None) -> datetime | None:
    """`yyyyMMddHHmmss` (local time) as an aware UTC moment; "" or null: none. The zone comes
    from the validation's context when the caller read it once for a whole batch."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip() if isinstance(value, (str, int)) else None
    try:
        if text is None or len(text) != 14 or not text.isdigit():
            raise ValueError
        # sliced, not strptime: a batch has tens of thousands of these
        local = datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                         int(text[12:]), tzinfo=_zone(info))
    except ValueError:
        raise PydanticCustomError(
            "portal_time", "Phải là thời điểm dạng yyyyMMddHHmmss (giờ Việt Nam), ví dụ 20261125083000.") from None
    return local.astimezone(UTC)


def _zone(info: ValidationInfo | None):
    given = (info.context or {}).get("zone") if info is not None else None
    return given or localtime.zone()


def format_portal_time(value: datetime | None) -> str | None:
    return None if value is None else localtime.to_local(value).strftime(PORTAL_TIME_FORMAT)


PortalTime = Annotated[
    datetime | None, BeforeValidator(parse_portal_time), PlainSerializer(format_portal_time),
    WithJsonSchema({"type": ["string", "null"], "pattern": r"^\d{14}$", "examples": ["20261125083000"],
                    "description": "yyyyMMddHHmmss, local time (Asia/Ho_Chi_Minh)."}),
]


def _code(max_length: int):
    return Annotated[str, Field(min_length=1, max_length=max_length)]


def _text(max_length: int):
    return Annotated[str, BeforeValidator(lambda v: "" if v is None else v), Field(max_length=max_length)]


def _national_number(value: Any) -> Any:
    """The portal sends its codes as numbers or as digit strings ("4"): both are taken."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


NationalNumber = Annotated[int, BeforeValidator(_national_number), Field(strict=True),
                          WithJsonSchema({"type": ["integer", "string"], "pattern": r"^\d+$"})]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True,
                              frozen=True)


class PortalHistoryEntry(_Shape):
    """One entry of the handling history (QuaTrinhXuLyHoSo)."""

    person: _text(255) = Field("", alias="NguoiXuLy", description="Who handled it.")
    at: PortalTime = Field(alias="ThoiDiemXuLy", description="When (required).")
    content: _text(4000) = Field("", alias="NoiDungXuLy", description="What was done.")
    status: NationalNumber | None = Field(None, alias="TrangThai",
                                          description="The dossier's status after it (1–10).")
    due_by_rule: PortalTime = Field(None, alias="NgayKetThucTheoQuyDinh",
                                    description="When this handling was due by the rules.")

    @model_validator(mode="after")
    def _has_time(self):
        if self.at is None:
            raise PydanticCustomError("missing_time", "ThoiDiemXuLy là bắt buộc.")
        return self

    def digest(self) -> str:
        """What identifies the entry when it is sent again (however its fields were written)."""
        due = self.due_by_rule.isoformat() if self.due_by_rule else ""
        text = "\x1f".join((self.at.isoformat(), str(self.status), self.person, self.content, due))
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class PortalDossier(_Shape):
    """A dossier in the national portal's shape. Required: MaHoSo, MaTTHC, TrangThaiHoSo,
    MaDinhDanh, ChuHoSo and the time it was received (NgayTiepNhan; NgayNopHoSo for a dossier
    still waiting to be accepted, status 1)."""

    code: _code(64) = Field(alias="MaHoSo", description="The dossier's code in the source system.",
                            examples=["000.00.22.H12-261125-0001"])
    other_code: _text(64) = Field("", alias="MaHoSoKhac")
    procedure_code: _code(32) = Field(alias="MaTTHC", description="The procedure's national code.",
                                      examples=["1.001193"])
    procedure_name: _text(1000) = Field("", alias="TenTTHC")
    field_code: _text(32) = Field("", alias="MaLinhVuc")
    channel: NationalNumber = Field(1, alias="KenhThucHien", ge=1, le=3,
                                    description="1 direct, 2 online, 3 public postal service.")
    applicant: _code(255) = Field(alias="ChuHoSo", description="The applicant's name.")
    applicant_kind: _text(32) = Field("", alias="LoaiDoiTuong")
    summary: _text(2000) = Field("", alias="TrichYeuHoSo")
    submitted_at: PortalTime = Field(None, alias="NgayNopHoSo")
    received_at: PortalTime = Field(None, alias="NgayTiepNhan")
    promised_at: PortalTime = Field(None, alias="NgayHenTra",
                                    description="The due date the source system promised.")
    supplement_requested_at: PortalTime = Field(None, alias="NgayYeuCauBoSung")
    refused_at: PortalTime = Field(None, alias="NgayTuChoi")
    processed_at: PortalTime = Field(None, alias="NgayKetThucXuLy",
                                     description="Processing finished (status 9): the dossier is "
                                                 "classified on this moment.")
    returned_at: PortalTime = Field(None, alias="NgayTra")
    return_method: _text(64) = Field("", alias="HinhThuc")
    status: NationalNumber = Field(alias="TrangThaiHoSo",
                                   description="The national status code, 1–10; another number "
                                               "needs a mapping rule of the source.")
    unit: _text(255) = Field("", alias="DonViXuLy", description="The handling unit.")
    unit_identifier: _code(64) = Field(alias="MaDinhDanh",
                                       description="The electronic identifier of the receiving unit.")
    history: list[PortalHistoryEntry] = Field([], alias="QuaTrinhXuLyHoSo", max_length=HISTORY_MAX)

    @model_validator(mode="before")
    @classmethod
    def _history_list(cls, data):
        if isinstance(data, dict) and data.get("QuaTrinhXuLyHoSo") is None and "QuaTrinhXuLyHoSo" in data:
            data = {**data, "QuaTrinhXuLyHoSo": []}
        return data

    @model_validator(mode="after")
    def _received(self):
        if self.received_at is None and not (self.status == 1 and self.submitted_at is not None):
            raise PydanticCustomError("missing_received", "NgayTiepNhan là bắt buộc (hoặc NgayNopHoSo "
                                      "với hồ sơ chờ tiếp nhận, trạng thái 1).")
        return self

    @property
    def taken_at(self) -> datetime:
        """When the time limit starts: received, or submitted while waiting at the desk."""
        return self.received_at or self.submitted_at

    def state_at(self) -> datetime:
        """The latest moment the payload names: a payload of a later state names a later one,
        so an older state never overwrites a newer."""
        moments = [self.submitted_at, self.received_at, self.supplement_requested_at, self.refused_at,
                   self.processed_at, self.returned_at, *(entry.at for entry in self.history)]
        return max(m for m in moments if m is not None)


# --- reading one dossier -----------------------------------------------------------------------
def read_dossier(raw: Any, zone=None) -> tuple[PortalDossier | None, list[dict]]:
    """One dossier of a batch: the model, or None and each problem as {field, message}.
    `zone`: the local time zone, read once by a caller reading many."""
    if not isinstance(raw, dict):
        return None, [{"field": "", "message": _("Mỗi hồ sơ phải là một đối tượng JSON.")}]
    try:
        return PortalDossier.model_validate(raw, context={"zone": zone or localtime.zone()}), []
    except pydantic.ValidationError as error:
        return None, [{"field": field_path(e["loc"]), "message": message(e)}
                      for e in error.errors(include_url=False)]


def field_path(loc: tuple) -> str:
    """('QuaTrinhXuLyHoSo', 0, 'ThoiDiemXuLy') → QuaTrinhXuLyHoSo[0].ThoiDiemXuLy"""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f"{'.' if path else ''}{part}"
    return path


def message(error: dict) -> str:
    """pydantic's error, said in the request's language."""
    kind, context = error["type"], error.get("ctx") or {}
    known = {
        "missing": _("Bắt buộc."),
        "string_type": _("Phải là một chuỗi ký tự."),
        "int_type": _("Phải là một số nguyên."),
        "int_parsing": _("Phải là một số nguyên."),
        "list_type": _("Phải là một danh sách."),
        "model_type": _("Phải là một đối tượng JSON."),
        "portal_time": _("Phải là thời điểm dạng yyyyMMddHHmmss (giờ Việt Nam), ví dụ 20261125083000."),
        "missing_time": _("ThoiDiemXuLy là bắt buộc."),
        "missing_received": _("NgayTiepNhan là bắt buộc (hoặc NgayNopHoSo với hồ sơ chờ tiếp nhận, "
                              "trạng thái 1)."),
    }
    if kind in known:
        return known[kind]
    if kind == "string_too_short":
        return _("Bắt buộc.")
    if kind == "string_too_long":
        return _("Tối đa %(n)d ký tự.", n=context.get("max_length", 0))
    if kind == "too_long":
        return _("Tối đa %(n)d phần tử.", n=context.get("max_length", 0))
    if kind in ("greater_than_equal", "less_than_equal"):
        return _("Giá trị không hợp lệ: %(v)s.", v=error.get("input"))
    return error["msg"]
