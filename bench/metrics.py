"""Benchmark: one department-month's compliance metrics and its monthly PDF, with 10,000 and
100,000 dossiers in an SQLite database.

    python bench/metrics.py [--sizes 10000 100000] [--month-rows 3000] [--repeat 15]

Builds throw-away databases under a temporary folder (the demo organisation and shipped
procedures, then dossiers bulk-inserted with their four steps and some events). The
measured month (October 2026, read on 5 November 2026) always holds `--month-rows`
dossiers of the ward's one-stop office, of every kind (early, on time, late with or
without an apology, in progress, paused, withdrawn, refused; online and postal); the rest
of the table is history spread over the two years before. So the table grows and the
month does not: the time of a department-month must not grow with the table (the ratio
largest / smallest should stay near 1; the issue asks ≤ 200 ms at 100,000 dossiers and a
PDF in ≤ 2 s).

Prints the median of: dossier_metrics; everything the review page reads
(monthly_reviews.live_figures: dossier, step and quality figures, objectives, the lists of
late dossiers and steps); the monthly PDF (figures + render); the 12-month series for the
charts (the indexes that make a month one index range are in migrations 0009 and 0010).
Figures are for one run on one machine: compare the ratios, not the milliseconds.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 5, 10, 0, tzinfo=VN)
MONTH_START = datetime(2026, 10, 1, tzinfo=VN)
MONTH_END = datetime(2026, 11, 1, tzinfo=VN)
HISTORY_START = datetime(2024, 10, 1, tzinfo=VN)


def _working_time(moment: datetime) -> datetime:
    """Moved into office hours (Mon–Fri 07:00–17:00 local) so the figures look real."""
    local = moment.astimezone(VN)
    while local.weekday() >= 5:
        local = (local + timedelta(days=1)).replace(hour=8, minute=0)
    if local.hour < 7 or local.hour >= 17:
        local = local.replace(hour=8 + local.minute % 8, minute=local.minute)
    return local


def build(size: int, month_rows: int, folder: Path):
    os.environ["QMS_INSTANCE_PATH"] = str(folder)
    import flask_migrate
    import sqlalchemy as sa

    from qms import create_app
    from qms.extensions import db
    from qms.models import (
        Channel,
        Department,
        Dossier,
        DossierEvent,
        DossierStatus,
        DossierStep,
        EventKind,
        Procedure,
        StepRole,
        User,
    )
    from qms.services import demo, dossiers

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
                      "SECURE_COOKIES": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(size)
    with app.app_context():
        flask_migrate.upgrade()
        demo.seed_demo()
        db.session.commit()
        officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
        procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == "1.001193"))
        culture = db.session.scalar(sa.select(Department).where(Department.code == "NK-VHXH"))
        office = db.session.scalar(sa.select(Department).where(Department.code == "NK-VP"))
        template, _ = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                               applicant_name="Mẫu", now=HISTORY_START)
        db.session.commit()
        columns = {c.key: getattr(template, c.key) for c in sa.inspect(Dossier).column_attrs
                   if c.key not in ("id",)}
        steps = [{c.key: getattr(s, c.key) for c in sa.inspect(DossierStep).column_attrs
                  if c.key not in ("id", "dossier_id")} for s in template.steps]
        # one-stop steps at the desk; the others alternate between culture and the office
        step_departments = [template.department_id if step["role"] is StepRole.one_stop
                            else (culture.id, office.id)[n % 2] for n, step in enumerate(steps)]
        history = size - month_rows
        span = (MONTH_START - HISTORY_START).total_seconds()

        def dossier_row(i: int, received: datetime, kind: str) -> tuple[dict, list[dict], list[dict]]:
            due = received + timedelta(days=3)
            row = {**columns, "code": f"B-{i:07d}", "received_at": received, "due_at": due,
                   "original_due_at": due, "processed_at": None, "returned_at": None,
                   "paused_at": None, "promised_at": None,
                   "channel": rng.choice((Channel.direct,) * 6 + (Channel.online,) * 3 + (Channel.postal,)),
                   "applicant_name": f"Công dân {i}"}
            events: list[dict] = []
            finished = None
            if kind in ("early", "on_time", "late", "late_apology"):
                finished = {"early": received + timedelta(days=1, hours=2), "on_time": due + timedelta(hours=1),
                            "late": due + timedelta(days=2), "late_apology": due + timedelta(days=2)}[kind]
                # collected a few days after the result is ready, as at a real desk
                row.update(status=DossierStatus.returned, processed_at=finished,
                           returned_at=finished + timedelta(days=i % 5))
                if kind == "late_apology":
                    events.append({"kind": EventKind.apology, "at": due - timedelta(days=1),
                                   "due_before": due, "due_after": due + timedelta(days=3)})
            elif kind in ("open", "paused"):
                row["status"] = DossierStatus.processing
                if kind == "paused":
                    row["status"], row["paused_at"] = DossierStatus.supplement_requested, received + timedelta(hours=3)
                    events.append({"kind": EventKind.supplement_requested, "at": row["paused_at"],
                                   "due_before": due})
            elif kind == "withdrawn":
                row["status"] = DossierStatus.withdrawn
                events.append({"kind": EventKind.withdrawn, "at": received + timedelta(hours=5)})
            elif kind == "refused":
                row.update(status=DossierStatus.not_accepted, due_at=received, original_due_at=received)
            step_rows = []
            if kind != "refused":
                moment = received  # when the next step is handed over (None: not yet)
                for position, (step, department) in enumerate(zip(steps, step_departments, strict=True), 1):
                    done = None
                    if moment is not None and finished is not None:
                        done = received + (finished - received) * position / len(steps)
                    elif moment is not None and kind in ("open", "paused") and position == 1:
                        done = received + timedelta(minutes=30)
                    step_rows.append({**step, "position": position,
                                      "department_id": department if moment else None,
                                      "handed_over_at": moment,
                                      "due_at": moment + timedelta(minutes=step["minutes"]) if moment else None,
                                      "completed_at": done})
                    moment = done
            return row, step_rows, events

        month_kinds = (["early"] * 30 + ["on_time"] * 45 + ["late"] * 5 + ["late_apology"] * 3
                       + ["open"] * 10 + ["paused"] * 3 + ["withdrawn"] * 2 + ["refused"] * 2)
        plan = []
        for i in range(history):
            received = _working_time(HISTORY_START + timedelta(seconds=span * i / max(history, 1)))
            plan.append((i, received, rng.choice(("early", "on_time", "on_time", "on_time", "late"))))
        month_span = (MONTH_END - MONTH_START).total_seconds() - 5 * 86400
        for j in range(month_rows):
            received = _working_time(MONTH_START + timedelta(seconds=month_span * j / month_rows))
            plan.append((history + j, received, rng.choice(month_kinds)))
        batch = 5000
        for offset in range(0, len(plan), batch):
            built = [dossier_row(*item) for item in plan[offset:offset + batch]]
            db.session.execute(sa.insert(Dossier), [row for row, _s, _e in built])
            first_id = db.session.scalar(sa.select(Dossier.id).where(Dossier.code == built[0][0]["code"]))
            db.session.execute(sa.insert(DossierStep), [
                {**step, "dossier_id": first_id + n} for n, (_r, step_rows, _e) in enumerate(built)
                for step in step_rows])
            events = [{"dossier_id": first_id + n, "by_id": officer.id, "reason": "bench", **event}
                      for n, (_r, _s, event_rows) in enumerate(built) for event in event_rows]
            if events:
                db.session.execute(sa.insert(DossierEvent), events)
            db.session.commit()
    return app


def median_ms(samples):
    return statistics.median(samples) * 1000


def measure(app, repeat: int) -> dict:
    import sqlalchemy as sa

    from qms import clock
    from qms.extensions import db
    from qms.models import Department
    from qms.reports import monthly as report
    from qms.services import metrics, monthly_reviews

    results = {"dossier_metrics": [], "review_figures": [], "pdf": [], "series": []}
    with app.app_context(), app.test_request_context(), clock.frozen(NOW):
        department = db.session.scalar(sa.select(Department).where(Department.code == "NK-TTPVHCC"))
        scope = metrics.Scope.of_department(department)
        month = MONTH_START.date()
        start, end = metrics.month_bounds(month)
        checked = metrics.dossier_metrics(scope, start, end, NOW)
        for _ in range(repeat):
            t = time.perf_counter()
            metrics.dossier_metrics(scope, start, end, NOW)
            results["dossier_metrics"].append(time.perf_counter() - t)
            t = time.perf_counter()
            monthly_reviews.live_figures(department, month, NOW)
            results["review_figures"].append(time.perf_counter() - t)
            db.session.expire_all()
        for _ in range(max(3, repeat // 5)):
            t = time.perf_counter()
            report.monthly_pdf(report.report_context(department, month, NOW))
            results["pdf"].append(time.perf_counter() - t)
            t = time.perf_counter()
            metrics.monthly_series(scope, 12, NOW)
            results["series"].append(time.perf_counter() - t)
    results["figures"] = checked
    return results


KEYS = ("dossier_metrics", "review_figures", "pdf", "series")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--month-rows", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    variants = ["schema"]
    figures: dict = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            t = time.perf_counter()
            app = build(size, args.month_rows, Path(folder))
            built = time.perf_counter() - t
            for variant in variants:
                result = measure(app, args.repeat)
                f = result.pop("figures")
                figures[(size, variant)] = {k: median_ms(v) for k, v in result.items()}
                m = figures[(size, variant)]
                print(f"{size:>7} dossiers, {variant:<16} (built in {built:.0f} s; month: received "
                      f"{f['received']}, resolved {f['resolved']}, on time {f['on_time_rate']} %, "
                      f"766 {f['progress_766']}): dossier metrics {m['dossier_metrics']:.1f} ms, "
                      f"review figures {m['review_figures']:.1f} ms, PDF {m['pdf']:.0f} ms, "
                      f"12-month series {m['series']:.1f} ms", flush=True)
    if len(args.sizes) >= 2:
        for variant in variants:
            small, large = figures[(args.sizes[0], variant)], figures[(args.sizes[-1], variant)]
            print(f"ratios {args.sizes[-1]} / {args.sizes[0]} ({variant}): " + ", ".join(
                f"{k} {large[k] / small[k]:.2f}" for k in KEYS))


if __name__ == "__main__":
    main()
