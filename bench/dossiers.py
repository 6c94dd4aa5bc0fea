"""Benchmark: receiving a dossier, completing a step and rendering a department's queue,
with 10,000 and 100,000 dossiers already in an SQLite database.

    python bench/dossiers.py [--sizes 10000 100000] [--repeat 30]

Builds throw-away databases under a temporary folder (the demo organisation and shipped
procedures, then old dossiers bulk-inserted), and prints the median server-side time of
each operation and its ratio between the sizes, plus the queue page's query count.
Figures are for one run on one machine: compare the ratios, not the milliseconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(size: int, folder: Path):
    os.environ["QMS_INSTANCE_PATH"] = str(folder)
    import flask_migrate
    import sqlalchemy as sa

    from qms import clock, create_app
    from qms.extensions import db
    from qms.models import Department, Dossier, DossierStatus, DossierStep, Procedure, User
    from qms.services import demo, dossiers

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
                      "SECURE_COOKIES": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        flask_migrate.upgrade()
        demo.seed_demo()
        db.session.commit()
        officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
        procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == "1.001193"))
        # One real dossier as a template, then `size` old ones copied with plain inserts.
        template, _ = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                               applicant_name="Mẫu", now=clock.now())
        db.session.commit()
        columns = {c.key: getattr(template, c.key) for c in sa.inspect(Dossier).column_attrs
                   if c.key != "id"}
        steps = [{c.key: getattr(s, c.key) for c in sa.inspect(DossierStep).column_attrs
                  if c.key not in ("id", "dossier_id")} for s in template.steps]
        # The old dossiers went through the culture department too, as real ones do: its
        # queue query must find today's few open steps among all the steps it ever held.
        culture_id = db.session.scalar(sa.select(Department.id).where(Department.code == "NK-VHXH"))
        for step in steps:
            step["department_id"] = step["department_id"] or culture_id
        start = clock.now() - timedelta(days=400)
        batch = 5000
        for offset in range(0, size, batch):
            rows = []
            for i in range(offset, min(size, offset + batch)):
                received = start + timedelta(minutes=5 * i % (400 * 24 * 60))
                rows.append({**columns, "code": f"OLD-{i:07d}", "received_at": received,
                             "status": DossierStatus.returned, "due_at": received,
                             "original_due_at": received, "processed_at": received,
                             "returned_at": received})
            db.session.execute(sa.insert(Dossier), rows)
            first_id = db.session.scalar(sa.select(sa.func.min(Dossier.id)).where(
                Dossier.code == rows[0]["code"]))
            db.session.execute(sa.insert(DossierStep), [
                {**step, "dossier_id": first_id + n, "completed_at": rows[n]["received_at"]}
                for n in range(len(rows)) for step in steps])
            db.session.commit()
    return app


def median_ms(samples):
    return statistics.median(samples) * 1000


def measure(app, repeat: int) -> dict:
    import sqlalchemy as sa
    from sqlalchemy import event

    from qms import clock
    from qms.extensions import db
    from qms.models import Department, Procedure, User
    from qms.services import dossiers

    results = {"receive": [], "complete": [], "queue": []}
    with app.app_context():
        officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
        procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == "1.001193"))
        culture = db.session.scalar(sa.select(Department).where(Department.code == "NK-VHXH"))
        for _ in range(repeat):
            t = time.perf_counter()
            dossier, _ = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                                  applicant_name="Đo tốc độ", now=clock.now())
            db.session.commit()
            results["receive"].append(time.perf_counter() - t)
            t = time.perf_counter()
            dossiers.complete_step(dossier.steps[0], actor=officer, now=clock.now(),
                                   next_department=culture)
            db.session.commit()
            results["complete"].append(time.perf_counter() - t)
    client = app.test_client()
    password = "Bench-password-2026"
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "head"))
        user.department = culture  # the queue holds this run's dossiers
        user.set_password(password)
        db.session.commit()
    token = client.get("/auth/login").get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/auth/login", data={"username": "head", "password": password, "csrf_token": token})
    queries = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: queries.append(1)  # noqa: E731
    for _ in range(repeat):
        queries.clear()
        event.listen(engine, "before_cursor_execute", listener)
        t = time.perf_counter()
        response = client.get("/dossiers/queue")
        results["queue"].append(time.perf_counter() - t)
        event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200
    results["queue_queries"] = len(queries)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    figures = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            t = time.perf_counter()
            app = build(size, Path(folder))
            built = time.perf_counter() - t
            result = measure(app, args.repeat)
            figures[size] = {k: (median_ms(v) if isinstance(v, list) else v) for k, v in result.items()}
            print(f"{size:>7} dossiers (built in {built:.0f} s): receive {figures[size]['receive']:.1f} ms, "
                  f"complete step {figures[size]['complete']:.1f} ms, queue page {figures[size]['queue']:.1f} ms "
                  f"({figures[size]['queue_queries']} queries, {args.repeat} rows in the queue)")
    if len(args.sizes) >= 2:
        small, large = figures[args.sizes[0]], figures[args.sizes[-1]]
        print("ratios, largest / smallest: " + ", ".join(
            f"{k} {large[k] / small[k]:.2f}" for k in ("receive", "complete", "queue")))


if __name__ == "__main__":
    main()
