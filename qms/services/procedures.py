"""Administrative procedures and their internal processes: the data of a version, its
validation, semantic comparison and search."""
from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import format_decimal
from flask_babel import gettext as _

from qms import clock
from qms.calendar import WorkCalendar
from qms.errors import ValidationError
from qms.extensions import db
from qms.localtime import date_of
from qms.models import (
    Agency,
    Department,
    Document,
    DocumentKind,
    DocumentVersion,
    OnlineLevel,
    PauseKind,
    Procedure,
    ProcedureCase,
    ProcedureVersion,
    ProcessStep,
    StepKind,
    StepRole,
    SupplementRule,
    TimeUnit,
    VersionStatus,
)
from qms.models.procedures import MINUTES_PER_WORKING_DAY
from qms.text import fold

STEP_GRANULARITY = 15  # minutes: same-day steps are planned in quarter hours

# The keys of a version's procedure data, in the order files and diffs show them.
DATA_KEYS = ("legal_bases", "time_limit", "time_unit", "same_day", "supplement_rule",
             "supplement_max", "pauses", "fee", "online_level", "result", "components", "steps",
             "cases")
CASE_KEYS = ("key", "name", "time_limit", "time_unit", "same_day", "fee", "steps")
CASE_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")  # e.g. "nha-o-rieng-le"
STEP_KEYS = ("name", "kind", "role", "responsible", "hours", "output")


def number(value: Decimal | int | float | str) -> int | float:
    """A plain number for files and hashes: 10 not 10.00, 0.5 not 0.50."""
    value = Decimal(str(value)).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def procedure_version_of(version: DocumentVersion) -> ProcedureVersion | None:
    return db.session.get(ProcedureVersion, version.id) if version.id else None


def procedure_data_of(version: DocumentVersion) -> dict | None:
    """The canonical procedure data of a version (None for other documents)."""
    pv = db.session.get(ProcedureVersion, version.id) if version.id else None
    if pv is None:
        return None
    data = {
        "legal_bases": list(pv.legal_bases or []),
        "time_limit": number(pv.time_limit),
        "time_unit": pv.time_unit.value,
        "same_day": bool(pv.same_day),
        "supplement_rule": pv.supplement_rule.value,
        "supplement_max": pv.supplement_max,
        "fee": pv.fee or "",
        "online_level": pv.online_level.value,
        "result": pv.result or "",
        "components": [dict(c) for c in pv.components or []],
        "steps": _steps_data(pv.steps),
    }
    # Only when there are some: the data (and the content hash) of versions from before
    # pauses and cases existed stay as they were, so an unchanged file imports as unchanged.
    if pv.pauses:
        data["pauses"] = list(pv.pauses)
    if pv.cases:
        data["cases"] = [{"key": c.key, "name": c.name, "time_limit": number(c.time_limit),
                          "time_unit": c.time_unit.value, "same_day": bool(c.same_day), "fee": c.fee or "",
                          "steps": _steps_data(c.steps)} for c in pv.cases]
    return data


def _steps_data(steps) -> list[dict]:
    return [{"name": s.name, "kind": s.kind.value, "role": s.role.value,
             "responsible": s.responsible or "", "hours": number(Decimal(s.minutes) / 60),
             "output": s.output or ""} for s in steps]


def format_duration(minutes: int) -> str:
    """Working minutes as the office says them: "1 ngày 3,5 giờ làm việc" (decimal comma
    in Vietnamese, point in English)."""
    days, rest = divmod(minutes, MINUTES_PER_WORKING_DAY)
    hours = format_decimal(number(Decimal(rest) / 60))
    if days and rest:
        return _("%(d)s ngày %(h)s giờ làm việc", d=days, h=hours)
    if days:
        return _("%(d)s ngày làm việc", d=days)
    return _("%(h)s giờ làm việc", h=hours)


