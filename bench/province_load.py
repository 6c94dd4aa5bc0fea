"""Benchmark: the served app under concurrent readers, then concurrent API writers, on the
generated province (issue 12; generate it first with `bench/province.py generate`).

    python bench/province_load.py [--seconds 30] [--readers 16] [--writers 8]
                                  [--workers 2] [--threads 8] [--json FILE]

Serves the app on the `bench_province` schema as `qms serve --workers N` does (gunicorn,
gthread workers with the same settings, qms.commands.server.gunicorn_options) on a free local
port, with rate limits off (they are a policy, not a capacity), and the real clock.

- readers: `--readers` threads, each logged in as one of the demo users, loop for
  `--seconds` over that user's everyday page (the province and commune leaders' and the
  head's dashboards, the largest office's monthly review, the officer's queue); requests/s
  and p50 / p95 / max per page and overall;
- writers, in two rounds of `--seconds` each, as the demo one-stop officer: `--writers`
  threads receive dossiers (POST /api/v1/dossiers), then the same threads complete step 1
  of the dossiers each received (POST .../steps/1/complete, handing them to the culture
  department) until none is left; receipts/s and completions/s with their latency and
  answers by status, and a check that the dossiers this run received are exactly those
  answered 201, each with all its steps, and step 1 completed exactly where answered 200.

The writers add their dossiers to the schema (a few thousand among a million); regenerate
for figures on the pristine data. Figures are for one run on one shared machine.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import multiprocessing
import re
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import province  # noqa: E402  (bench/province.py: the schema, the app on it)
import sqlite_writers as writers_bench  # noqa: E402  (the writers' loop and statistics)

OFFICE = "NK-TTPVHCC"  # the largest office of the generated province
PAGES = (("leadertp", "/"), ("leader", "/"), ("head", "/"),
         ("quality", f"/reviews/monthly/{OFFICE}/2026-11"), ("officer", "/dossiers/queue"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_app(args):
    return province.app_for(args.database_url, args.schema, RATELIMIT_ENABLED=False)


def run_server(args, port: int) -> None:
    """The gunicorn master (in a child process): each worker builds its own app after the fork."""
    from gunicorn.app.base import BaseApplication

    from qms.commands.server import OPTIONAL_SETTINGS, gunicorn_options

    class Server(BaseApplication):
        def load_config(self):
            options = {**gunicorn_options(f"127.0.0.1:{port}", args.threads, args.workers),
                       "loglevel": "warning"}
            for key, value in options.items():
                if key in OPTIONAL_SETTINGS and key not in self.cfg.settings:
                    continue
                self.cfg.set(key, value)

        def load(self):
            return bench_app(args)

    Server().run()


def logged_in(port: int, username: str):
    """An opener holding the user's session cookie."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"http://127.0.0.1:{port}/auth/login", timeout=60).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": province.BENCH_PASSWORD,
                                   "csrf_token": token}).encode()
    landing = opener.open(f"http://127.0.0.1:{port}/auth/login", data=form, timeout=120)
    assert "/auth/login" not in landing.geturl(), f"{username} could not log in"
    return opener


def run_readers(port: int, readers: int, seconds: float) -> tuple[dict, float, int]:
    """{page: [seconds per request]}, the wall time and the failed reads."""
    times: dict[str, list[float]] = defaultdict(list)
    failures: list[str] = []
    lock = threading.Lock()

    def reader(page: tuple[str, str]):
        username, path = page
        opener = logged_in(port, username)

        def loop(deadline: float) -> None:
            mine = []
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    with opener.open(f"http://127.0.0.1:{port}{path}", timeout=120) as response:
                        response.read()
                    mine.append(time.perf_counter() - started)
                except OSError as error:
                    failures.append(f"{username} {path}: {error}")
            with lock:
                times[f"{username} {path}"].extend(mine)
        return loop

    elapsed = writers_bench.race([reader(PAGES[n % len(PAGES)]) for n in range(readers)], seconds)
    if failures:
        print(f"{len(failures)} failed reads, e.g. {failures[0]}", file=sys.stderr)
    return dict(times), elapsed, len(failures)


def reader_figures(times: dict, elapsed: float, failed: int) -> dict:
    every = [t for samples in times.values() for t in samples]
    return {"requests": len(every), "seconds": elapsed, "requests_per_s": len(every) / elapsed,
            "failed": failed, **writers_bench.latency(every),
            "by_page": {page: {"requests": len(samples), **writers_bench.latency(samples)}
                        for page, samples in sorted(times.items())}}


