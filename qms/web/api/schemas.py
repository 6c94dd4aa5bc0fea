"""What the API reads and writes: JSON bodies checked field by field (the API's forms), and
dossiers, steps and queues as JSON. Times are ISO 8601 in Vietnam's time zone (+07:00)."""
from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from flask import request
from flask_babel import gettext as _

from qms.localtime import to_local
from qms.models import Channel, Dossier, DossierStep, ResultDelivery, User
from qms.services import dossiers
from qms.text import strip_controls_deep
from qms.web.api import ApiError

# Column sizes of the dossier (qms/models/dossiers.py): longer values are refused with a
# message, never truncated or left to fail in the database.
APPLICANT_FIELDS = {"name": 255, "id_number": 32, "phone": 32, "address": 500, "email": 255}
RECEIVE_FIELDS = {"procedure_code", "case", "processing_agency_code", "applicant", "channel", "components",
                  "return_method"}
ONLINE_FIELDS = RECEIVE_FIELDS - {"channel", "processing_agency_code"} | {"code", "registered_at"}
COMPLETE_FIELDS = {"note", "result", "next_department_code"}
RETURN_FIELDS = {"via", "note"}
RETURN_METHOD_MAX, COMPONENT_MAX, NOTE_MAX, RESULT_MAX = 64, 500, 2000, 500


MAX_DEPTH = 8  # a dossier is 3 levels deep; far deeper is an attack, not a dossier
COMPONENTS_MAX = 200


def json_body(*, allow_empty: bool = False) -> dict:
    """The request's JSON object; 400 if the body is not one, or nests deeper than any
    request needs (a 100,000-deep array would exhaust the parser's recursion)."""
    if allow_empty and not request.get_data(cache=True):
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(_("Nội dung yêu cầu phải là một đối tượng JSON "
                         "(Content-Type: application/json)."), status=400)
    if _depth(data) > MAX_DEPTH:
        raise ApiError(_("Nội dung JSON lồng quá %(n)d cấp.", n=MAX_DEPTH), status=400)
    return strip_controls_deep(data)  # the same cleaning as every form


def json_any():
    """The request's JSON, an object or an array; 400 if it is neither, or nests too deep."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, (dict, list)):
        raise ApiError(_("Nội dung yêu cầu phải là JSON (Content-Type: application/json)."), status=400)
    if _depth(data) > MAX_DEPTH:
        raise ApiError(_("Nội dung JSON lồng quá %(n)d cấp.", n=MAX_DEPTH), status=400)
    return strip_controls_deep(data)


def sync_batch(data) -> list:
    """The dossiers of a sync batch: the array itself, or the object's `data` array."""
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ApiError(_("Gửi một mảng hồ sơ, hoặc một đối tượng có trường data là mảng hồ sơ."),
                       status=422, errors=[{"field": "data", "message": _("Phải là một danh sách.")}])
    if not items:
        raise ApiError(_("Không có hồ sơ nào để đồng bộ."), status=422,
                       errors=[{"field": "data", "message": _("Bắt buộc.")}])
    return items


def _depth(value, level: int = 1) -> int:
    if level > MAX_DEPTH or not isinstance(value, (dict, list)):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(item, level + 1) for item in items), default=level)