def limit_minutes(time_limit, unit: TimeUnit) -> int:
    if unit is TimeUnit.working_hours:
        return int(Decimal(str(time_limit)) * 60)
    return int(Decimal(str(time_limit)) * MINUTES_PER_WORKING_DAY)


def problems_in(data: dict) -> list[str]:
    """Every rule a procedure version's data breaks, as messages naming the figures.

    Rules: a positive time limit (halves of days at most); each step has a name, a kind, a
    role and a positive time in quarter hours; the first step receives and the last returns
    the result; the steps' total fits the fewest working hours the legal limit can hold
    (`capacity`: a same-day dossier received at 15:00, a limit in calendar days across the
    longest run of days off)."""
    problems = []
    try:
        limit = Decimal(str(data.get("time_limit")))
        unit = TimeUnit(data.get("time_unit"))
    except (InvalidOperation, ValueError, TypeError):
        return [_("Thời hạn giải quyết phải là một số và đơn vị working_hours, working_days hoặc calendar_days.")]
    if limit <= 0:
        problems.append(_("Thời hạn giải quyết phải lớn hơn 0."))
    if unit is not TimeUnit.working_hours and (limit * 2) != (limit * 2).to_integral_value():
        problems.append(_("Thời hạn tính theo ngày chỉ chia đến nửa ngày (0,5)."))
    for kind in data.get("pauses") or []:
        if kind not in {k.value for k in PauseKind}:
            problems.append(_("Loại tạm dừng “%(k)s” không hợp lệ.", k=kind))
    steps = data.get("steps") or []
    if not steps:
        problems.append(_("Quy trình phải có các bước xử lý."))
    total = 0
    for index, step in enumerate(steps, start=1):
        try:
            minutes = Decimal(str(step.get("hours"))) * 60
        except (InvalidOperation, TypeError):
            minutes = Decimal(-1)
        if minutes <= 0 or minutes != minutes.to_integral_value() or minutes % STEP_GRANULARITY:
            problems.append(_("Bước %(i)d: thời gian phải là số giờ dương, chia đến 15 phút (0,25 giờ).",
                              i=index))
        else:
            total += int(minutes)
        if not str(step.get("name") or "").strip():
            problems.append(_("Bước %(i)d: thiếu tên bước.", i=index))
        if step.get("kind") not in {k.value for k in StepKind}:
            problems.append(_("Bước %(i)d: loại bước “%(k)s” không hợp lệ.", i=index, k=step.get("kind")))
        if step.get("role") not in {r.value for r in StepRole}:
            problems.append(_("Bước %(i)d: vai trò “%(r)s” không hợp lệ.", i=index, r=step.get("role")))
    kinds = [step.get("kind") for step in steps]
    if steps and (StepKind.receive.value not in kinds or kinds[0] != StepKind.receive.value):
        problems.append(_("Bước đầu tiên phải là bước tiếp nhận hồ sơ (receive)."))
    if steps and (StepKind.return_result.value not in kinds or kinds[-1] != StepKind.return_result.value):
        problems.append(_("Bước cuối cùng phải là bước trả kết quả (return_result)."))
    if limit > 0:
        held, worst_day = capacity(limit, unit, same_day=bool(data.get("same_day")))
        if total > held and data.get("same_day"):
            problems.append(_("Tổng thời gian các bước (%(steps)s) vượt thời gian ít nhất của thủ tục giải quyết "
                              "trong ngày: hồ sơ nhận lúc 15:00 phải xong trước khi hết giờ làm việc "
                              "(%(held)s).", steps=format_duration(total), held=format_duration(held)))
        elif total > held and worst_day is not None:
            problems.append(_("Tổng thời gian các bước (%(steps)s) vượt số giờ làm việc ít nhất mà thời hạn "
                              "%(n)s ngày (tính theo ngày lịch) có được: %(held)s, với hồ sơ nhận ngày %(d)s.",
                              steps=format_duration(total), n=_hours(limit), held=format_duration(held),
                              d=worst_day.strftime("%d/%m/%Y")))
        elif total > held:
            problems.append(_("Tổng thời gian các bước (%(steps)s) vượt thời hạn giải quyết theo quy định "
                              "(%(limit)s).", steps=format_duration(total), limit=format_duration(held)))
    problems.extend(_case_problems(data))
    return problems


