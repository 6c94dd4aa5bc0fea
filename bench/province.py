"""Province scale (issue 12): a synthetic province on PostgreSQL, and a runner that measures
the app against hand-written SQL floors on it.

    python bench/province.py generate --dossiers 1000000 [--months 12] [--communes 100] [--seed 1]
    python bench/province.py measure [--repeat 5] [--json FILE]

`generate` drops and recreates one schema (default `bench_province` in
postgresql+psycopg://postgres@127.0.0.1:5432/test; other schemas, e.g. the tests'
`qms_test_*`, are never touched), builds it with the migrations, creates the organisation
through the services (the demo province, then communes up to `--communes`, each with a
one-stop office and four specialist departments; the shipped procedures imported), and
bulk-loads the dossiers, their steps, events and the automatic nonconformities with COPY.
The same seed gives the same rows.

The dossiers are consistent with the app's rules: due times on the agency's working
calendar (qms.calendar.WorkCalendar, checked against services.dossiers.due_time on a
sample), steps handed over when the previous one completes and due after their allotted
working time, `processed_at` = the last step's completion, early / on time / late derivable
by services.timeliness. Nothing stores a class: it is what the times say.

`measure` opens the app on that schema with the clock frozen at the generated "now"
(Friday 4 December 2026, 16:00 local) and times each entry of MEASUREMENTS (median of
`--repeat`), next to a hand-written SQL floor where one is defined; prints a table and
writes JSON. MEASUREMENTS is a dict: add an entry for each new figure.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_SCHEMA = "bench_province"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
OFFSET = 7 * 3600  # Asia/Ho_Chi_Minh has no daylight saving time
NOW = datetime(2026, 12, 4, 16, 0, tzinfo=VN)  # the moment the generated province is read at
MEASURED_MONTH = date(2026, 11, 1)  # the last ended month at NOW
BENCH_PASSWORD = "Bench-password-2026"

# Specialist departments of each commune, and which one handles a field's specialist steps
COMMUNE_DEPARTMENTS = (("VP", "Văn phòng HĐND và UBND"), ("VHXH", "Phòng Văn hóa - Xã hội"),
                       ("KT", "Phòng Kinh tế, Hạ tầng và Đô thị"), ("TP", "Tư pháp - Hộ tịch"))
COMMUNE_FIELD_DEPARTMENT = {"HT": "TP", "CTH": "TP", "DD": "KT", "XD": "KT", "HKD": "KT",
                            "DKDN": "KT", "BTXH": "VHXH", "NCC": "VHXH", "LD": "VHXH",
                            "GD": "VHXH", "VH": "VHXH"}
PROVINCE_FIELD_DEPARTMENT = {"HT": "CT-STP", "CTH": "CT-STP", "TP": "CT-STP", "XD": "CT-SXD",
                             "DD": "CT-SNNMT"}
# Share of a commune's dossiers by field (certification and civil status dominate)
FIELD_WEIGHTS = {"CTH": 40, "HT": 30, "HKD": 6, "BTXH": 5, "NCC": 3, "LD": 2, "DD": 6, "XD": 5,
                 "DKDN": 1, "GD": 1, "VH": 1}
PROVINCE_SHARE = 0.10  # dossiers of province-level procedures, at the province's centre
COMMUNE_SKEW = 0.8  # commune k (from 1) receives in proportion to k ** -COMMUNE_SKEW
STUCK_DAYS = 60  # a stuck dossier stays open at NOW only if received in the last 60 days
CHANNELS = (("direct", 60), ("online", 35), ("postal", 5))
# The outcome drawn for a dossier (its times then follow; a dossier whose planned end is
# after NOW is simply still open at NOW)
OUTCOMES = (("early", 47.0), ("on_time", 42.0), ("late", 4.0), ("stuck", 1.0),
            ("refused", 1.5), ("withdrawn", 0.5), ("supplement", 4.0))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the app on a schema ----------------------------------------------------------------------
def app_for(url: str, schema: str, **extra):
    """The app on `schema` (search_path, as tests/conftest.py does for its PostgreSQL runs)."""
    os.environ.setdefault("QMS_INSTANCE_PATH", tempfile.mkdtemp(prefix="qms-bench-"))
    from qms import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={schema}"}},
        "SECRET_KEY": "bench-secret", "SECURE_COOKIES": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # No escalation inside the measured requests (it would write notifications)
        "ESCALATION_AUTO_MINUTES": 0, **extra})


def psycopg_connect(url: str, schema: str):
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(plain, options=f"-csearch_path={schema}")


# --- working time, cheaply ----------------------------------------------------------------------
class Timeline:
    """Working time as one integer axis: working second W of the province's calendar. Working
    day j covers (j * day, (j + 1) * day]; an instant is an epoch second (UTC). Adding working
    time is then an addition, as WorkCalendar.add_working_minutes computes it (a result on
    the end of a period stays there), checked against it in `check`."""

    def __init__(self, calendar, first: date, last: date):
        self.calendar = calendar
        self.periods = [(p[0].hour * 3600 + p[0].minute * 60, p[1].hour * 3600 + p[1].minute * 60)
                        for p in calendar.hours.periods]
        self.day = sum(end - start for start, end in self.periods)
        self.days: list[date] = []
        day = first
        while day <= last:
            if calendar.is_working_day(day):
                self.days.append(day)
            day += timedelta(days=1)
        self.index = {d: j for j, d in enumerate(self.days)}
        epoch0 = date(1970, 1, 1)
        self.midnight = [((d - epoch0).days * 86400) - OFFSET for d in self.days]

    def at(self, w: int) -> int:
        """The instant (epoch seconds) of working second `w` > 0."""
        j, off = divmod(w - 1, self.day)
        off += 1
        for start, end in self.periods:
            if off <= end - start:
                return self.midnight[j] + start + off
            off -= end - start
        raise AssertionError("offset past the working day")

    def working(self, epoch: int) -> int:
        """The working second of instant `epoch` (an instant outside working time counts as
        the next working instant, like WorkCalendar.working_start)."""
        local_day = date(1970, 1, 1) + timedelta(days=(epoch + OFFSET) // 86400)
        seconds = (epoch + OFFSET) % 86400
        j = self.index.get(local_day)
        if j is None:  # a day off: the next working day's start
            j = bisect.bisect_left(self.days, local_day)
            return j * self.day
        worked = 0
        for start, end in self.periods:
            if seconds <= start:
                break
            worked += min(seconds, end) - start
        return j * self.day + worked

    def day_start(self, j: int) -> int:
        return j * self.day

    def day_of(self, w: int) -> int:
        """The working-day index holding working second w (its local date is days[j])."""
        return (w - 1) // self.day

    def close(self, j: int) -> int:
        return (j + 1) * self.day

    def local_date(self, epoch: int) -> date:
        return date(1970, 1, 1) + timedelta(days=(epoch + OFFSET) // 86400)


def local_day(epoch: int) -> int:
    """The local date of an instant as a day number (compares like the date)."""
    return (epoch + OFFSET) // 86400


def dt(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass
class Rule:
    """A procedure version's time rule and main-case process, loaded once."""

    procedure_id: int
    version_id: int
    code: str
    field: str
    level: str
    same_day: bool
    unit: str
    limit: float
    restart: bool
    steps: list[tuple[int, str, str, int]] = field(default_factory=list)  # (process_step_id, name, role, minutes)
    calendar_due: dict = field(default_factory=dict)

    def due(self, tl: Timeline, received: int) -> int:
        """The legal due time (epoch) of a dossier received at `received` (working time)."""
        if self.same_day:  # received by 15:00 → that day's close, else the next day's
            w = tl.working(received)
            j = tl.day_of(w) if w % tl.day else w // tl.day - 1
            local = (received + OFFSET) % 86400
            if tl.local_date(received) == tl.days[j] and local > 15 * 3600:
                j += 1
            return tl.at(tl.close(j))
        if self.unit == "calendar_days":
            day = tl.local_date(received)
            if day not in self.calendar_due:
                wanted = day + timedelta(days=int(self.limit))
                j = bisect.bisect_left(tl.days, wanted)
                self.calendar_due[day] = tl.at(tl.close(j))
            return self.calendar_due[day]
        minutes = int(self.limit * 60) if self.unit == "working_hours" else int(self.limit * 480)
        return tl.at(tl.working(received) + minutes * 60)


