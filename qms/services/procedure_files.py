"""procedures_iso/: human-editable files as the source of truth for documents and procedures.

Two formats (procedures_iso/README.md documents both):
- `*.md`: a system document (manual, policy, objectives, system procedure, form) as
  Markdown with YAML front matter;
- `*.yaml`: an administrative procedure with its internal process.

Import is one transaction: every file is checked first (its shape against one pydantic
schema, its process against procedures.problems_in, its codes against the database), every
problem is named by file and field path, and one bad file writes nothing.
A new file creates an effective first version; a changed file becomes a *draft* (never an
overwrite of an approved version); an unchanged file does nothing.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import pydantic
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
    StepKind,
    StepRole,
    SupplementRule,
    TimeUnit,
    User,
    VersionStatus,
)
from qms.services import audit_log, documents, procedures
from qms.text import nfc, strip_controls

# Not documents: the ISO 9001:2015 clause list is data for qms.services.iso_clauses.
SKIPPED_NAMES = {"README.md", "iso9001_2015_clauses.yaml"}
SUFFIXES = (".md", ".yaml", ".yml")
DOCUMENT_KINDS = tuple(k.value for k in DocumentKind if k is not DocumentKind.process)


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


# --- the file schema ---------------------------------------------------------------------------
# One schema for both formats: the shape of a file (which fields, their types, the enums,
# the sizes). The process rules (a positive limit in halves of days, step times in quarter
# hours, the first and last step, the capacity of the limit, case keys) stay in
# procedures.problems_in, shared with the app; what needs the database (field, agency and
# department codes) is checked by import_tree.
CODE_MAX = 32  # Document.code, Procedure.code and Field / Agency / Department.code: String(32)
CASE_KEY_MAX = 48  # ProcedureCase.key: String(48)
TITLE_MAX = 500  # a document's title, as the app's form allows
NAME_MAX = 1000  # a procedure's or a case's name: official names run past 500 characters
LINE_MAX = 500  # a legal basis, a component, a step's name, who does it, what it produces
TEXT_MAX = 2000  # fee, result, change summary
BODY_MAX = 200_000  # a document's text (the longest shipped one has 10,000 characters)
STEPS_MAX = 100  # per process: a 20,000-step file took a minute to make a control slip
CASES_MAX = 20
COMPONENTS_MAX = 200  # as a dossier's components in the API
LEGAL_BASES_MAX = 50
AGENCIES_MAX = 1000  # a province's communes and departments
COPIES_MAX = 100  # originals or copies of one component
SUPPLEMENT_MAX = 10  # supplementation requests allowed
# A limit in calendar days is checked on every receipt day of three years: a year-long
# limit already takes a second or two (procedures.capacity).
TIME_LIMIT_MAX = 365
STEP_HOURS_MAX = 8 * TIME_LIMIT_MAX  # a step longer than the longest limit never fits it
REVIEW_MONTHS = (1, 60)


def _text(max_length: int, *, required: bool = True, strip: bool = True, upper: bool = False):
    """A text field: invisible control characters dropped (qms.text.strip_controls), spaces
    around it stripped, NFC; a number, list or mapping is refused, not turned into text."""
    return Annotated[str, pydantic.StringConstraints(strip_whitespace=strip, to_upper=upper,
                                                     min_length=1 if required else 0,
                                                     max_length=max_length),
                     pydantic.BeforeValidator(strip_controls), pydantic.AfterValidator(nfc)]


Code = _text(CODE_MAX, upper=True)  # field, agency, department and document codes
Count = Annotated[int, pydantic.Strict(), pydantic.Field(ge=0, le=COPIES_MAX)]
# Finite numbers; their sign and quarter hours are procedures.problems_in's rules. The
# limit is stored as Numeric(8, 2): a third decimal would be lost.
TimeLimit = Annotated[Decimal, pydantic.Field(allow_inf_nan=False, decimal_places=2, le=TIME_LIMIT_MAX)]
Hours = Annotated[Decimal, pydantic.Field(allow_inf_nan=False, le=STEP_HOURS_MAX)]
ReviewMonths = Annotated[int, pydantic.Strict(), pydantic.Field(ge=REVIEW_MONTHS[0], le=REVIEW_MONTHS[1])]


class _Schema(pydantic.BaseModel):
    # An unknown key is refused: a misspelt `same_dya: true` or `legal_basis:` would
    # otherwise leave the default in its place without a word.
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, value):
        """`fee:` with nothing after it (YAML's null) is the same as leaving it out."""
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if item is not None}
        return value


