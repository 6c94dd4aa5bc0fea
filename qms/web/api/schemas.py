"""What the API reads and writes: JSON bodies checked against the typed models of
qms.web.api.payloads, and dossiers, steps and queues as JSON. Times are ISO 8601 in Vietnam's time zone (+07:00)."""
from __future__ import annotations

import re
from datetime import datetime

from flask import request
from flask_babel import gettext as _

from qms.localtime import to_local
from qms.models import Dossier, DossierStep, User
from qms.services import dossiers
from qms.text import strip_controls_deep
from qms.web.api import ApiError

# What a JSON text holds when a decoded string could have a control character (escaped below
# U+0020, DEL and C1 raw or escaped, a lone surrogate): only then is every string cleaned.
_MAY_HOLD_CONTROLS = re.compile(r"\\u00[01][0-9a-f]|\\u00[89][0-9a-f]|\\u007f|\\ud[89a-f]|[\x7f-\x9f]", re.I)


def _cleaned(data):
    """The same cleaning as every form (qms.text.strip_controls), where it can change anything:
    a sync batch is tens of thousands of strings."""
    if _MAY_HOLD_CONTROLS.search(request.get_data(cache=True, as_text=True)):
        return strip_controls_deep(data)
    return data


MAX_DEPTH = 8  # a dossier is 3 levels deep; far deeper is an attack, not a dossier


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
    return _cleaned(data)


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
    return _cleaned(data)


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


def _depth(value) -> int:
    """How deep the document nests (a value inside a container is one level below it),
    counted up to just past MAX_DEPTH; a loop over the containers only (a sync batch holds
    tens of thousands of values)."""
    deepest, stack = 1, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        children = item.values() if isinstance(item, dict) else item
        if level + 1 > deepest and children:
            deepest = level + 1
            if deepest > MAX_DEPTH:
                return deepest
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse(model_name: str, data: dict):
    """`data` checked against the typed model `model_name` of qms.web.api.payloads; raises
    ApiError 422 naming every problem (field: message) at once."""
    import pydantic  # not at start-up: it is heavy (tests/cli/test_startup.py)

    from qms.web.api import payloads

    try:
        return getattr(payloads, model_name).model_validate(data)
    except pydantic.ValidationError as error:
        errors = payloads.problems(error)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ApiError(_("Dữ liệu không hợp lệ — %(s)s", s=summary), status=422, errors=errors) from None


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