def _case_problems(data: dict) -> list[str]:
    """Each case: a key of lower-case letters, digits and hyphens, unique; a name; and its
    own limit and process by the same rules as the main case."""
    problems, keys = [], set()
    for index, case in enumerate(data.get("cases") or [], start=1):
        name = str(case.get("name") or "").strip()
        label = name or str(index)
        key = str(case.get("key") or "")
        if not CASE_KEY.fullmatch(key):
            problems.append(_("Trường hợp %(n)s: mã “%(k)s” không hợp lệ (chữ thường không dấu, chữ số, dấu -).",
                              n=label, k=key))
        elif key in keys:
            problems.append(_("Trường hợp %(n)s: mã “%(k)s” bị trùng.", n=label, k=key))
        keys.add(key)
        if not name:
            problems.append(_("Trường hợp %(n)s: thiếu tên.", n=label))
        own = {**data, **{k: case.get(k) for k in ("time_limit", "time_unit", "steps")},
               "same_day": bool(case.get("same_day", False)), "pauses": [], "cases": []}
        problems.extend(_("Trường hợp “%(n)s”: %(p)s", n=label, p=problem) for problem in problems_in(own))
    return problems


# Receipt days a limit in calendar days is checked on: this year and the two after, the
# years the `holidays` data and the Government's Tết decisions are known for.
CAPACITY_YEARS = 3


def capacity(limit, unit: TimeUnit, *, same_day: bool = False) -> tuple[int, date | None]:
    """The fewest working minutes the legal limit can hold on the national calendar, and
    for a limit in calendar days the receipt day that gives it: working hours and days as
    they are; a same-day procedure has only the time from the 15:00 cut-off to the close;
    15 calendar days received just before Tết hold far fewer than 15 working days."""
    if same_day:
        return WorkCalendar().same_day_window(), None
    if unit is TimeUnit.calendar_days:
        return _fewest_in_calendar_days(int(limit), date_of(clock.now()).year)
    return limit_minutes(limit, unit), None


@functools.lru_cache(maxsize=64)
def _fewest_in_calendar_days(days: int, year: int) -> tuple[int, date]:
    return WorkCalendar().fewest_minutes_in_calendar_days(
        days, date(year, 1, 1), date(year + CAPACITY_YEARS - 1, 12, 31))