class StepSchema(_Schema):
    name: _text(LINE_MAX)
    kind: StepKind
    role: StepRole
    responsible: _text(LINE_MAX, required=False) = ""
    hours: Hours
    output: _text(LINE_MAX, required=False) = ""


Steps = Annotated[list[StepSchema], pydantic.Field(max_length=STEPS_MAX)]


class ComponentSchema(_Schema):
    name: _text(LINE_MAX)
    originals: Count = 1
    copies: Count = 0

    @pydantic.model_validator(mode="before")
    @classmethod
    def _name_alone(cls, value):
        """A component may be its name alone: one original, no copy."""
        return {"name": value} if isinstance(value, str) else value


class CaseSchema(_Schema):
    key: _text(CASE_KEY_MAX)
    name: _text(NAME_MAX)
    time_limit: TimeLimit
    time_unit: TimeUnit
    same_day: bool = False
    fee: _text(TEXT_MAX, required=False) = ""
    steps: Steps


class VersionSchema(_Schema):
    change_summary: _text(TEXT_MAX, required=False) = ""
    legal_bases: Annotated[list[_text(LINE_MAX)], pydantic.Field(max_length=LEGAL_BASES_MAX)] = []
    time_limit: TimeLimit
    time_unit: TimeUnit
    same_day: bool = False
    supplement_rule: SupplementRule = SupplementRule.restart
    supplement_max: Annotated[int, pydantic.Strict(), pydantic.Field(ge=0, le=SUPPLEMENT_MAX)] = 1
    pauses: Annotated[list[PauseKind], pydantic.Field(max_length=len(PauseKind))] = []
    fee: _text(TEXT_MAX, required=False) = ""
    online_level: OnlineLevel = OnlineLevel.partial
    result: _text(TEXT_MAX, required=False) = ""
    components: Annotated[list[ComponentSchema], pydantic.Field(max_length=COMPONENTS_MAX)] = []
    steps: Steps
    cases: Annotated[list[CaseSchema], pydantic.Field(max_length=CASES_MAX)] = []


class DocumentRefSchema(_Schema):
    code: Code
    title: _text(TITLE_MAX)
    review_interval_months: ReviewMonths = 12


class ProcedureFileSchema(_Schema):
    """procedures/<field>/<code>.yaml"""
    code: _text(CODE_MAX)
    name: _text(NAME_MAX)
    field: Code
    level: AgencyLevel
    agencies: Annotated[list[Code], pydantic.Field(max_length=AGENCIES_MAX)] = []
    owner: Code | None = None
    document: DocumentRefSchema
    body: _text(BODY_MAX, required=False, strip=False) = ""
    version: VersionSchema


class FrontMatterSchema(_Schema):
    """documents/<code>.md: the front matter; the Markdown after it is the body."""
    code: Code
    title: _text(TITLE_MAX)
    kind: Literal[DOCUMENT_KINDS]
    owner: Code | None = None
    review_interval_months: ReviewMonths = 12
    change_summary: _text(TEXT_MAX, required=False) = ""


def _validated(schema: type[_Schema], meta, where: str, problems: list[str]):
    """`meta` as `schema`, or None with a problem per wrong field, named by its path."""
    try:
        return schema.model_validate(meta)
    except pydantic.ValidationError as error:
        problems.extend(f"{where}: {_field_path(e['loc'])}: {_message(e)}"
                        for e in error.errors(include_url=False))
        return None