def run_writers(port: int, token: str, writers: int, seconds: float) -> tuple[dict, dict]:
    """The two rounds; each round's figures (bench/sqlite_writers.summarise) with the codes
    answered 201 / 200."""
    owned: list[list[str]] = [[] for _ in range(writers)]

    def round_of(kind: str) -> dict:
        per_thread: list[list] = [[] for _ in range(writers)]

        def writer(number: int):
            records, todo = per_thread[number], list(owned[number])

            def loop(deadline: float) -> None:
                client = writers_bench.Client(port, token)
                while time.perf_counter() < deadline:
                    if kind == "receive":
                        status, elapsed, body = client.post("/api/v1/dossiers", writers_bench.DOSSIER)
                        code = body.get("code") if status == 201 else None
                        if code:
                            owned[number].append(code)
                    else:
                        if not todo:
                            break
                        code = todo.pop(0)
                        status, elapsed, _body = client.post(
                            f"/api/v1/dossiers/{code}/steps/1/complete",
                            {"next_department_code": writers_bench.NEXT_DEPARTMENT})
                        code = code if status == 200 else None
                    records.append((kind, status, elapsed, code))
                client.connection.close()
            return loop

        elapsed = writers_bench.race([writer(n) for n in range(writers)], seconds)
        records = [record for records in per_thread for record in records]
        figures = writers_bench.summarise(records, elapsed)
        figures.pop("by_kind")
        figures["codes"] = {code for *_rest, code in records if code}
        return figures

    return round_of("receive"), round_of("complete")


def check_written(app, since: datetime, received: set[str], completed: set[str]) -> dict:
    """The dossiers the writers' officer received since `since` are exactly those answered
    201, each with all its steps; step 1 completed exactly where answered 200."""
    import sqlalchemy as sa

    from qms.extensions import db
    from qms.models import Dossier, DossierStep, User

    with app.app_context():
        officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
        mine = sa.and_(Dossier.received_by_id == officer.id, Dossier.received_at >= since)
        stored = set(db.session.scalars(sa.select(Dossier.code).where(mine)))
        steps = dict(db.session.execute(
            sa.select(Dossier.code, sa.func.count(DossierStep.id))
            .join(DossierStep, DossierStep.dossier_id == Dossier.id).where(mine).group_by(Dossier.code)).all())
        done = set(db.session.scalars(
            sa.select(Dossier.code).join(DossierStep, DossierStep.dossier_id == Dossier.id)
            .where(mine, DossierStep.position == 1, DossierStep.completed_at.is_not(None))))
        db.session.remove()
    result = {"received_in_db": len(stored), "answered_201": len(received),
              "lost": len(received - stored), "unanswered_in_db": len(stored - received),
              "without_all_steps": sum(1 for n in steps.values() if n != max(steps.values(), default=0)),
              "completed_in_db": len(done), "answered_complete_200": len(completed),
              "completed_not_answered": len(done - completed), "answered_not_completed": len(completed - done)}
    result["ok"] = stored == received and done == completed and result["without_all_steps"] == 0
    return result


def add_arguments(parser) -> None:
    parser.add_argument("--seconds", type=float, default=30, help="each phase's length")
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--json")
    parser.add_argument("--database-url", default=province.DEFAULT_URL)
    parser.add_argument("--schema", default=province.DEFAULT_SCHEMA)
    args = parser.parse_args()
    report = load(args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    if not report["writers"]["check"]["ok"]:
        sys.exit(1)


def load(args) -> dict:
    """Both phases on a served app; the report (readers, writers with their check)."""
    import sqlalchemy as sa

    from qms.extensions import db
    from qms.models import User
    from qms.services import api_tokens

    app = bench_app(args)
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        for user in users.values():
            user.set_password(province.BENCH_PASSWORD)
        _token, secret = api_tokens.issue_token(users["officer"], name="province_load", actor=None,
                                                now=datetime.now(UTC))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    port = free_port()
    server = multiprocessing.get_context("fork").Process(target=run_server, args=(args, port), daemon=True)
    server.start()
    report: dict = {"workers": args.workers, "threads": args.threads, "seconds": args.seconds}
    try:
        writers_bench.wait_healthy(port, 120)
        province.log(f"served on port {port}: {args.workers} workers × {args.threads} threads")
        times, elapsed, failed = run_readers(port, args.readers, args.seconds)
        report["readers"] = {"threads": args.readers, **reader_figures(times, elapsed, failed)}
        r = report["readers"]
        province.log(f"readers: {r['requests_per_s']:.1f} req/s, p50 {r['p50_ms']:.0f} ms, "
                     f"p95 {r['p95_ms']:.0f} ms, failed {failed}")
        for page, figures in r["by_page"].items():
            province.log(f"    {page:<55} {figures['requests']:>5} req  p50 {figures['p50_ms']:>6.0f} ms"
                         f"  p95 {figures['p95_ms']:>6.0f} ms")
        since = datetime.now(UTC)
        received, completed = run_writers(port, secret, args.writers, args.seconds)
        report["writers"] = {"threads": args.writers, "receive": received, "complete": completed}
        report["writers"]["check"] = check_written(app, since, received.pop("codes"), completed.pop("codes"))
        for kind, figures in (("receive", received), ("complete", completed)):
            province.log(f"writers, {kind}: {figures['requests_per_s']:.1f}/s, p50 {figures['p50_ms']:.0f} ms, "
                         f"p95 {figures['p95_ms']:.0f} ms, status {figures['status']}")
        check = report["writers"]["check"]
        province.log(f"writers' check: {'ok' if check['ok'] else check}")
    finally:
        server.terminate()
        server.join(timeout=40)
    return report


if __name__ == "__main__":
    main()