class _Checker:
    """Collects every problem of a body, so the caller fixes them in one go."""

    def __init__(self):
        self.errors: list[dict] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def unknown(self, data: dict, allowed: set[str], prefix: str = "") -> None:
        for key in sorted(set(data) - allowed):
            self.add(prefix + key, _("Trường không được hỗ trợ."))

    def text(self, data: dict, key: str, field: str, *, max_length: int,
             required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(field, _("Phải là một chuỗi ký tự."))
            return ""
        value = value.strip()
        if required and not value:
            self.add(field, _("Bắt buộc."))
        elif len(value) > max_length:
            self.add(field, _("Tối đa %(n)d ký tự.", n=max_length))
        return value

    def moment(self, data: dict, key: str) -> datetime | None:
        """An ISO 8601 time with its offset (e.g. 2026-11-25T08:30:00+07:00), or None."""
        value = data.get(key)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.add(key, _("Phải là thời điểm ISO 8601 có múi giờ, ví dụ 2026-11-25T08:30:00+07:00."))
            return None
        return moment

    def raise_if_any(self) -> None:
        if self.errors:
            summary = "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)
            raise ApiError(_("Dữ liệu không hợp lệ — %(s)s", s=summary), status=422,
                           errors=self.errors)


def receive_input(data: dict, *, online: bool = False) -> dict:
    """The fields of a dossier handed over by the portal, checked; raises 422 with every
    problem found. `online`: a dossier submitted on the portal, with its national code
    (and when it was submitted), for the desk's intake queue; its channel is online."""
    check = _Checker()
    check.unknown(data, ONLINE_FIELDS if online else RECEIVE_FIELDS)
    out = {"procedure_code": check.text(data, "procedure_code", "procedure_code",
                                        max_length=32, required=True),
           "case_key": check.text(data, "case", "case", max_length=48),
           "processing_agency_code": check.text(data, "processing_agency_code", "processing_agency_code",
                                                max_length=32)}
    if online:
        out["code"] = check.text(data, "code", "code", max_length=48, required=True)
        out["registered_at"] = check.moment(data, "registered_at")
    applicant = data.get("applicant")
    if not isinstance(applicant, dict):
        check.add("applicant", _("Bắt buộc, là một đối tượng (name, id_number, phone, address, email)."))
        applicant = {}
    check.unknown(applicant, set(APPLICANT_FIELDS), prefix="applicant.")
    for key, size in APPLICANT_FIELDS.items():
        out[f"applicant_{key}"] = check.text(applicant, key, f"applicant.{key}", max_length=size,
                                             required=key == "name")
    email = out["applicant_email"]
    if email:
        try:  # the same check as the desk's form (wtforms Email uses email-validator)
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            check.add("applicant.email", _("Địa chỉ thư điện tử không hợp lệ."))
    channel = data.get("channel", Channel.online.value)
    if online:
        pass  # always online
    elif channel not in {c.value for c in Channel}:
        check.add("channel", _("Một trong: %(v)s.", v=", ".join(c.value for c in Channel)))
    else:
        out["channel"] = Channel(channel)
    components = data.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        check.add("components", _("Phải là một danh sách tên thành phần hồ sơ (chuỗi)."))
        components = []
    elif len(components) > COMPONENTS_MAX:
        check.add("components", _("Tối đa %(n)d thành phần hồ sơ.", n=COMPONENTS_MAX))
        components = []
    elif any(len(c.strip()) > COMPONENT_MAX for c in components):
        check.add("components", _("Mỗi tên tối đa %(n)d ký tự.", n=COMPONENT_MAX))
    out["components"] = [c.strip() for c in components if c.strip()]
    out["return_method"] = check.text(data, "return_method", "return_method",
                                      max_length=RETURN_METHOD_MAX)
    check.raise_if_any()
    return out


def complete_input(data: dict) -> dict:
    check = _Checker()
    check.unknown(data, COMPLETE_FIELDS)
    out = {"note": check.text(data, "note", "note", max_length=NOTE_MAX),
           "result": check.text(data, "result", "result", max_length=RESULT_MAX),
           "next_department_code": check.text(data, "next_department_code",
                                              "next_department_code", max_length=32)}
    check.raise_if_any()
    return out


def return_input(data: dict) -> dict:
    check = _Checker()
    check.unknown(data, RETURN_FIELDS)
    via = data.get("via", ResultDelivery.desk.value)
    if via not in {member.value for member in ResultDelivery}:
        check.add("via", _("Một trong: %(v)s.", v=", ".join(m.value for m in ResultDelivery)))
        via = ResultDelivery.desk.value
    out = {"via": ResultDelivery(via), "note": check.text(data, "note", "note", max_length=NOTE_MAX)}
    check.raise_if_any()
    return out


# --- output -----------------------------------------------------------------------------------
def when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return to_local(value).isoformat()


def _department(department) -> dict | None:
    return None if department is None else {"code": department.code, "name": department.name}


def _person(user: User | None) -> dict | None:
    return None if user is None else {"username": user.username, "full_name": user.full_name}


def _value(enum_value) -> str | None:
    return None if enum_value is None else enum_value.value


def status_of(dossier: Dossier) -> dict:
    return {"code": dossier.status.value, "national_code": dossier.status.national_code,
            "label": dossier.status.label}


def step_json(step: DossierStep) -> dict:
    return {
        "position": step.position, "name": step.name, "role": step.role.value,
        "department": _department(step.department),
        "handed_over_at": when(step.handed_over_at), "due_at": when(step.due_at),
        "completed_at": when(step.completed_at), "completed_by": _person(step.completed_by),
        "note": step.note or "", "result": step.result or "",
        "timeliness": _value(dossiers.step_timeliness(step)),
    }


def dossier_json(dossier: Dossier) -> dict:
    current = dossiers.current_step(dossier)
    open_ = dossier.status in dossiers.OPEN_STATUSES
    return {
        "code": dossier.code,
        "status": status_of(dossier),
        "procedure": {"code": dossier.procedure.code, "name": dossier.procedure.name},
        "agency": {"code": dossier.agency.code, "name": dossier.agency.name},
        "processing_agency": {"code": dossier.processing_agency.code, "name": dossier.processing_agency.name},
        "department": _department(dossier.department),
        "channel": {"code": dossier.channel.value, "national_code": dossier.channel.national_code},
        "applicant": {"name": dossier.applicant_name, "id_number": dossier.applicant_id_number,
                      "phone": dossier.applicant_phone, "address": dossier.applicant_address,
                      "email": dossier.applicant_email},
        "components": list(dossier.components or []),
        "case": ({"key": dossier.case.key, "name": dossier.case.name} if dossier.case else None),
        "return_method": dossier.return_method or "",
        "received_at": when(dossier.received_at),
        "original_due_at": when(dossier.original_due_at),
        "due_at": when(dossier.due_at),
        "promised_at": when(dossier.promised_at),
        "paused_at": when(dossier.paused_at),
        "processed_at": when(dossier.processed_at),
        "registered_at": when(dossier.registered_at),
        "returned_at": when(dossier.returned_at),
        "returned_via": _value(dossier.returned_via),
        "timeliness": _value(dossiers.timeliness(dossier)),
        "current_step": current.position if current is not None and open_ else None,
        "steps": [step_json(step) for step in dossier.steps],
        "events": [{
            "kind": event.kind.value, "at": when(event.at), "by": _person(event.by),
            "department": _department(event.department), "reason": event.reason or "",
            "due_before": when(event.due_before), "due_after": when(event.due_after),
            "step_position": event.step_position,
        } for event in dossier.events],
    }


QUEUE_PAGE_SIZE, QUEUE_MAX_PAGE_SIZE = 100, 500


def page_args(args) -> tuple[int, int]:
    """The `page` (from 1) and `per_page` (1 to QUEUE_MAX_PAGE_SIZE) query parameters;
    raises ApiError 422 naming each bad one."""
    errors, values = [], {}
    for key, default, top in (("page", 1, 1_000_000), ("per_page", QUEUE_PAGE_SIZE, QUEUE_MAX_PAGE_SIZE)):
        raw = args.get(key, "")
        if raw == "":
            values[key] = default
        elif raw.isdigit() and 1 <= int(raw) <= top:
            values[key] = int(raw)
        else:
            errors.append({"field": key, "message": _("Là số nguyên từ 1 đến %(n)d.", n=top)})
    if errors:
        raise ApiError(_("Tham số phân trang không hợp lệ."), status=422, errors=errors)
    return values["page"], values["per_page"]


def queue_item_json(step: DossierStep, now: datetime) -> dict:
    dossier = step.dossier
    return {
        "dossier_code": dossier.code,
        "status": status_of(dossier),
        "procedure": {"code": dossier.procedure.code, "name": dossier.procedure.name},
        "step": {"position": step.position, "name": step.name},
        "handed_over_at": when(step.handed_over_at),
        "due_at": when(step.due_at),
        "dossier_due_at": when(dossier.due_at),
        "overdue": step.due_at is not None and step.due_at < now,
    }