def _field_path(loc: tuple) -> str:
    """('version', 'steps', 1, 'hours') → version.steps[2].hours: items counted from 1, as
    the rules' messages count steps ("Bước 2")."""
    path = ""
    for part in loc:
        path += f"[{part + 1}]" if isinstance(part, int) else f"{'.' if path else ''}{part}"
    return path or "(file)"


def _message(error: dict) -> str:
    """pydantic's message, said plainly where a YAML slip is the likely cause."""
    kind, value = error["type"], error.get("input")
    if kind in ("decimal_type", "decimal_parsing"):
        return "Input should be a valid number"
    if kind == "list_type" and isinstance(value, str):
        return "Input should be a list, not a single text: write each item on its own line after '- '"
    if kind == "string_type" and isinstance(value, (bool, int, float, date)):
        return "Input should be a valid string: put it in quotes (YAML read it as a number, date or yes/no)"
    if kind == "string_type" and isinstance(value, dict):
        return "Input should be a valid string: put it in quotes (YAML read ': ' in it as a mapping)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "Input should be a mapping of fields (key: value lines)"
    if kind == "extra_forbidden":
        return "Unknown field (misspelt, or in the wrong place?)"
    return error["msg"]


# --- parsing --------------------------------------------------------------------------------
def _load_yaml(text: str, where: str, problems: list[str]) -> dict | None:
    try:
        meta = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        detail = "nested too deeply" if isinstance(error, RecursionError) else error
        problems.append(f"{where}: not valid YAML ({detail})")
        return None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        problems.append(f"{where}: must be a YAML mapping (key: value lines)")
        return None
    return meta


def parse_markdown(path: Path, text: str, problems: list[str]) -> ParsedFile | None:
    where = str(path)
    if not text.startswith("---\n") or text.count("---\n") < 2:
        problems.append(f"{where}: must start with a YAML front matter block between two '---' lines")
        return None
    _, front, body = text.split("---\n", 2)
    meta = _load_yaml(front, f"{where}: front matter", problems)
    if meta is None:
        return None
    front_matter = _validated(FrontMatterSchema, meta, where, problems)
    body = nfc(strip_controls(body.strip("\n"))) + "\n"
    if len(body) > BODY_MAX:
        problems.append(f"{where}: the text after the front matter is longer than {BODY_MAX:,} characters")
        return None
    if front_matter is None:
        return None
    return ParsedFile(path, front_matter.code, front_matter.title, DocumentKind(front_matter.kind), body,
                      front_matter.change_summary, front_matter.owner, front_matter.review_interval_months)


def _steps_data(steps: list[StepSchema]) -> list[dict]:
    return [{"name": s.name, "kind": s.kind.value, "role": s.role.value, "responsible": s.responsible,
             "hours": s.hours, "output": s.output} for s in steps]


def _procedure_data(version: VersionSchema) -> dict:
    """The canonical procedure data (procedures.procedure_data_of's shape, whose content
    hash tells an unchanged file)."""
    data = {
        "legal_bases": list(version.legal_bases), "time_limit": version.time_limit,
        "time_unit": version.time_unit.value, "same_day": version.same_day,
        "supplement_rule": version.supplement_rule.value, "supplement_max": version.supplement_max,
        "fee": version.fee, "online_level": version.online_level.value, "result": version.result,
        "components": [c.model_dump() for c in version.components],
        "steps": _steps_data(version.steps),
    }
    if version.pauses:  # left out when empty, as procedures.procedure_data_of does
        data["pauses"] = [kind.value for kind in version.pauses]
    if version.cases:
        data["cases"] = [{"key": c.key, "name": c.name, "time_limit": c.time_limit,
                          "time_unit": c.time_unit.value, "same_day": c.same_day, "fee": c.fee,
                          "steps": _steps_data(c.steps)} for c in version.cases]
    return data