# --- COPY text ---------------------------------------------------------------------------------
_day_prefix: dict[int, str] = {}


def ts(epoch: int | None) -> str:
    """An instant as COPY text (UTC)."""
    if epoch is None:
        return "\\N"
    day, rest = divmod(epoch, 86400)
    prefix = _day_prefix.get(day)
    if prefix is None:
        prefix = _day_prefix[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    return f"{prefix} {rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}+00"


def local_text(epoch: int) -> str:
    """"HH:MM dd/mm/YYYY" local, as the automatic nonconformities describe a due time."""
    local = epoch + OFFSET
    d = date(1970, 1, 1) + timedelta(days=local // 86400)
    rest = local % 86400
    return f"{rest // 3600:02d}:{rest // 60 % 60:02d} {d:%d/%m/%Y}"


def nn(value) -> str:
    return "\\N" if value is None else str(value)


# --- generate ------------------------------------------------------------------------------------
def build_organisation(app, communes: int, start: datetime):
    """The demo province through the services, then communes up to `communes`, each with its
    one-stop office and four specialist departments; the shipped procedures imported."""
    import sqlalchemy as sa

    from qms.extensions import db
    from qms.models import Agency, AgencyLevel, Department
    from qms.services import demo, org

    demo.seed_demo(now=start - timedelta(days=30))
    db.session.flush()
    province = db.session.scalar(sa.select(Agency).where(Agency.code == "CT"))
    existing = db.session.scalars(sa.select(Agency).where(
        Agency.level == AgencyLevel.commune).order_by(Agency.id)).all()
    agencies = list(existing)
    for n in range(len(existing), communes):
        agencies.append(org.save_agency(None, actor=None, code=f"CT-X{n:03d}", name=f"Xã Thử Nghiệm {n}",
                                        level=AgencyLevel.commune, parent=province,
                                        effective_from=demo.REFORM_DAY))
    for agency in agencies[:communes]:
        prefix = agency.code.removeprefix("CT-")
        have = {d.code for d in db.session.scalars(sa.select(Department).where(
            Department.agency_id == agency.id))}
        if f"{prefix}-TTPVHCC" not in have:
            org.save_department(None, actor=None, code=f"{prefix}-TTPVHCC",
                                name=f"Trung tâm Phục vụ hành chính công {agency.name}",
                                agency=agency, is_one_stop=True)
        for suffix, name in COMMUNE_DEPARTMENTS:
            if f"{prefix}-{suffix}" not in have:
                org.save_department(None, actor=None, code=f"{prefix}-{suffix}",
                                    name=f"{name} {agency.name}", agency=agency)
    db.session.commit()
    return agencies[:communes]


def load_rules(tl_calendar) -> list[Rule]:
    import sqlalchemy as sa

    from qms.extensions import db
    from qms.models import Procedure
    from qms.services.dossiers import _version_in_force

    rules = []
    for procedure in db.session.scalars(sa.select(Procedure).order_by(Procedure.code)):
        pv = _version_in_force(procedure)
        rule = Rule(procedure.id, pv.id, procedure.code, procedure.field.code, procedure.level.value,
                    pv.same_day, pv.time_unit.value, float(pv.time_limit),
                    pv.supplement_rule.value == "restart")
        rule.steps = [(s.id, s.name, s.role.value, s.minutes) for s in pv.steps]
        rule.pv = pv
        rules.append(rule)
    return rules


def check_rules(rules: list[Rule], tl: Timeline, rng: random.Random, samples: int = 300) -> None:
    """The cheap arithmetic equals the app's own (services.dossiers.due_time and
    WorkCalendar.add_working_minutes) on a sample of receipt times."""
    from qms.services.dossiers import due_time

    for _ in range(samples):
        rule = rng.choice(rules)
        received = tl.at(rng.randrange(1, len(tl.days) // 2 * tl.day))
        expected = due_time(rule.pv, dt(received), tl.calendar)
        got = dt(rule.due(tl, received))
        assert got == expected, (rule.code, dt(received), got, expected)
        minutes = rng.choice(rule.steps)[3]
        expected = tl.calendar.add_working_minutes(dt(received), minutes)
        got = dt(tl.at(tl.working(received) + minutes * 60))
        assert got == expected, (minutes, dt(received), got, expected)


def generate(args) -> None:
    import flask_migrate
    import sqlalchemy as sa

    from qms.extensions import db
    from qms.models import Agency, Department, User
    from qms.services import calendars

    total_start = time.perf_counter()
    months = args.months
    start_local = datetime(NOW.year - (1 if months >= NOW.month else 0),
                           (NOW.month - months - 1) % 12 + 1, 1, tzinfo=VN)
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{args.schema}"'))
    admin.dispose()
    app = app_for(args.database_url, args.schema)
    with app.app_context():
        flask_migrate.upgrade()
        log("schema migrated")
        agencies = build_organisation(app, args.communes, start_local)
        province = db.session.scalar(sa.select(Agency).where(Agency.code == "CT"))
        calendar = calendars.calendar_for(province)
        tl = Timeline(calendar, start_local.date() - timedelta(days=7), NOW.date() + timedelta(days=400))
        rules = load_rules(calendar)
        rng = random.Random(args.seed)
        check_rules(rules, tl, rng)
        departments = {d.code: d.id for d in db.session.scalars(sa.select(Department))}
        officer_id = db.session.scalar(sa.select(User.id).where(User.username == "officer"))
        offices = []  # (agency id, agency code, office id, {field: specialist id}, office VP id)
        for agency in agencies:
            prefix = agency.code.removeprefix("CT-")
            offices.append((agency.id, agency.code, departments[f"{prefix}-TTPVHCC"],
                            {f: departments[f"{prefix}-{s}"] for f, s in COMMUNE_FIELD_DEPARTMENT.items()},
                            departments[f"{prefix}-VP"]))
        centre = (province.id, "CT", departments["CT-TTPVHCC"],
                  {f: departments[d] for f, d in PROVINCE_FIELD_DEPARTMENT.items()}, departments["CT-VP"])
        lookup_hash = db.session.scalar(sa.text("SELECT 'pbkdf2:sha256:20000$bench$' || md5('bench')"))
        log(f"organisation: {len(agencies)} communes, {len(departments)} departments, "
            f"{len(rules)} procedures (checked against the app's due times)")
    n_steps = load_dossiers(args, tl, rules, offices, centre, officer_id, lookup_hash, rng, start_local)
    finish(args)
    took = time.perf_counter() - total_start
    log(f"done: {args.dossiers} dossiers, {n_steps} steps in {took:.0f} s "
        f"({(args.dossiers + n_steps) / took:,.0f} rows/s overall)")


def load_dossiers(args, tl: Timeline, rules, offices, centre, officer_id, lookup_hash, rng, start_local) -> int:
    now = int(NOW.timestamp())
    first_day = bisect.bisect_left(tl.days, start_local.date())
    last_day = bisect.bisect_right(tl.days, NOW.date()) - 1
    days = list(range(first_day, last_day + 1))
    # dossiers per working day (the last day only until NOW)
    today_share = (tl.working(now) - tl.day_start(last_day)) / tl.day
    weights = [1.0] * (len(days) - 1) + [today_share]
    per_day = [int(args.dossiers * w / sum(weights)) for w in weights]
    per_day[0] += args.dossiers - sum(per_day)

    province_rules = [r for r in rules if r.level == "province"]
    commune_rules = [r for r in rules if r.level == "commune"]
    by_field: dict[str, list[Rule]] = {}
    for rule in commune_rules:
        by_field.setdefault(rule.field, []).append(rule)
    fields = [f for f in FIELD_WEIGHTS if f in by_field]
    field_cum = list(_cumulative([FIELD_WEIGHTS[f] for f in fields]))
    office_cum = list(_cumulative([k ** -COMMUNE_SKEW for k in range(1, len(offices) + 1)]))
    channel_cum = list(_cumulative([w for _c, w in CHANNELS]))
    outcome_cum = list(_cumulative([w for _o, w in OUTCOMES]))

    conn = psycopg_connect(args.database_url, args.schema)
    conn.execute("SET synchronous_commit = off")
    # The rows are consistent by construction: skip the per-row foreign-key triggers
    conn.execute("SET session_replication_role = replica")
    # Secondary indexes are built once after the load (a sorted build) rather than grown row by
    # row; the primary keys and unique constraints stay (they check the generator's ids and codes).
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename IN ('dossier', 'dossier_step', 'dossier_event', 'nonconformity') "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))").fetchall()
    for name, _definition in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    counters = {"dossiers": 0, "steps": 0, "events": 0, "ncs": 0, "late_steps": 0}
    ids = {"dossier": 0, "step": 0, "event": 0, "nc": 0}
    buffers: dict[str, list[str]] = {"dossier": [], "dossier_step": [], "dossier_event": [],
                                     "nonconformity": [], "dossier_sequence": []}
    columns = {
        "dossier": "id, code, lookup_secret_hash, agency_id, department_id, processing_agency_id, "
                   "procedure_id, procedure_version_id, case_key, channel, applicant_name, "
                   "applicant_id_number, applicant_phone, applicant_address, applicant_email, "
                   "components, return_method, status, registered_at, received_at, received_by_id, "
                   "original_due_at, due_at, processed_at, returned_at, returned_via, paused_at, promised_at",
        "dossier_step": "id, dossier_id, position, process_step_id, name, role, minutes, department_id, "
                        "handed_over_at, handed_over_by_id, due_at, completed_at, completed_by_id, note, result",
        "dossier_event": "id, dossier_id, kind, at, by_id, department_id, reason, due_before, due_after, "
                         "step_position, late, pause_kind",
        "nonconformity": "id, code, source, origin_key, department_id, clause, severity, description, "
                         "correction, detected_by_id, detected_at, status, rejected_reason, closed_at, "
                         "dossier_id, dossier_step_id, procedure_id",
        "dossier_sequence": "agency_id, day, last",
    }

    copy_time = [0.0]
    # One thread writes while the main one generates: psycopg waits on the socket without
    # the GIL, so the two cores work at once (Python building rows, PostgreSQL taking them).
    pending: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def writer():
        while (batch := pending.get()) is not None:
            try:
                t = time.perf_counter()
                with conn.cursor() as cur:
                    for table, text in batch:
                        with cur.copy(f"COPY {table} ({columns[table]}) FROM STDIN") as copy:
                            copy.write(text)
                conn.commit()
                copy_time[0] += time.perf_counter() - t
            except BaseException as error:  # reported by the main thread
                failure.append(error)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()

    def flush():
        if failure:
            raise failure[0]
        pending.put([(table, "".join(rows)) for table, rows in buffers.items() if rows])
        for rows in buffers.values():
            rows.clear()

    t0 = time.perf_counter()
    last_report = t0
    add_d, add_s = buffers["dossier"].append, buffers["dossier_step"].append
    add_e, add_n = buffers["dossier_event"].append, buffers["nonconformity"].append
    nc_year: dict[int, int] = {}

    def new_nc(source, origin, department_id, description, detected, dossier_id, step_id, procedure_id):
        ids["nc"] += 1
        year = tl.local_date(detected).year
        nc_year[year] = nc_year.get(year, 0) + 1
        add_n(f"{ids['nc']}\tNC-{year}-{nc_year[year]:04d}\t{source}\t{origin}\t{department_id}\t8.5.1\tminor\t"
              f"{description}\t\t\\N\t{ts(detected)}\topen\t\t\\N\t{dossier_id}\t{nn(step_id)}\t{procedure_id}\n")
        counters["ncs"] += 1

    for day_no, j in enumerate(days):
        count = per_day[day_no]
        day_local = tl.days[j]
        # receipt instants of the day, in order (working time up to NOW on the last day)
        span = min(tl.day, tl.working(now) - tl.day_start(j)) if j == last_day else tl.day
        moments = sorted(rng.randrange(1, max(2, span)) for _ in range(count))
        sequence: dict[int, int] = {}
        for wm in moments:
            w_received = tl.day_start(j) + wm
            received = tl.at(w_received)
            if rng.random() < PROVINCE_SHARE:
                office, rule = centre, rng.choice(province_rules)
            else:
                office = offices[bisect.bisect(office_cum, rng.random() * office_cum[-1])]
                rule = rng.choice(by_field[fields[bisect.bisect(field_cum, rng.random() * field_cum[-1])]])
            agency_id, agency_code, office_id, specialists, vp_id = office
            seq = sequence[agency_id] = sequence.get(agency_id, 0) + 1
            ids["dossier"] += 1
            dossier_id = ids["dossier"]
            code = f"{agency_code}-{day_local:%y%m%d}-{seq:04d}"
            channel = CHANNELS[bisect.bisect(channel_cum, rng.random() * channel_cum[-1])][0]
            outcome = OUTCOMES[bisect.bisect(outcome_cum, rng.random() * outcome_cum[-1])][0]
            if outcome == "stuck" and received < now - STUCK_DAYS * 86400:
                outcome = "late"  # a dossier stuck for long was finished, late, in the end
            registered = received - rng.randrange(600, 4 * 3600) if channel == "online" else None
            name = f"Công dân {dossier_id}"
            if outcome == "refused":  # Mẫu 03: no steps, no time runs
                add_d(f"{dossier_id}\t{code}\t{lookup_hash}\t{agency_id}\t{office_id}\t\\N\t{rule.procedure_id}\t"
                      f"{rule.version_id}\t\t{channel}\t{name}\t\t\t\t\t[]\t\tnot_accepted\t{ts(registered)}\t"
                      f"{ts(received)}\t{officer_id}\t{ts(received)}\t{ts(received)}\t\\N\t\\N\t\\N\t\\N\t\\N\n")
                ids["event"] += 1
                add_e(f"{ids['event']}\t{dossier_id}\tnot_accepted\t{ts(received)}\t{officer_id}\t{office_id}\t"
                      f"Thiếu thành phần hồ sơ\t\\N\t\\N\t\\N\tf\t\\N\n")
                counters["dossiers"] += 1
                counters["events"] += 1
                continue
            due = original_due = rule.due(tl, received)
            w_due = tl.working(due)
            steps = rule.steps
            step_departments = [office_id if role == "one_stop" else
                                vp_id if role in ("leader", "clerk") else specialists.get(rule.field, vp_id)
                                for _id, _n, role, _m in steps]
            events = []  # (kind, at, department, reason, due_before, due_after, position, late)

            # When processing ends (working second), by the outcome drawn
            def planned_end(w_from: int, w_due_: int, kind: str, n: int = len(steps)) -> int:
                due_day = tl.day_of(w_due_)
                if kind == "early" and tl.day_start(due_day) > w_from + 60 * n:
                    return rng.randrange(w_from + 60 * n, tl.day_start(due_day))
                if kind == "late":
                    return tl.close(due_day) + rng.randrange(60, rng.choice((1, 2, 3, 5)) * tl.day)
                low = max(w_from + 60 * n, tl.day_start(due_day) + 1)
                return rng.randrange(low, max(low + 1, w_due_))

            kind = {"stuck": "on_time", "withdrawn": "on_time", "supplement": rng.choice(
                ("early", "on_time", "on_time"))}.get(outcome, outcome)
            w_end = planned_end(w_received, w_due, kind)
            # completion of each step: the span shared in proportion to the allotted minutes
            shares = [m * rng.uniform(0.6, 1.4) for *_x, m in steps]
            scale = (w_end - w_received) / sum(shares)
            completions, w = [], w_received
            for share in shares:
                w = max(w + 60, w + int(share * scale))
                completions.append(w)
            handed = [w_received] + completions[:-1]
            step_due = [None] * len(steps)
            for k, (_id, _n, _r, minutes) in enumerate(steps):
                step_due[k] = handed[k] + minutes * 60
            open_from = len(steps)  # the first step not completed (len: all done)
            paused_at = None
            status_final = None
            k = rng.randrange(1, len(steps) - 1) if len(steps) > 2 else 0
            w_pause = rng.randrange(handed[k] + 1, max(handed[k] + 2, completions[k]))
            if outcome == "supplement" and k and tl.at(w_pause) <= now:
                # asked for documents during step k; the full limit restarts when they come
                w_resume = w_pause + rng.randrange(tl.day // 2, 8 * tl.day)
                events.append(("supplement_requested", tl.at(w_pause), step_departments[k],
                               "Bổ sung giấy tờ còn thiếu", due, None, None, False))
                if tl.at(w_resume) > now:
                    paused_at, open_from, status_final = tl.at(w_pause), k, "supplement_requested"
                    completions = completions[:k]
                else:
                    resumed = tl.at(w_resume)
                    new_due = rule.due(tl, resumed) if rule.restart else tl.at(
                        w_resume + (w_due - w_pause) // 60 * 60)
                    events.append(("supplement_received", resumed, office_id, "", due, new_due, None, False))
                    due, w_due = new_due, tl.working(new_due)
                    step_due[k] = w_resume + steps[k][3] * 60
                    kind = rng.choice(("early", "on_time", "on_time"))
                    w_end = planned_end(w_resume, w_due, kind)
                    rest = shares[k:]
                    scale = (w_end - w_resume) / sum(rest)
                    w = w_resume
                    for i, share in enumerate(rest, start=k):
                        w = max(w + 60, w + int(share * scale))
                        completions[i] = w
                        if i + 1 < len(steps):
                            handed[i + 1] = w
                            step_due[i + 1] = w + steps[i + 1][3] * 60
            if outcome == "stuck":
                open_from = rng.randrange(1, len(steps))
            elif outcome == "withdrawn":
                open_from = rng.randrange(1, len(steps))
                status_final = "withdrawn"
                events.append(("withdrawn", tl.at(handed[open_from] + 600), office_id,
                               "Công dân xin rút hồ sơ", None, None, None, False))
            # what has happened by NOW
            for k in range(min(open_from, len(completions))):
                if tl.at(completions[k]) > now:
                    open_from = k
                    break
            if status_final == "withdrawn" and tl.at(handed[open_from] + 600) > now:
                status_final, events = None, []
            if rule.same_day:  # steps share the hours left before the dossier's close
                step_due = [min(d, w_due) for d in step_due]
            done_all = open_from >= len(steps)
            processed = tl.at(completions[-1]) if done_all else None
            returned = returned_via = None
            promised = None
            if done_all:
                status = "processed"
                back = tl.at(completions[-1] + rng.randrange(60, 3 * tl.day))
                if back <= now and rng.random() < 0.95:
                    status, returned = "returned", back
                    returned_via = {"direct": "desk", "online": "online", "postal": "postal"}[channel]
                if rng.random() < 0.6 and processed and local_day(processed) > local_day(due):
                    # Mẫu 04, by the department holding the dossier a working day before the due time
                    # (one in five after that: a late apology, itself a nonconformity)
                    late_letter = rng.random() < 0.2
                    w_at = w_due - (rng.randrange(60, 3 * 3600) if late_letter else tl.day + rng.randrange(60, 3 * 3600))
                    w_at = max(w_at, w_received + 60)
                    holder = next((k for k in range(len(steps)) if completions[k] >= w_at), len(steps) - 1)
                    promised = tl.at(tl.close(tl.day_of(max(completions[-1], w_due)) + 1))
                    events.append(("apology", tl.at(w_at), step_departments[holder], "Xin lỗi vì chậm trễ",
                                   due, promised, None, late_letter or w_at > w_due - tl.day))
            else:
                status = status_final or ("processing" if open_from > 0 else "received")
            # rows
            add_d(f"{dossier_id}\t{code}\t{lookup_hash}\t{agency_id}\t{office_id}\t\\N\t{rule.procedure_id}\t"
                  f"{rule.version_id}\t\t{channel}\t{name}\t\t\t\t\t[]\t\t{status}\t{ts(registered)}\t"
                  f"{ts(received)}\t{officer_id}\t{ts(original_due)}\t{ts(due)}\t{ts(processed)}\t"
                  f"{ts(returned)}\t{nn(returned_via)}\t{ts(paused_at)}\t{ts(promised)}\n")
            late_step = None
            for k, (process_step_id, step_name, role, minutes) in enumerate(steps):
                ids["step"] += 1
                step_id = ids["step"]
                handed_k = k <= open_from and (k == 0 or k - 1 < len(completions))
                done_k = k < open_from
                h = tl.at(handed[k]) if handed_k else None
                d = tl.at(step_due[k]) if handed_k else None
                c = tl.at(completions[k]) if done_k else None
                add_s(f"{step_id}\t{dossier_id}\t{k + 1}\t{process_step_id}\t{step_name}\t{role}\t{minutes}\t"
                      f"{step_departments[k] if handed_k else chr(92) + 'N'}\t{ts(h)}\t"
                      f"{officer_id if handed_k else chr(92) + 'N'}\t{ts(d)}\t{ts(c)}\t"
                      f"{officer_id if done_k else chr(92) + 'N'}\t\t\n")
                if done_k and local_day(c) > local_day(d):  # late by the date rule
                    counters["late_steps"] += 1
                    late_step = k
                    new_nc("overdue_step", f"step:{step_id}", step_departments[k],
                           f"Bước “{step_name}” của hồ sơ {code} quá hạn (hạn {local_text(d)}).",
                           c, dossier_id, step_id, rule.procedure_id)
            counters["steps"] += len(steps)
            if processed is not None and local_day(processed) > local_day(due):
                culprit = step_departments[late_step] if late_step is not None else office_id
                new_nc("overdue_dossier", f"dossier:{dossier_id}", culprit,
                       f"Hồ sơ {code} quá hạn trả kết quả (hạn {local_text(due)}).",
                       processed, dossier_id, None, rule.procedure_id)
            for kind_, at, department, reason, before, after, position, late in events:
                ids["event"] += 1
                add_e(f"{ids['event']}\t{dossier_id}\t{kind_}\t{ts(at)}\t{officer_id}\t{department}\t{reason}\t"
                      f"{ts(before)}\t{ts(after)}\t{nn(position)}\t{'t' if late else 'f'}\t\\N\n")
                if kind_ == "apology" and late:
                    new_nc("late_apology", f"apology:{ids['event']}", department,
                           f"Văn bản xin lỗi hồ sơ {code} gửi chậm, lúc {local_text(at)} "
                           f"(hạn trả kết quả {local_text(before)}).", at, dossier_id, None, rule.procedure_id)
            counters["events"] += len(events)
            counters["dossiers"] += 1
        for agency_id, last in sequence.items():
            buffers["dossier_sequence"].append(f"{agency_id}\t{day_local.isoformat()}\t{last}\n")
        if len(buffers["dossier"]) >= 20000 or day_no == len(days) - 1:
            flush()
            if time.perf_counter() - last_report > 10 or day_no == len(days) - 1:
                last_report = time.perf_counter()
                took = last_report - t0
                log(f"{counters['dossiers']:,} dossiers, {counters['steps']:,} steps, "
                    f"{counters['events']:,} events, {counters['ncs']:,} NCs in {took:.0f} s "
                    f"({(counters['dossiers'] + counters['steps']) / took:,.0f} rows/s; COPY {copy_time[0]:.0f} s), "
                    f"up to {day_local}")
    pending.put(None)
    thread.join()
    if failure:
        raise failure[0]
    t = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '512MB'")
    for _name, definition in indexes:
        conn.execute(definition)
        conn.commit()
    log(f"{len(indexes)} secondary indexes built in {time.perf_counter() - t:.0f} s")
    with conn.cursor() as cur:
        for year, last in nc_year.items():
            cur.execute("INSERT INTO code_sequence (scope, last) VALUES (%s, %s)", (f"NC-{year}", last))
        for table in ("dossier", "dossier_step", "dossier_event", "nonconformity"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))")
    conn.commit()
    conn.close()
    log(f"late steps {counters['late_steps']:,} ({100 * counters['late_steps'] / max(1, counters['steps']):.1f} %)")
    return counters["steps"]


CHECKS = {
    "due before receipt": "SELECT count(*) FROM dossier WHERE due_at < received_at",
    "processed before receipt": "SELECT count(*) FROM dossier WHERE processed_at < received_at",
    "returned before processed": "SELECT count(*) FROM dossier WHERE returned_at < processed_at",
    "result status without processed_at":
        "SELECT count(*) FROM dossier WHERE status IN ('processed', 'returned') AND processed_at IS NULL",
    "processed_at is not the last step's completion":
        "SELECT count(*) FROM dossier d JOIN LATERAL (SELECT completed_at FROM dossier_step s "
        "WHERE s.dossier_id = d.id ORDER BY position DESC LIMIT 1) last ON true "
        "WHERE d.processed_at IS NOT NULL AND last.completed_at IS DISTINCT FROM d.processed_at",
    "step completed before handed over":
        "SELECT count(*) FROM dossier_step WHERE completed_at < handed_over_at",
    "step handed over other than when the previous one completed":
        "SELECT count(*) FROM dossier_step s JOIN dossier_step p ON p.dossier_id = s.dossier_id "
        "AND p.position = s.position - 1 WHERE s.handed_over_at IS NOT NULL "
        "AND s.handed_over_at IS DISTINCT FROM p.completed_at",
    "open step after an open one":
        "SELECT count(*) FROM dossier_step s JOIN dossier_step p ON p.dossier_id = s.dossier_id "
        "AND p.position = s.position - 1 WHERE s.handed_over_at IS NOT NULL AND p.completed_at IS NULL",
    "late step without its nonconformity":
        "SELECT count(*) FROM dossier_step s WHERE s.completed_at IS NOT NULL "
        "AND (s.completed_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date "
        "> (s.due_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date "
        "AND NOT EXISTS (SELECT 1 FROM nonconformity n WHERE n.origin_key = 'step:' || s.id)",
}


def check(args) -> int:
    """The generated rows against the app's rules: every count printed should be 0."""
    conn = psycopg_connect(args.database_url, args.schema)
    conn.execute("SET jit = off")
    bad = 0
    for name, sql in CHECKS.items():
        t = time.perf_counter()
        count = conn.execute(sql).fetchone()[0]
        bad += count
        log(f"{name}: {count} ({time.perf_counter() - t:.1f} s)")
    conn.close()
    return 1 if bad else 0


def _cumulative(weights):
    total = 0.0
    for w in weights:
        total += w
        yield total


def finish(args) -> None:
    """ANALYZE, as a database in service would have: the planner's statistics."""
    conn = psycopg_connect(args.database_url, args.schema)
    conn.autocommit = True
    t = time.perf_counter()
    tables = [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    for table in tables:  # this schema's tables only: never the other schemas of the database
        conn.execute(f'VACUUM ANALYZE "{table}"')
    log(f"VACUUM ANALYZE in {time.perf_counter() - t:.0f} s")
    conn.close()


# --- measure -------------------------------------------------------------------------------------
@dataclass
class Measurement:
    """One figure: `run` does the work once (through the app); `floor`, when given, is the
    hand-written SQL computing the same thing, timed in the same run."""

    label: str
    run: object
    floor: object = None
    repeat: int | None = None


def login(client, username: str) -> None:
    page = client.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/auth/login", data={"username": username, "password": BENCH_PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code in (302, 303), (username, response.status_code)


FLOOR_MONTH_SQL = """
SELECT
  (SELECT count(*) FROM dossier WHERE department_id = %(department)s
     AND received_at >= %(start)s AND received_at < %(end)s AND status <> 'not_accepted') AS received,
  r.early, r.on_time, r.late,
  (SELECT count(*) FROM dossier d
     LEFT JOIN LATERAL (SELECT e.kind FROM dossier_event e WHERE e.dossier_id = d.id AND e.at < %(cut)s
                          AND e.kind IN ('supplement_requested', 'supplement_received', 'payment_requested',
                                         'payment_received', 'pause_started', 'pause_ended')
                        ORDER BY e.at DESC, e.id DESC LIMIT 1) AS pause ON true
   WHERE d.department_id = %(department)s AND d.received_at < %(cut)s
     AND (d.status IN ('received', 'processing', 'supplement_requested', 'awaiting_payment')
          OR d.processed_at >= %(cut)s
          OR d.status IN ('withdrawn', 'stopped') AND NOT EXISTS (
               SELECT 1 FROM dossier_event e WHERE e.dossier_id = d.id
                 AND e.kind IN ('withdrawn', 'stopped') AND e.at < %(cut)s))
     AND (pause.kind IS NULL OR pause.kind NOT IN ('supplement_requested', 'payment_requested',
                                                   'pause_started'))) AS in_progress
FROM (SELECT count(*) FILTER (WHERE p < d) AS early, count(*) FILTER (WHERE p = d) AS on_time,
             count(*) FILTER (WHERE p > d) AS late
      FROM (SELECT (processed_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS p,
                   (due_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS d
            FROM dossier WHERE department_id = %(department)s
              AND processed_at >= %(start)s AND processed_at < %(end)s) AS resolved) AS r
"""


FLOOR_REGISTER_SQL = """
SELECT d.code, p.name, d.applicant_name, d.applicant_address, d.applicant_phone, d.channel,
       d.received_at, d.due_at, d.processed_at, d.returned_at, d.status,
       (SELECT string_agg(e.kind || ': ' || coalesce(e.reason, ''), '; ' ORDER BY e.at, e.id)
          FROM dossier_event e WHERE e.dossier_id = d.id
           AND e.kind IN ('not_accepted', 'supplement_requested', 'apology', 'stopped', 'withdrawn'))
FROM dossier d JOIN procedure p ON p.id = d.procedure_id
WHERE d.department_id = %(department)s AND d.received_at >= %(start)s AND d.received_at < %(end)s
ORDER BY d.received_at, d.id
"""


def floor_sql(scope_column: str) -> str:
    """FLOOR_MONTH_SQL for another scope: `dossier.agency_id = ANY(%(agencies)s)` (a province
    and its communes) instead of one department."""
    return FLOOR_MONTH_SQL.replace("department_id = %(department)s", f"{scope_column} = ANY(%(agencies)s)")


def build_rollup(app) -> dict:
    """`qms rollup --rebuild`, through the same services: every ended month frozen."""
    from qms.extensions import db
    from qms.services import rollups

    with app.app_context():
        started = time.perf_counter()
        months = rollups.months_to_freeze(NOW, rebuild=True)
        per_month = []
        for month in months:
            t = time.perf_counter()
            counts = rollups.count_month(month, NOW)
            rollups.store(counts, NOW)
            db.session.commit()
            per_month.append(time.perf_counter() - t)
        total = time.perf_counter() - started
    log(f"rollup: {len(months)} months frozen in {total:.1f} s (slowest month {max(per_month):.1f} s)")
    return {"label": f"qms rollup --rebuild ({len(months)} months, every department)", "median_s": total,
            "max_s": max(per_month), "samples": 1, "months": len(months),
            "per_month_s": [round(x, 2) for x in per_month], "queries": 0, "sql_s": 0.0}


def catch_up(app) -> dict:
    """`qms check-overdue` on the generated backlog (the open steps and dossiers past their
    due time with no nonconformity yet), then once more with nothing new; rolled back, so
    the data stays as generated."""
    from qms.extensions import db
    from qms.services import nonconformities

    with app.app_context():
        started = time.perf_counter()
        raised = nonconformities.check_overdue(NOW)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = nonconformities.check_overdue(NOW)
        second = time.perf_counter() - started
        db.session.rollback()
    log(f"check-overdue: {len(raised):,} raised in {first:.2f} s; then {len(again)} in {second:.2f} s")
    return {"catch_up": {"label": f"qms check-overdue catching up ({len(raised):,} raised)",
                         "median_s": first, "max_s": first, "samples": 1, "raised": len(raised),
                         "queries": 0, "sql_s": 0.0},
            "nothing_new": {"label": "qms check-overdue with nothing new", "median_s": second,
                            "max_s": second, "samples": 1, "raised": len(again), "queries": 0, "sql_s": 0.0}}


def start_up(repeat: int) -> dict:
    """Wall time of `qms --help` (the command line) and `qms routes` (the app built), each in
    a new process, median of `repeat`."""
    import shutil
    import subprocess

    found = {}
    for key, command in (("help", ["--help"]), ("routes", ["routes"])):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([shutil.which("qms") or "qms", *command], capture_output=True, check=True,
                           env={**os.environ, "QMS_INSTANCE_PATH": tempfile.mkdtemp(prefix="qms-start-")})
            times.append(time.perf_counter() - started)
        found[f"start_up_{key}"] = {"label": f"start-up: qms {' '.join(command)} (new process)",
                                    "median_s": statistics.median(times), "max_s": max(times),
                                    "samples": repeat, "queries": 0, "sql_s": 0.0}
        log(f"qms {' '.join(command)}: {statistics.median(times):.2f} s")
    return found


def measure(args) -> dict:
    import sqlalchemy as sa

    from qms import clock
    from qms.extensions import db
    from qms.models import Agency, Department, User
    from qms.services import metrics

    app = app_for(args.database_url, args.schema)
    results: dict[str, dict] = {}
    with clock.frozen(NOW):
        with app.app_context():
            for user in db.session.scalars(sa.select(User)):
                user.set_password(BENCH_PASSWORD)
            db.session.commit()
            # the largest one-stop office: the most dossiers received in the measured month
            start, end = metrics.month_bounds(MEASURED_MONTH)
            s_utc, e_utc = metrics.utc_bounds(start, end)
            largest = db.session.execute(sa.text(
                "SELECT department_id, count(*) FROM dossier WHERE received_at >= :s AND received_at < :e "
                "GROUP BY department_id ORDER BY 2 DESC LIMIT 1"), {"s": s_utc, "e": e_utc}).one()
            office = db.session.get(Department, largest[0])
            office_code, office_id, office_rows = office.code, office.id, largest[1]
            sizes = {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}"))
                     for t in ("dossier", "dossier_step", "dossier_event", "nonconformity", "department")}
            # the register's user: an officer of the largest office
            officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
            officer.department_id = office_id
            db.session.commit()
            pg_version = db.session.scalar(sa.text("SHOW server_version"))
            engine = db.engine
        cut = min(NOW, datetime.combine(end, datetime.min.time(), tzinfo=VN))
        log(f"{sizes['dossier']:,} dossiers; measured month {MEASURED_MONTH:%m/%Y}; largest office "
            f"{office_code} ({office_rows:,} received in the month)")

        if args.rollup:
            results["rollup_build"] = build_rollup(app)

        def month_metrics(live=False, province=False):
            def run():
                with app.app_context():
                    if province:
                        scope = metrics.Scope.of_agency(db.session.scalar(
                            sa.select(Agency).where(Agency.parent_id.is_(None))))
                    else:
                        scope = metrics.Scope.of_department(db.session.get(Department, office_id))
                    return metrics.dossier_metrics(scope, start, end, NOW, live=live)
            return run

        with app.app_context():
            agencies = list(db.session.scalars(sa.select(Agency.id)))

        floor_conn = psycopg_connect(args.database_url, args.schema)
        floor_conn.execute("SET jit = off")  # as the app's own connections (qms/__init__.py)

        def month_floor():
            return floor_conn.execute(FLOOR_MONTH_SQL, {"start": s_utc, "end": e_utc, "cut": cut,
                                                        "department": office_id}).fetchone()

        province_sql = floor_sql("agency_id")

        def register_floor():
            """The rows the register's export writes, read in one hand-written statement."""
            return floor_conn.execute(FLOOR_REGISTER_SQL, {"start": s_utc, "end": e_utc,
                                                           "department": office_id}).fetchall()

        def province_floor():
            return floor_conn.execute(province_sql, {"start": s_utc, "end": e_utc, "cut": cut,
                                                      "agencies": agencies}).fetchone()

        clients = {}

        def page(username: str, url: str):
            def run():
                client = clients.get(username)
                if client is None:
                    client = clients[username] = app.test_client()
                    login(client, username)
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return len(response.get_data())
            return run

        month_key = f"{MEASURED_MONTH:%Y-%m}"
        register_url = (f"/dossiers/register.xlsx?received_from={start.isoformat()}"
                        f"&received_to={(end - timedelta(days=1)).isoformat()}")
        measurements = {
            "department_month_metrics": Measurement(
                f"one department-month's dossier metrics ({office_code})", month_metrics(), month_floor),
            "department_month_metrics_live": Measurement(
                "the same, live=True (from the records, no rollup)", month_metrics(live=True), month_floor),
            "province_month_metrics": Measurement(
                "the province-month's dossier metrics (102 agencies)", month_metrics(province=True),
                province_floor),
            "province_month_metrics_live": Measurement(
                "the same, live=True", month_metrics(live=True, province=True), province_floor),
            "leader_dashboard": Measurement("province leader's dashboard GET / (leadertp)",
                                            page("leadertp", "/")),
            "commune_leader_dashboard": Measurement("commune leader's dashboard GET / (leader)",
                                                    page("leader", "/")),
            "monthly_review_page": Measurement(f"monthly review page, largest office ({office_code})",
                                               page("quality", f"/reviews/monthly/{office_code}/{month_key}")),
            "monthly_pdf": Measurement(f"monthly report PDF, largest office ({office_code})",
                                       page("quality", f"/reviews/monthly/{office_code}/{month_key}/report.pdf"),
                                       repeat=max(1, args.repeat // 2)),
            "monthly_xlsx": Measurement(f"monthly report XLSX, largest office ({office_code})",
                                        page("quality", f"/reviews/monthly/{office_code}/{month_key}/report.xlsx"),
                                        repeat=max(1, args.repeat // 2)),
            "register_xlsx": Measurement(f"register XLSX, one month of {office_code} ({office_rows:,} rows)",
                                         page("officer", register_url), register_floor,
                                         repeat=max(1, args.repeat // 2)),
        }
        only = set(args.only or [*measurements, "check_overdue", "start_up"])
        checked = {}
        for key, m in measurements.items():
            if key not in only:
                continue
            first = m.run()  # warm-up (and the value checked below)
            times = []
            for _ in range(m.repeat or args.repeat):
                t = time.perf_counter()
                m.run()
                times.append(time.perf_counter() - t)
            entry = {"label": m.label, "median_s": statistics.median(times), "max_s": max(times),
                     "samples": len(times)}
            if len(times) >= 5:
                entry["p95_s"] = statistics.quantiles(times, n=20, method="inclusive")[-1]
            if m.floor is not None:
                floor_value = m.floor()
                floor_times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    m.floor()
                    floor_times.append(time.perf_counter() - t)
                entry["floor_s"] = statistics.median(floor_times)
                entry["ratio"] = entry["median_s"] / entry["floor_s"]
                if key != "register_xlsx":  # its floor is the rows, not the five counts
                    checked[key] = (first, floor_value)
            queries = profile_sql(engine, m.run)
            entry["queries"] = len(queries)
            entry["sql_s"] = sum(q[0] for q in queries)
            entry["slowest_sql"] = [{"s": round(q[0], 4), "sql": q[1], "params": repr(q[2])[:500]}
                                    for q in sorted(queries, key=lambda q: -q[0])[:3]]
            if args.profile:
                entry["python_profile"] = python_profile(m.run)
            if args.explain and queries:
                entry["slowest_plan"] = explain(engine, max(queries, key=lambda q: q[0]))
            results[key] = entry
            log(f"{key}: {entry['median_s'] * 1000:.0f} ms"
                + (f" (floor {entry['floor_s'] * 1000:.0f} ms, {entry['ratio']:.1f}×)" if "floor_s" in entry else ""))
        floor_conn.close()
        if "check_overdue" in only:
            results.update({f"check_overdue_{k}": v for k, v in catch_up(app).items()})
        if "start_up" in only:
            results.update(start_up(args.repeat))
    load_report = None
    if args.load:
        import province_load

        load_report = province_load.load(args)
    for key, (app_figures, floor_row) in checked.items():
        compare = dict(zip(("received", "early", "on_time", "late", "in_progress"), floor_row, strict=True))
        results[key]["check"] = {k: {"app": app_figures.get(k), "floor": v} for k, v in compare.items()}
    if "register_xlsx" in results:
        results["register_xlsx"]["rows_per_s"] = round(office_rows / results["register_xlsx"]["median_s"])
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent).stdout.strip()
    report = {"commit": commit, "sizes": sizes, "load": load_report, "month": month_key, "office": office_code, "office_month_rows": office_rows,
              "now": NOW.isoformat(), "postgresql": pg_version, "measurements": results}
    print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return report


def profile_sql(engine, run) -> list[tuple[float, str, object]]:
    """One more run with every statement timed: (seconds, SQL, parameters) each."""
    from sqlalchemy import event

    queries, started = [], {}

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        queries.append((time.perf_counter() - started.pop(id(cursor), time.perf_counter()),
                        statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return queries


def python_profile(run, top: int = 12) -> list[str]:
    """One more run under cProfile: the functions taking the most time of their own."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return [line for line in out.getvalue().splitlines() if line.strip()][-top - 1:]


def explain(engine, query) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of one profiled statement, with its parameters."""
    _seconds, statement, parameters = query
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        conn.rollback()
    return [row[0] for row in rows]


def print_table(report: dict) -> None:
    sizes = report["sizes"]
    print(f"\ncommit {report['commit']}: {sizes['dossier']:,} dossiers, {sizes['dossier_step']:,} steps, {sizes['department']} departments;"
          f" month {report['month']}, office {report['office']} (PostgreSQL {report['postgresql']})")
    print(f"{'metric':<66} {'time':>9} {'floor':>9} {'ratio':>7} {'SQL':>9} {'queries':>7}")
    for entry in report["measurements"].values():
        floor = f"{entry['floor_s'] * 1000:.0f} ms" if "floor_s" in entry else "-"
        ratio = f"{entry['ratio']:.1f}×" if "ratio" in entry else "-"
        print(f"{entry['label']:<66} {entry['median_s'] * 1000:>6.0f} ms {floor:>9} {ratio:>7} "
              f"{entry['sql_s'] * 1000:>6.0f} ms {entry['queries']:>7}")
        for key, pair in entry.get("check", {}).items():
            flag = "" if pair["app"] == pair["floor"] else "  ← differs"
            print(f"    {key:<20} app {pair['app']!s:>8}  floor {pair['floor']!s:>8}{flag}")
    load = report.get("load")
    if load:
        r = load["readers"]
        print(f"{r['threads']} concurrent readers, {load['workers']} workers × {load['threads']} threads: "
              f"{r['requests_per_s']:.1f} req/s, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms")
        for kind in ("receive", "complete"):
            w = load["writers"][kind]
            print(f"{load['writers']['threads']} concurrent API writers, {kind}: {w['requests_per_s']:.1f}/s, "
                  f"p95 {w['p95_ms']:.0f} ms")
        print(f"writers' check: {'ok' if load['writers']['check']['ok'] else load['writers']['check']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="load a synthetic province")
    gen.add_argument("--dossiers", type=int, default=20_000)
    gen.add_argument("--months", type=int, default=12)
    gen.add_argument("--communes", type=int, default=100)
    gen.add_argument("--seed", type=int, default=1)
    run = commands.add_parser("measure", help="time the app on it")
    run.add_argument("--repeat", type=int, default=5)
    run.add_argument("--json")
    run.add_argument("--only", nargs="*", help="measure only these keys")
    run.add_argument("--profile", action="store_true",
                     help="cProfile one more run of each figure (its top functions in the JSON)")
    run.add_argument("--load", action="store_true",
                     help="then serve the app (gunicorn) to concurrent readers and API writers "
                          "(bench/province_load.py; it adds the writers' dossiers to the schema)")
    run.add_argument("--rollup", action="store_true",
                     help="first freeze every ended month (timed, as `qms rollup --rebuild`), so the "
                          "figures read the rollup")
    run.add_argument("--explain", action="store_true",
                     help="EXPLAIN ANALYZE each figure's slowest statement (in the JSON)")
    import province_load

    province_load.add_arguments(run)
    verify = commands.add_parser("check", help="check the generated rows against the app's rules")
    for sub in (gen, run, verify):
        sub.add_argument("--database-url", default=DEFAULT_URL)
        sub.add_argument("--schema", default=DEFAULT_SCHEMA)
    args = parser.parse_args()
    if args.schema.startswith("qms_test_") or args.schema in ("public",):
        parser.error("choose a schema of its own (it is dropped and recreated)")
    if args.command == "generate":
        generate(args)
    elif args.command == "check":
        sys.exit(check(args))
    else:
        measure(args)


if __name__ == "__main__":
    main()