def content_hash(title: str, body: str, procedure_data: dict | None = None) -> str:
    """The hash of what a document version says: its title, its text and, for a process,
    its procedure data (documents freeze it on approval)."""
    canonical = json.dumps({"title": title, "body": body, "procedure": procedure_data},
                           ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def refresh_hash(version: DocumentVersion) -> None:
    version.content_hash = content_hash(version.title, version.body, procedure_data_of(version))


def validate_version(version: DocumentVersion) -> None:
    """Raise ValidationError with every problem of a process version (others pass)."""
    data = procedure_data_of(version)
    if data is not None:
        problems = problems_in(data)
        if problems:
            raise ValidationError(" ".join(problems))


def write_procedure_data(version: DocumentVersion, procedure: Procedure, data: dict) -> ProcedureVersion:
    """Set a version's procedure data (a new version, or a draft) from canonical data, and
    the version's content hash with it."""
    db.session.flush()  # the version needs its id: the procedure data shares it
    pv = db.session.get(ProcedureVersion, version.id)
    if pv is None:
        pv = ProcedureVersion(id=version.id, procedure=procedure)
        db.session.add(pv)
    pv.legal_bases = [str(b).strip() for b in data.get("legal_bases") or []]
    pv.time_limit = Decimal(str(data["time_limit"]))
    pv.time_unit = TimeUnit(data["time_unit"])
    pv.same_day = bool(data.get("same_day", False))
    pv.supplement_rule = SupplementRule(data.get("supplement_rule") or "restart")
    pv.supplement_max = int(data.get("supplement_max", 1))
    pv.pauses = [PauseKind(kind).value for kind in data.get("pauses") or []]
    pv.fee = str(data.get("fee") or "")
    pv.online_level = OnlineLevel(data.get("online_level") or "partial")
    pv.result = str(data.get("result") or "")
    pv.components = [{"name": str(c["name"]), "originals": int(c.get("originals", 1)),
                      "copies": int(c.get("copies", 0))} for c in data.get("components") or []]
    pv.steps.clear()
    for old in db.session.scalars(sa.select(ProcessStep).where(
            ProcessStep.procedure_version_id == pv.id, ProcessStep.case_key != "")):
        db.session.delete(old)
    pv.cases.clear()
    db.session.flush()  # free the positions and keys before the new ones take them
    pv.steps.extend(_process_steps(data.get("steps") or []))
    for position, case in enumerate(data.get("cases") or [], start=1):
        pv.cases.append(ProcedureCase(
            position=position, key=str(case["key"]), name=str(case["name"]).strip(),
            time_limit=Decimal(str(case["time_limit"])), time_unit=TimeUnit(case["time_unit"]),
            same_day=bool(case.get("same_day", False)), fee=str(case.get("fee") or "")))
        for step in _process_steps(case.get("steps") or []):
            step.procedure_version_id, step.case_key = pv.id, str(case["key"])
            db.session.add(step)
    db.session.flush()
    db.session.expire(pv, ["cases"])  # the cases' steps are read through a view-only join
    refresh_hash(version)
    return pv


def _process_steps(steps: list[dict]) -> list[ProcessStep]:
    return [ProcessStep(position=position, name=str(step["name"]).strip(), kind=StepKind(step["kind"]),
                        role=StepRole(step["role"]), responsible=str(step.get("responsible") or ""),
                        minutes=int(Decimal(str(step["hours"])) * 60), output=str(step.get("output") or ""))
            for position, step in enumerate(steps, start=1)]


def departments_concerned(document: Document) -> list[Department]:
    """The departments whose staff work by a document: its owner's, and for a procedure's
    process, every active department of the agencies that apply the procedure."""
    departments = {document.owner_department_id: document.owner_department}
    procedure = db.session.scalar(sa.select(Procedure).where(Procedure.document_id == document.id))
    if procedure is not None:
        for agency in applying_agencies(procedure):
            for department in agency.departments:
                if department.active:
                    departments[department.id] = department
    return sorted(departments.values(), key=lambda d: d.code)


def applying_agencies(procedure: Procedure) -> list[Agency]:
    """The agencies named on the procedure, or else every current agency of its level."""
    if procedure.agencies:
        return list(procedure.agencies)
    return db.session.scalars(sa.select(Agency).where(Agency.level == procedure.level,
                                                      Agency.effective_to.is_(None))
                              .order_by(Agency.code)).all()


def refresh_search_text(procedure: Procedure) -> None:
    procedure.search_text = fold(f"{procedure.code} {procedure.name}")


def search(query: str = "", *, field_id: int | None = None, level=None,
           effective_only: bool = True):
    """Procedures matching words of `query` (accents and case ignored), by field and level."""
    statement = sa.select(Procedure).order_by(Procedure.code)
    for word in fold(query).split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Procedure.search_text.like(f"%{escaped}%", escape="\\"))
    if field_id:
        statement = statement.where(Procedure.field_id == field_id)
    if level is not None:
        statement = statement.where(Procedure.level == level)
    if effective_only:
        statement = statement.where(Procedure.document_id.in_(
            sa.select(DocumentVersion.document_id).where(DocumentVersion.status == VersionStatus.effective)))
    return statement