def parse_procedure(path: Path, text: str, problems: list[str]) -> ParsedFile | None:
    where = str(path)
    meta = _load_yaml(text, where, problems)
    if meta is None:
        return None
    procedure = _validated(ProcedureFileSchema, meta, where, problems)
    if procedure is None:
        return None
    data = _procedure_data(procedure.version)
    rules = procedures.problems_in(data)
    if rules:
        problems.extend(f"{where}: version: {message}" for message in rules)
        return None
    for process in [data, *data.get("cases", [])]:
        process["time_limit"] = procedures.number(process["time_limit"])
        for step in process["steps"]:
            step["hours"] = procedures.number(step["hours"])
    return ParsedFile(path, procedure.document.code, procedure.document.title, DocumentKind.process,
                      procedure.body, procedure.version.change_summary, procedure.owner,
                      procedure.document.review_interval_months,
                      procedure={"code": procedure.code, "name": procedure.name, "field": procedure.field,
                                 "level": procedure.level.value, "agencies": list(procedure.agencies)},
                      data=data)


def _paths(root: Path, problems: list[str]) -> list[Path]:
    """The files to read: `root` itself, or the .md, .yaml and .yml files under it. A .json
    file is refused by name rather than skipped: it would look imported and not be."""
    if root.is_file():
        candidates = [root]
    else:
        candidates = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIPPED_NAMES)
    paths = []
    for path in candidates:
        suffix = path.suffix.lower()
        if suffix in SUFFIXES:
            paths.append(path)
        elif suffix == ".json":
            problems.append(f"{path}: JSON files are not imported; write the procedure as YAML in a "
                            ".yaml file (JSON is valid YAML: renaming the file is enough)")
        elif path == root:
            problems.append(f"{path}: only .md, .yaml and .yml files are imported")
    return paths


def parse_tree(root: Path) -> tuple[list[ParsedFile], list[str]]:
    problems: list[str] = []
    parsed: list[ParsedFile] = []
    if not root.exists():
        return [], [f"{root}: no such file or folder"]
    for path in _paths(root, problems):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read as UTF-8 text ({error})")
            continue
        result = (parse_markdown if path.suffix.lower() == ".md" else parse_procedure)(path, text, problems)
        if result is not None:
            parsed.append(result)
    # Two files of one run for one document or one procedure: both are named, neither wins.
    documents_seen: dict[str, Path] = {}
    procedures_seen: dict[str, Path] = {}
    for item in parsed:
        if item.document_code in documents_seen:
            problems.append(f"{item.path}: document code {item.document_code} is also used by "
                            f"{documents_seen[item.document_code]}")
        documents_seen.setdefault(item.document_code, item.path)
        if item.procedure is None:
            continue
        code = item.procedure["code"]
        if code in procedures_seen:
            problems.append(f"{item.path}: procedure code {code} is also used by {procedures_seen[code]}")
        procedures_seen.setdefault(code, item.path)
    return parsed, problems


# --- import -------------------------------------------------------------------------------------
def _latest(document: Document) -> DocumentVersion | None:
    return next((v for v in reversed(document.versions) if v.status is not VersionStatus.withdrawn), None)


def _agency_of(target: Document | Department) -> Agency:
    return (target.owner_department if isinstance(target, Document) else target).agency


def import_tree(root: Path, *, now: datetime, default_owner: str | None = None,
                actor: User | None = None) -> list[FileResult]:
    """Import every file under `root`. All or nothing: raises FileProblems naming each bad
    file and field before anything is written, or if a write is refused. With an `actor`
    (an upload in the app), only documents that the actor may draft are touched: their
    own agency's (qms.authz); the CLI imports as the system."""
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
        target = existing if existing is not None else departments.get(str(owner or "").upper())
        if actor is not None and target is not None and not documents.may(actor, "draft", target):
            problems.append(f"{item.path}: document {item.document_code} belongs to "
                            f"{_agency_of(target).name}; you may import only your own agency's documents")
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
            own = None if existing is None else db.session.scalar(sa.select(Procedure).where(Procedure.document_id == existing.id))
            if own is not None and own.code != item.procedure["code"]:
                # The import updates the procedure's name and field, never its code.
                problems.append(f"{item.path}: document {item.document_code} is the process of procedure "
                                f"{own.code}, not {item.procedure['code']}")
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
