"""The JSON bodies the API v1 takes, as typed models (pydantic): one definition checks a
request and gives its OpenAPI schema (qms/web/api/openapi.py), so the two cannot drift.

Each problem of a body is reported on its field, in the request's language, all at once:
{"field": "applicant.phone", "message": "Tối đa 32 ký tự."}.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from qms.models import Channel, ResultDelivery

COMPONENT_MAX, COMPONENTS_MAX = 500, 200


def _text(max_length: int, *, required: bool = False, **extra):
    """A string, stripped before its length is checked; null is the same as "" (left empty)."""
    return Annotated[str, BeforeValidator(lambda v: "" if v is None else v),
                     StringConstraints(strip_whitespace=True, max_length=max_length, min_length=1 if required else 0),
                     Field(**extra)]


def _email(value: str) -> str:
    if value:
        try:  # the same check as the desk's form (wtforms Email uses email-validator)
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            raise PydanticCustomError("email", "email") from None
    return value


def _components(value: Any) -> list[str]:
    """Names of the components received: a list of strings, each at most COMPONENT_MAX long."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise PydanticCustomError("components", "components")
    if len(value) > COMPONENTS_MAX:
        raise PydanticCustomError("components_count", "components_count")
    if any(len(c.strip()) > COMPONENT_MAX for c in value):
        raise PydanticCustomError("component_length", "component_length")
    return [c.strip() for c in value if c.strip()]


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 time with its offset (e.g. 2026-11-25T08:30:00+07:00), or null."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise PydanticCustomError("iso_moment", "iso_moment")
    return moment


Components = Annotated[list[str], BeforeValidator(_components),
                       WithJsonSchema({"type": "array", "maxItems": COMPONENTS_MAX,
                                       "items": {"type": "string", "maxLength": COMPONENT_MAX},
                                       "description": "Names of the dossier components received."})]
Moment = Annotated[datetime | None, BeforeValidator(_moment),
                   WithJsonSchema({"type": ["string", "null"], "format": "date-time",
                                   "description": "ISO 8601 with its offset, e.g. 2026-11-25T08:30:00+07:00."})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicant(_Body):
    name: _text(255, required=True)
    id_number: _text(32, description="Số định danh cá nhân / CCCD.") = ""
    phone: _text(32) = ""
    address: _text(500) = ""
    email: Annotated[_text(255), AfterValidator(_email)] = ""


class ReceiveRequest(_Body):
    """A dossier handed over by the portal, received at the token user's one-stop office."""

    procedure_code: _text(32, required=True, description="The national procedure code (mã TTHC).",
                          examples=["1.001193"])
    case: _text(48, description="The key of a case of the procedure (its own limit and process); "
                                "left out: the main case.") = ""
    processing_agency_code: _text(32, description="The agency competent to process it, when not the "
                                                  "receiving one (same province and level).") = ""
    applicant: Applicant
    channel: Literal["direct", "online", "postal"] = "online"
    components: Components = []
    return_method: _text(64, description="How the applicant gets the result.") = ""

    def service_args(self) -> dict:
        """The keyword arguments of services.dossiers.receive_dossier (and the two codes)."""
        return {"procedure_code": self.procedure_code, "case_key": self.case,
                "processing_agency_code": self.processing_agency_code, "channel": Channel(self.channel),
                **{f"applicant_{key}": value for key, value in self.applicant.model_dump().items()},
                "components": list(self.components), "return_method": self.return_method}


class OnlineRequest(_Body):
    """A dossier submitted on the portal, with its national code, for the desk's intake queue."""

    code: _text(48, required=True, description="The national dossier code, kept as issued.")
    registered_at: Moment = Field(None, description="When it was submitted (default: now).")
    procedure_code: _text(32, required=True, description="The national procedure code (mã TTHC).")
    case: _text(48, description="A case of the procedure, by key.") = ""
    applicant: Applicant
    components: Components = []
    return_method: _text(64) = ""

    def service_args(self) -> dict:
        return {"procedure_code": self.procedure_code, "case_key": self.case, "code": self.code,
                "registered_at": self.registered_at,
                **{f"applicant_{key}": value for key, value in self.applicant.model_dump().items()},
                "components": list(self.components), "return_method": self.return_method}


class CompleteRequest(_Body):
    note: _text(2000) = ""
    result: _text(500, description='What the step produced, e.g. "Đủ điều kiện".') = ""
    next_department_code: _text(32, description=(
        "The department (of the dossier's agency) that gets the next step. Needed unless the next "
        "step is the one-stop office's, or the next step was sent back from a department (it goes "
        "back there), or this is the last step.")) = ""


class ReturnRequest(_Body):
    via: Literal["desk", "postal", "online"] = Field("desk", description="How the applicant got the result.")
    note: _text(2000) = ""

    def service_args(self) -> dict:
        return {"via": ResultDelivery(self.via), "note": self.note}


REQUESTS = (ReceiveRequest, OnlineRequest, CompleteRequest, ReturnRequest)


# --- problems, said plainly -------------------------------------------------------------------
def problems(error: pydantic.ValidationError) -> list[dict]:
    """Each problem as {field, message}, one per field (a list's items report on the list)."""
    found: dict[str, str] = {}
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if isinstance(part, str)]
        field = ".".join(loc)
        if field not in found:
            found[field] = _message(field, item)
    return [{"field": field, "message": message} for field, message in found.items()]


def _message(field: str, error: dict) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if field == "applicant" and kind in ("missing", "model_type"):
        return _("Bắt buộc, là một đối tượng (name, id_number, phone, address, email).")
    if kind == "literal_error":  # "'direct', 'online' or 'postal'", in the order declared
        return _("Một trong: %(v)s.", v=", ".join(re.findall(r"'([^']*)'", str(context.get("expected", "")))))
    return {
        "missing": _("Bắt buộc."),
        "string_too_short": _("Bắt buộc."),
        "string_type": _("Phải là một chuỗi ký tự."),
        "extra_forbidden": _("Trường không được hỗ trợ."),
        "email": _("Địa chỉ thư điện tử không hợp lệ."),
        "components": _("Phải là một danh sách tên thành phần hồ sơ (chuỗi)."),
        "components_count": _("Tối đa %(n)d thành phần hồ sơ.", n=COMPONENTS_MAX),
        "component_length": _("Mỗi tên tối đa %(n)d ký tự.", n=COMPONENT_MAX),
        "iso_moment": _("Phải là thời điểm ISO 8601 có múi giờ, ví dụ 2026-11-25T08:30:00+07:00."),
    }.get(kind) or (_("Tối đa %(n)d ký tự.", n=context.get("max_length", 0))
                    if kind in ("string_too_long", "too_long") else error["msg"])