# --- comparison ------------------------------------------------------------------------------
def semantic_diff(old: dict | None, new: dict | None) -> list[str]:
    """What changed between two versions' procedure data, in the office's words: steps added,
    removed, reordered or retimed, responsible units, time limit, legal bases, ..."""
    if old is None or new is None:
        return []
    changes = []
    if (old["time_limit"], old["time_unit"]) != (new["time_limit"], new["time_unit"]):
        changes.append(_("Thời hạn giải quyết: %(a)s → %(b)s.",
                         a=_limit_label(old), b=_limit_label(new)))
    for key, label in (("same_day", _("Quy tắc trong ngày (15 giờ)")),
                       ("supplement_rule", _("Quy tắc bổ sung hồ sơ")),
                       ("supplement_max", _("Số lần yêu cầu bổ sung")),
                       ("fee", _("Phí, lệ phí")), ("online_level", _("Mức độ trực tuyến")),
                       ("result", _("Kết quả"))):
        if old.get(key) != new.get(key):
            changes.append(_("%(label)s: %(a)s → %(b)s.", label=label, a=old.get(key), b=new.get(key)))
    if old.get("pauses", []) != new.get("pauses", []):
        changes.append(_("Tạm dừng tính thời gian khi: %(a)s → %(b)s.", a=pause_labels(old.get("pauses")) or "—",
                         b=pause_labels(new.get("pauses")) or "—"))
    for basis in new["legal_bases"]:
        if basis not in old["legal_bases"]:
            changes.append(_("Thêm căn cứ pháp lý: %(b)s.", b=basis))
    for basis in old["legal_bases"]:
        if basis not in new["legal_bases"]:
            changes.append(_("Bỏ căn cứ pháp lý: %(b)s.", b=basis))
    old_components = [c["name"] for c in old["components"]]
    new_components = [c["name"] for c in new["components"]]
    for name in new_components:
        if name not in old_components:
            changes.append(_("Thêm thành phần hồ sơ: %(n)s.", n=name))
    for name in old_components:
        if name not in new_components:
            changes.append(_("Bỏ thành phần hồ sơ: %(n)s.", n=name))
    changes.extend(_step_changes(old["steps"], new["steps"]))
    changes.extend(_case_changes(old.get("cases", []), new.get("cases", [])))
    return changes


def _case_changes(old_cases: list[dict], new_cases: list[dict]) -> list[str]:
    changes = []
    old_by_key, new_by_key = {c["key"]: c for c in old_cases}, {c["key"]: c for c in new_cases}
    for key, case in new_by_key.items():
        if key not in old_by_key:
            changes.append(_("Thêm trường hợp: %(n)s (%(l)s).", n=case["name"], l=_limit_label(case)))
    for key, case in old_by_key.items():
        if key not in new_by_key:
            changes.append(_("Bỏ trường hợp: %(n)s.", n=case["name"]))
    for key in new_by_key.keys() & old_by_key.keys():
        a, b = old_by_key[key], new_by_key[key]
        inner = []
        if (a["time_limit"], a["time_unit"], a.get("same_day")) != (b["time_limit"], b["time_unit"], b.get("same_day")):
            inner.append(_("Thời hạn giải quyết: %(a)s → %(b)s.", a=_limit_label(a), b=_limit_label(b)))
        if (a.get("fee"), a["name"]) != (b.get("fee"), b["name"]):
            inner.append(_("Tên, phí: %(a)s → %(b)s.", a=f"{a['name']}; {a.get('fee') or '—'}",
                           b=f"{b['name']}; {b.get('fee') or '—'}"))
        inner.extend(_step_changes(a["steps"], b["steps"]))
        changes.extend(_("Trường hợp “%(n)s”: %(c)s", n=b["name"], c=change) for change in inner)
    return changes


