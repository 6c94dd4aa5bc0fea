"""Benchmark: the home page's dashboards of each demo role, with 10,000 and 100,000
dossiers already in an SQLite database (built as bench/dossiers.py builds them).

    python bench/dashboards.py [--sizes 10000 100000] [--repeat 10]

Prints the median server-side time of GET / for each role and its query count, and the
ratio between the sizes: the panels read aggregates of this month and the last twelve, so
the time should follow the rows of those months, the query count not move at all.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dossiers import build  # noqa: E402  (bench/dossiers.py)

ROLES = ("officer", "head", "quality", "leader", "auditor")
PASSWORD = "Bench-password-2026"


def measure(app, repeat: int) -> dict:
    import sqlalchemy as sa
    from sqlalchemy import event

    from qms.extensions import db
    from qms.models import User

    with app.app_context():
        for username in ROLES:
            user = db.session.scalar(sa.select(User).where(User.username == username))
            user.set_password(PASSWORD)
        db.session.commit()
        engine = db.engine
    results = {}
    queries: list[int] = []

    def listener(*_args):
        queries.append(1)

    for username in ROLES:
        client = app.test_client()
        token = client.get("/auth/login").get_data(as_text=True).split(
            'name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/auth/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        times = []
        for _ in range(repeat):
            queries.clear()
            event.listen(engine, "before_cursor_execute", listener)
            t = time.perf_counter()
            response = client.get("/")
            times.append(time.perf_counter() - t)
            event.remove(engine, "before_cursor_execute", listener)
            assert response.status_code == 200 and 'id="panel-' in response.get_data(as_text=True)
        results[username] = (statistics.median(times) * 1000, len(queries))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    figures = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            t = time.perf_counter()
            app = build(size, Path(folder))
            built = time.perf_counter() - t
            figures[size] = measure(app, args.repeat)
            print(f"{size:>7} dossiers (built in {built:.0f} s): " + ", ".join(
                f"{role} {ms:.0f} ms ({count} queries)" for role, (ms, count) in figures[size].items()))
    if len(args.sizes) >= 2:
        small, large = figures[args.sizes[0]], figures[args.sizes[-1]]
        print("ratios, largest / smallest: " + ", ".join(
            f"{role} {large[role][0] / small[role][0]:.2f}" for role in ROLES))


if __name__ == "__main__":
    main()
