"""procedures_iso/: human-editable files as the source of truth for documents and procedures.

Two formats (procedures_iso/README.md documents both):
- `*.md`: a system document (manual, policy, objectives, system procedure, form) as
  Markdown with YAML front matter;
- `*.yaml`: an administrative procedure with its internal process.

Import is one transaction: every file is checked first, and one bad file writes nothing.
A new file creates an effective first version; a changed file becomes a *draft* (never an
overwrite of an approved version); an unchanged file does nothing.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
import yaml

from qms import localtime
from qms.errors import ValidationError
from qms.extensions import db
from qms.models import (
    Agency,
    AgencyLevel,
    Department,
    Document,
    DocumentKind,
    DocumentVersion,
    Field,
    OnlineLevel,
    PauseKind,
    Procedure,
    SupplementRule,
    TimeUnit,
    VersionStatus,
)
from qms.services import audit_log, documents, procedures
from qms.text import nfc

# Not documents: the ISO 9001:2015 clause list is data for qms.services.iso_clauses.
SKIPPED_NAMES = {"README.md", "iso9001_2015_clauses.yaml"}
DOCUMENT_KINDS = {k.value for k in DocumentKind} - {DocumentKind.process.value}


@dataclass
class ParsedFile:
    path: Path
    document_code: str
    title: str
    kind: DocumentKind
    body: str
    change_summary: str
    owner: str | None
    review_interval_months: int
    procedure: dict | None = None  # code, name, field, level, agencies
    data: dict | None = None  # the version's procedure data

    @property
    def content_hash(self) -> str:
        return procedures.content_hash(self.title, self.body, self.data)


@dataclass
class FileResult:
    path: Path
    outcome: str  # created / draft / updated-draft / unchanged
    document_code: str
    version_number: int | None = None
    diff: list[str] = field(default_factory=list)


class FileProblems(ValidationError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- parsing --------------------------------------------------------------------------------
def _require(mapping: dict, key: str, where: str, problems: list[str], kind=str,
             max_length: int | None = None):
    value = mapping.get(key)
    if value is None or (kind is str and not str(value).strip()):
        problems.append(f"{where}: field '{key}' is required")
        return None
    if max_length is not None and len(str(value).strip()) > max_length:
        problems.append(f"{where}: field '{key}' is longer than {max_length} characters")
        return None
    if kind is not str and not isinstance(value, kind):
        problems.append(f"{where}: field '{key}' must be a {kind.__name__}")
        return None
    return nfc(value.strip()) if kind is str else value


def _steps(steps, where: str, problems: list[str]) -> list[dict]:
    parsed = []
    for index, step in enumerate(steps or [], start=1):
        if not isinstance(step, dict):
            problems.append(f"{where}: steps[{index}] must be a mapping")
            continue
        parsed.append({"name": nfc(str(step.get("name") or "")).strip(),
                       "kind": step.get("kind"), "role": step.get("role"),
                       "responsible": nfc(str(step.get("responsible") or "")).strip(),
                       "hours": step.get("hours"),
                       "output": nfc(str(step.get("output") or "")).strip()})
    return parsed


def _enum_value(mapping, key, enum_class, where, problems, default=None):
    value = mapping.get(key, default)
    allowed = [e.value for e in enum_class]
    if value not in allowed:
        problems.append(f"{where}: field '{key}' is {value!r}; expected one of {', '.join(allowed)}")
    return value


def parse_markdown(path: Path, text: str, problems: list[str]) -> ParsedFile | None:
    where = str(path)
    if not text.startswith("---\n"):
        problems.append(f"{where}: must start with a YAML front matter block ('---' line)")
        return None
    try:
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front) or {}
    except (ValueError, yaml.YAMLError) as error:
        problems.append(f"{where}: front matter is not valid YAML ({error})")
        return None
    if not isinstance(meta, dict):
        problems.append(f"{where}: front matter must be a mapping")
        return None
    kind = meta.get("kind")
    if kind not in DOCUMENT_KINDS:
        problems.append(f"{where}: field 'kind' is {kind!r}; expected one of {', '.join(sorted(DOCUMENT_KINDS))}")
        return None
    code = _require(meta, "code", where, problems, max_length=32)
    title = _require(meta, "title", where, problems)
    interval = meta.get("review_interval_months", 12)
    if not isinstance(interval, int) or not 1 <= interval <= 60:
        problems.append(f"{where}: field 'review_interval_months' must be a whole number from 1 to 60")
    if code is None or title is None:
        return None
    return ParsedFile(path, code.upper(), title, DocumentKind(kind), nfc(body.strip("\n")) + "\n",
                      nfc(str(meta.get("change_summary") or "")).strip(), meta.get("owner"),
                      interval if isinstance(interval, int) else 12)


def parse_procedure(path: Path, text: str, problems: list[str]) -> ParsedFile | None:
    where = str(path)
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problems.append(f"{where}: not valid YAML ({error})")
        return None
    if not isinstance(meta, dict):
        problems.append(f"{where}: must be a YAML mapping")
        return None
    before = len(problems)
    code = _require(meta, "code", where, problems, max_length=32)
    name = _require(meta, "name", where, problems)
    field_code = _require(meta, "field", where, problems)
    level = _enum_value(meta, "level", AgencyLevel, where, problems)
    document = meta.get("document")
    if not isinstance(document, dict):
        problems.append(f"{where}: field 'document' must be a mapping with 'code' and 'title'")
        document = {}
    doc_code = _require(document, "code", f"{where}: document", problems, max_length=32)
    title = _require(document, "title", f"{where}: document", problems)
    version = meta.get("version")
    if not isinstance(version, dict):
        problems.append(f"{where}: field 'version' must be a mapping")
        return None
    data = {
        "legal_bases": [nfc(str(b)).strip() for b in version.get("legal_bases") or []],
        "time_limit": version.get("time_limit"),
        "time_unit": _enum_value(version, "time_unit", TimeUnit, f"{where}: version", problems),
        "same_day": bool(version.get("same_day", False)),
        "supplement_rule": _enum_value(version, "supplement_rule", SupplementRule,
                                       f"{where}: version", problems, "restart"),
        "supplement_max": version.get("supplement_max", 1),
        "fee": nfc(str(version.get("fee") or "")).strip(),
        "online_level": _enum_value(version, "online_level", OnlineLevel, f"{where}: version",
                                    problems, "partial"),
        "result": nfc(str(version.get("result") or "")).strip(),
        "components": [],
        "steps": [],
    }
    pauses = version.get("pauses") or []
    if not isinstance(pauses, list) or not all(p in {k.value for k in PauseKind} for p in pauses):
        problems.append(f"{where}: version: field 'pauses' must be a list of "
                        f"{', '.join(k.value for k in PauseKind)}")
    elif pauses:  # left out when empty, as procedures.procedure_data_of does
        data["pauses"] = list(pauses)
    if not isinstance(data["supplement_max"], int) or data["supplement_max"] < 0:
        problems.append(f"{where}: version: field 'supplement_max' must be a whole number ≥ 0")
    for index, component in enumerate(version.get("components") or [], start=1):
        if isinstance(component, str):
            component = {"name": component}
        if not isinstance(component, dict) or not str(component.get("name") or "").strip():
            problems.append(f"{where}: version: components[{index}]: field 'name' is required")
            continue
        data["components"].append({"name": nfc(str(component["name"])).strip(),
                                   "originals": int(component.get("originals", 1)),
                                   "copies": int(component.get("copies", 0))})
    data["steps"] = _steps(version.get("steps"), f"{where}: version", problems)
    cases = version.get("cases") or []
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        problems.append(f"{where}: version: field 'cases' must be a list of mappings")
        cases = []
    for index, case in enumerate(cases, start=1):
        at = f"{where}: version: cases[{index}]"
        data.setdefault("cases", []).append({
            "key": str(case.get("key") or ""), "name": nfc(str(case.get("name") or "")).strip(),
            "time_limit": case.get("time_limit"),
            "time_unit": _enum_value(case, "time_unit", TimeUnit, at, problems),
            "same_day": bool(case.get("same_day", False)), "fee": nfc(str(case.get("fee") or "")).strip(),
            "steps": _steps(case.get("steps"), at, problems)})
    if len(problems) == before:
        problems.extend(f"{where}: version: {message}" for message in procedures.problems_in(data))
    if len(problems) > before:
        return None
    for process in [data, *data.get("cases", [])]:
        process["time_limit"] = procedures.number(process["time_limit"])
        for step in process["steps"]:
            step["hours"] = procedures.number(step["hours"])
    agencies = meta.get("agencies") or []
    return ParsedFile(path, doc_code.upper(), title, DocumentKind.process,
                      nfc(str(meta.get("body") or "")), nfc(str(version.get("change_summary") or "")).strip(),
                      meta.get("owner"), int(document.get("review_interval_months", 12)),
                      procedure={"code": code, "name": name, "field": field_code.upper(),
                                 "level": level, "agencies": [str(a).upper() for a in agencies]},
                      data=data)


def parse_tree(root: Path) -> tuple[list[ParsedFile], list[str]]:
    problems: list[str] = []
    parsed: list[ParsedFile] = []
    if not root.exists():
        return [], [f"{root}: no such file or folder"]
    paths = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.suffix in (".md", ".yaml", ".yml") and p.name not in SKIPPED_NAMES)
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read as UTF-8 text ({error})")
            continue
        result = (parse_markdown if path.suffix == ".md" else parse_procedure)(path, text, problems)
        if result is not None:
            parsed.append(result)
    seen: dict[str, Path] = {}
    for item in parsed:
        if item.document_code in seen:
            problems.append(f"{item.path}: document code {item.document_code} is also used by {seen[item.document_code]}")
        seen[item.document_code] = item.path
    return parsed, problems


# --- import -------------------------------------------------------------------------------------
def _latest(document: Document) -> DocumentVersion | None:
    return next((v for v in reversed(document.versions) if v.status is not VersionStatus.withdrawn), None)


def import_tree(root: Path, *, now: datetime, default_owner: str | None = None) -> list[FileResult]:
    """Import every file under `root`. All or nothing: raises FileProblems naming each bad
    file and field before anything is written, or if a write is refused."""
    parsed, problems = parse_tree(root)
    fields = {f.code: f for f in db.session.scalars(sa.select(Field))}
    departments = {d.code: d for d in db.session.scalars(sa.select(Department))}
    agencies = {a.code: a for a in db.session.scalars(sa.select(Agency))}
    for item in parsed:
        owner = item.owner or default_owner
        existing = db.session.scalar(sa.select(Document).where(Document.code == item.document_code))
        if existing is None and owner is None:
            problems.append(f"{item.path}: field 'owner' is required for a new document (or pass --owner)")
        elif owner is not None and str(owner).upper() not in departments:
            problems.append(f"{item.path}: field 'owner': no department with code {owner}")
        if existing is not None and existing.kind is not item.kind:
            problems.append(f"{item.path}: document {item.document_code} exists as a {existing.kind.value}, not a {item.kind.value}")
        if item.procedure:
            if item.procedure["field"] not in fields:
                problems.append(f"{item.path}: field 'field': no field with code {item.procedure['field']}")
            for code in item.procedure["agencies"]:
                if code not in agencies:
                    problems.append(f"{item.path}: field 'agencies': no agency with code {code}")
            other = db.session.scalar(sa.select(Procedure).where(Procedure.code == item.procedure["code"]))
            if other is not None and other.document.code != item.document_code:
                problems.append(f"{item.path}: procedure {item.procedure['code']} already belongs to document {other.document.code}")
        if existing is not None:
            open_version = documents.open_version(existing)
            latest = _latest(existing)
            changed = latest is None or latest.content_hash != item.content_hash
            if changed and open_version is not None and open_version.status is VersionStatus.in_review:
                problems.append(f"{item.path}: version {open_version.number} of {existing.code} is in review; "
                                "approve or return it before importing a change")
    if problems:
        raise FileProblems(problems)
    results = []
    for item in parsed:
        results.append(_import_one(item, now=now, fields=fields, agencies=agencies,
                                   owner=departments.get(str(item.owner or default_owner or "").upper())))
    return results


def _import_one(item: ParsedFile, *, now, fields, agencies, owner) -> FileResult:
    document = db.session.scalar(sa.select(Document).where(Document.code == item.document_code))
    if document is None:
        document = documents.create_document(actor=None, code=item.document_code, title=item.title,
                                             kind=item.kind, owner=owner,
                                             review_interval_months=item.review_interval_months)
        version = documents.draft_version(document, actor=None, title=item.title, body=item.body,
                                          change_summary=item.change_summary or "Ban hành lần đầu",
                                          now=now)
        if item.procedure:
            procedure = procedures.create_procedure(
                code=item.procedure["code"], name=item.procedure["name"],
                field=fields[item.procedure["field"]], level=AgencyLevel(item.procedure["level"]),
                document=document, agencies=[agencies[c] for c in item.procedure["agencies"]])
            procedures.write_procedure_data(version, procedure, item.data)
        # The office's current practice, imported as it stands: effective from today.
        version.status = VersionStatus.effective
        version.effective_date = localtime.date_of(now)
        document.next_review_due = documents._add_months(version.effective_date,
                                                         document.review_interval_months)
        audit_log.record(db.session, "document_version.imported", version, note=str(item.path))
        return FileResult(item.path, "created", document.code, version.number)

    if owner is not None and document.owner_department_id != owner.id:
        document.owner_department = owner
    procedure = None
    if item.procedure:
        procedure = db.session.scalar(sa.select(Procedure).where(Procedure.document_id == document.id))
        procedure.name = item.procedure["name"]
        procedure.field = fields[item.procedure["field"]]
        procedure.level = AgencyLevel(item.procedure["level"])
        procedure.agencies = [agencies[c] for c in item.procedure["agencies"]]
        procedures.refresh_search_text(procedure)
    latest = _latest(document)
    if latest is not None and latest.content_hash == item.content_hash:
        db.session.flush()
        return FileResult(item.path, "unchanged", document.code, latest.number)
    base = documents.effective_version(document) or latest
    draft = documents.open_version(document)
    summary = item.change_summary or f"Cập nhật từ tệp {item.path.name}"
    if draft is None:
        draft = documents.draft_version(document, actor=None, title=item.title, body=item.body,
                                        change_summary=summary, now=now)
        outcome = "draft"
    else:
        documents.edit_draft(draft, actor=None, title=item.title, body=item.body, change_summary=summary)
        outcome = "updated-draft"
    if procedure is not None:
        procedures.write_procedure_data(draft, procedure, item.data)
    audit_log.record(db.session, f"document_version.imported_{outcome.replace('-', '_')}", draft,
                 note=str(item.path))
    return FileResult(item.path, outcome, document.code, draft.number, diff=describe_changes(base, draft))


def describe_changes(old: DocumentVersion | None, new: DocumentVersion) -> list[str]:
    """The semantic changes, then a unified diff of the text."""
    if old is None:
        return []
    lines = procedures.semantic_diff(procedures.procedure_data_of(old), procedures.procedure_data_of(new))
    if old.title != new.title:
        lines.append(f"Tên: {old.title} → {new.title}")
    lines.extend(difflib.unified_diff(old.body.splitlines(), new.body.splitlines(),
                                      f"lần {old.number}", f"lần {new.number}", lineterm=""))
    return lines


# --- export -------------------------------------------------------------------------------------
def relative_path(document: Document, procedure: Procedure | None) -> Path:
    if procedure is not None:
        return Path("procedures") / procedure.field.code.lower() / f"{procedure.code}.yaml"
    return Path("documents") / f"{document.code}.md"


def render_file(document: Document, version: DocumentVersion, procedure: Procedure | None) -> str:
    if procedure is None:
        meta = {"code": document.code, "title": version.title, "kind": document.kind.value,
                "owner": document.owner_department.code}
        if document.review_interval_months != 12:
            meta["review_interval_months"] = document.review_interval_months
        if version.change_summary:
            meta["change_summary"] = version.change_summary
        return "---\n" + _dump(meta) + "---\n\n" + version.body.rstrip("\n") + "\n"
    data = procedures.procedure_data_of(version)
    document_meta = {"code": document.code, "title": version.title}
    if document.review_interval_months != 12:
        document_meta["review_interval_months"] = document.review_interval_months
    meta = {"code": procedure.code, "name": procedure.name, "field": procedure.field.code,
            "level": procedure.level.value, "document": document_meta,
            "owner": document.owner_department.code}
    if procedure.agencies:
        meta["agencies"] = [a.code for a in procedure.agencies]
    if version.body:
        meta["body"] = version.body
    version_meta = {"change_summary": version.change_summary} if version.change_summary else {}
    version_meta.update({key: data[key] for key in procedures.DATA_KEYS if key in data})
    # Leave out what the parser fills in by itself, so files stay short to read and edit.
    version_meta["components"] = [
        {k: v for k, v in c.items() if (k, v) not in (("originals", 1), ("copies", 0))}
        for c in data["components"]]
    version_meta["steps"] = [{k: v for k, v in step.items() if v != ""} for step in data["steps"]]
    for case in version_meta.get("cases", []):
        case["steps"] = [{k: v for k, v in step.items() if v != ""} for step in case["steps"]]
    meta["version"] = version_meta
    return _dump(meta)


def _dump(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def export_tree(root: Path) -> list[Path]:
    """Write each document's newest (non-withdrawn) version to `root` in the import format."""
    written = []
    for document in db.session.scalars(sa.select(Document).order_by(Document.code)):
        version = _latest(document)
        if version is None:
            continue
        procedure = db.session.scalar(sa.select(Procedure).where(Procedure.document_id == document.id))
        path = root / relative_path(document, procedure)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_file(document, version, procedure), encoding="utf-8")
        written.append(path)
    return written