def cases_in_force(procedure_ids) -> dict[int, list[ProcedureCase]]:
    """The cases of each procedure's version in force, in order, in one query."""
    rows = db.session.execute(
        sa.select(ProcedureVersion.procedure_id, ProcedureCase)
        .join(ProcedureCase, ProcedureCase.procedure_version_id == ProcedureVersion.id)
        .join(DocumentVersion, DocumentVersion.id == ProcedureVersion.id)
        .where(ProcedureVersion.procedure_id.in_(list(procedure_ids)),
               DocumentVersion.status == VersionStatus.effective)
        .order_by(ProcedureVersion.procedure_id, ProcedureCase.position)).all()
    found: dict[int, list[ProcedureCase]] = {}
    for procedure_id, case in rows:
        found.setdefault(procedure_id, []).append(case)
    return found


def pause_labels(kinds) -> str:
    """The pauses a procedure allows, in words: "đo đạc địa chính, niêm yết công khai"."""
    return ", ".join(str(PauseKind(kind).label).lower() for kind in kinds or [])


def _limit_label(data: dict) -> str:
    return f"{data['time_limit']} {TimeUnit(data['time_unit']).label}"


def _hours(value) -> str:
    return format_decimal(number(value))  # 0,75 in Vietnamese


def _step_changes(old_steps: list[dict], new_steps: list[dict]) -> list[str]:
    changes = []
    old_by_name = {s["name"]: (i, s) for i, s in enumerate(old_steps, start=1)}
    new_by_name = {s["name"]: (i, s) for i, s in enumerate(new_steps, start=1)}
    for name, (i, step) in new_by_name.items():
        if name not in old_by_name:
            changes.append(_("Thêm bước %(i)d: %(n)s (%(h)s giờ).", i=i, n=name, h=_hours(step["hours"])))
    for name, (i, _step) in old_by_name.items():
        if name not in new_by_name:
            changes.append(_("Bỏ bước %(i)d: %(n)s.", i=i, n=name))
    common_old = [s["name"] for s in old_steps if s["name"] in new_by_name]
    common_new = [s["name"] for s in new_steps if s["name"] in old_by_name]
    if common_old != common_new:
        changes.append(_("Đổi thứ tự các bước: %(order)s.", order=" → ".join(common_new)))
    for name in common_new:
        a, b = old_by_name[name][1], new_by_name[name][1]
        if a["hours"] != b["hours"]:
            changes.append(_("Bước “%(n)s”: thời gian %(a)s → %(b)s giờ.", n=name, a=_hours(a["hours"]),
                             b=_hours(b["hours"])))
        if (a["role"], a["responsible"]) != (b["role"], b["responsible"]):
            changes.append(_("Bước “%(n)s”: đơn vị thực hiện %(a)s → %(b)s.", n=name,
                             a=a["responsible"] or StepRole(a["role"]).label,
                             b=b["responsible"] or StepRole(b["role"]).label))
        if a["output"] != b["output"]:
            changes.append(_("Bước “%(n)s”: kết quả của bước %(a)s → %(b)s.", n=name,
                             a=a["output"] or "—", b=b["output"] or "—"))
    return changes


def create_procedure(*, code: str, name: str, field, level, document: Document,
                     agencies: list[Agency] | None = None) -> Procedure:
    if document.kind is not DocumentKind.process:
        raise ValidationError(_("Tài liệu của thủ tục phải là quy trình nội bộ."))
    procedure = Procedure(code=code.strip(), name=name.strip(), field=field, level=level,
                          document=document, agencies=list(agencies or []))
    refresh_search_text(procedure)
    db.session.add(procedure)
    return procedure


def print_context(version: DocumentVersion) -> dict:
    """What the printable internal-process document of a version shows."""
    pv = procedure_version_of(version)
    procedure = pv.procedure
    history = [v for v in version.document.versions
               if v.number <= version.number and v.status is not VersionStatus.withdrawn]
    forms = list(dict.fromkeys(s.output for s in pv.steps if s.output))
    agencies = ", ".join(a.name for a in applying_agencies(procedure)) or procedure.level.value
    return {"version": version, "procedure": procedure, "pv": pv, "data": procedure_data_of(version),
            "history": history, "forms": forms, "agencies": agencies}
