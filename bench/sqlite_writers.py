"""Benchmark: concurrent API writers on one SQLite database, with and without taking the
write lock when a transaction begins (issue 14).

    python bench/sqlite_writers.py [--seconds 60] [--writers 8] [--modes before after] [--json FILE]

For each mode, builds a throw-away SQLite database under a temporary folder (migrations,
the demo organisation and shipped procedures), issues an API token for the demo one-stop
officer and serves the app with waitress (8 threads) on a free local port. `--writers`
client threads then loop for `--seconds`: POST /api/v1/dossiers (a birth registration,
procedure 1.001193), then POST /api/v1/dossiers/<code>/steps/1/complete handing it to the
culture department (NK-VHXH).

- before: transactions begin as the driver begins them (DEFERRED, at the first write):
  qms.transactions.wants_write, which the "begin" listener looks up at each call, is
  patched to return False, in this process only;
- after: the code as it is (BEGIN IMMEDIATE for the requests that write).

Prints per mode: requests, requests/s, p50 / p95 / max latency (both calls together, then
each on its own), the answers by status (500 and 503 apart), the BEGIN IMMEDIATE statements
counted on the engine (0 in "before" shows the patch took), what the server logged, and a
check that the database holds exactly the dossiers answered 201, each with all its steps,
and exactly the step completions answered 200; then the after / before ratios of
throughput and p95; exits 1 when the database check fails. Figures are for one run on
one (shared, noisy) machine: compare the ratios and the error counts, not the milliseconds.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SERVER_THREADS = 8
NEXT_DEPARTMENT = "NK-VHXH"  # the demo ward's culture department: step 2 of 1.001193
DOSSIER = {
    "procedure_code": "1.001193",
    "applicant": {"name": "Nguyễn Thị Đo Tải", "id_number": "001190012345", "phone": "0901234567",
                  "address": "12 Lê Lợi, phường Ninh Kiều"},
    "channel": "online",
    "components": ["Tờ khai đăng ký khai sinh"],
    "return_method": "Bưu chính công ích",
}


def build(folder: Path):
    """A fresh database with the demo organisation; returns the app and an API token of
    the demo one-stop officer."""
    os.environ["QMS_INSTANCE_PATH"] = str(folder)
    import flask_migrate
    import sqlalchemy as sa

    from qms import clock, create_app
    from qms.extensions import db
    from qms.models import User
    from qms.services import api_tokens, demo

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
                      "SECURE_COOKIES": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      "API_RATE_LIMIT": "1000000 per minute", "ESCALATION_AUTO_MINUTES": 0})
    with app.app_context():
        flask_migrate.upgrade()
        demo.seed_demo()
        officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
        _token, plaintext = api_tokens.issue_token(officer, name="bench sqlite_writers",
                                                   actor=None, now=clock.now())
        db.session.commit()
    return app, plaintext


@contextmanager
def deferred_begin():
    """The "before" mode: no transaction asks for the write lock when it begins."""
    from qms import transactions

    # The listener reads `wants_write` from its module's globals at each call: patch there.
    assert transactions._begin.__globals__ is vars(transactions)
    with mock.patch.object(transactions, "wants_write", lambda: False):
        yield


@contextmanager
def count_begin_immediate(app):
    """A list that gets one item per BEGIN IMMEDIATE the app's engine sends."""
    from sqlalchemy import event

    from qms.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[int] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("BEGIN IMMEDIATE"):
            seen.append(1)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


class LogTally(logging.Handler):
    """Counts what the app logs (warnings and errors), paths and codes folded together."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record):
        text = re.sub(r"/dossiers/[^/\s]+", "/dossiers/<code>", record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" — {type(error).__name__}: {str(error).splitlines()[0][:100]}"
        self.counts[f"{record.levelname} {text}"] += 1


@contextmanager
def log_tally(app):
    """What the app and waitress log is counted instead of printed."""
    tally = LogTally()
    loggers = [app.logger, logging.getLogger("waitress")]
    saved = [(logger.handlers[:], logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers, logger.propagate = [tally], False
    try:
        yield tally.counts
    finally:
        for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate


@contextmanager
def serve(app):
    """The app under waitress in a background thread; yields its port once /healthz answers."""
    import waitress
    from waitress import wasyncore

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=SERVER_THREADS)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    port = server.effective_port
    try:
        wait_healthy(port, 30)
        yield port
    finally:
        # Closing every socket from the loop's own thread ends server.run().
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


def wait_healthy(port: int, seconds: float) -> None:
    """Until /healthz answers 200 (an OSError after `seconds`)."""
    give_up = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > give_up:
                raise
        time.sleep(0.05)


def race(targets: list, seconds: float) -> float:
    """Start one thread per callable in `targets`, each called with the shared deadline once
    all are ready (a barrier); the wall time until the last one returned."""
    start_line = threading.Barrier(len(targets) + 1)
    deadline: list[float] = []

    def runner(target) -> None:
        start_line.wait()
        target(deadline[0])

    threads = [threading.Thread(target=runner, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline.append(start + seconds)
    start_line.wait()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


class Client:
    """One keep-alive connection speaking JSON with the bearer token."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict) -> tuple[int, float, dict]:
        """(status, seconds, JSON body); status 0 when the connection failed."""
        data = json.dumps(body).encode()
        start = time.perf_counter()
        try:
            self.connection.request("POST", path, body=data, headers=self.headers)
            response = self.connection.getresponse()
            payload, status = response.read(), response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()  # the next request opens a new one
            payload, status = b"", 0
        elapsed = time.perf_counter() - start
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {}
        return status, elapsed, parsed


def receive_and_complete(client: Client, records: list) -> dict:
    """One loop of a writer: receive a dossier, then complete its first step. Records
    (call, status, seconds, dossier code if it succeeded); returns the received dossier."""
    status, elapsed, body = client.post("/api/v1/dossiers", DOSSIER)
    records.append(("receive", status, elapsed, body.get("code") if status == 201 else None))
    if status != 201:
        return {}
    status, elapsed, _body = client.post(f"/api/v1/dossiers/{body['code']}/steps/1/complete",
                                         {"next_department_code": NEXT_DEPARTMENT})
    records.append(("complete", status, elapsed, body["code"] if status == 200 else None))
    return body


def run_writers(port: int, token: str, writers: int, seconds: float) -> tuple[list, float]:
    """`writers` threads looping until `seconds` have passed; every request's record, and
    the wall time until the last one answered."""
    per_thread: list[list] = [[] for _ in range(writers)]

    def writer(records: list):
        def loop(deadline: float) -> None:
            client = Client(port, token)
            while time.perf_counter() < deadline:
                receive_and_complete(client, records)
            client.connection.close()
        return loop

    elapsed = race([writer(records) for records in per_thread], seconds)
    return [record for records in per_thread for record in records], elapsed


def check_database(app, received: set[str], completed: set[str], steps_each: int) -> dict:
    """Nothing lost, nothing half-written: the database's dossiers are exactly those answered
    201, each has all its steps, and step 1 is completed exactly where the answer was 200."""
    import sqlalchemy as sa

    from qms.extensions import db
    from qms.models import Dossier, DossierStep

    with app.app_context():
        stored = set(db.session.scalars(sa.select(Dossier.code)))
        step_counts = db.session.execute(
            sa.select(Dossier.code, sa.func.count(DossierStep.id))
            .outerjoin(DossierStep, DossierStep.dossier_id == Dossier.id)
            .group_by(Dossier.code)).all()
        step1_done = set(db.session.scalars(
            sa.select(Dossier.code).join(DossierStep, DossierStep.dossier_id == Dossier.id)
            .where(DossierStep.position == 1, DossierStep.completed_at.is_not(None))))
        db.session.remove()
    result = {
        "dossiers_in_db": len(stored), "answered_201": len(received),
        "answered_201_not_in_db": len(received - stored), "in_db_not_answered_201": len(stored - received),
        "dossiers_without_all_steps": sum(1 for _code, n in step_counts if n != steps_each),
        "step1_completed_in_db": len(step1_done), "answered_complete_200": len(completed),
        "step1_completed_not_answered_200": len(step1_done - completed),
        "answered_200_not_completed_in_db": len(completed - step1_done),
    }
    result["ok"] = (stored == received and step1_done == completed
                    and result["dossiers_without_all_steps"] == 0)
    return result


def percentile(samples: list[float], p: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def latency(samples: list[float]) -> dict:
    return {"p50_ms": percentile(samples, 50) * 1000, "p95_ms": percentile(samples, 95) * 1000,
            "max_ms": max(samples, default=float("nan")) * 1000}


def summarise(records: list, elapsed: float) -> dict:
    statuses = Counter(status for _kind, status, _t, _code in records)
    return {
        "requests": len(records), "seconds": elapsed, "requests_per_s": len(records) / elapsed,
        **latency([t for _kind, _s, t, _code in records]),
        "by_kind": {kind: {"requests": sum(1 for r in records if r[0] == kind),
                           **latency([t for k, _s, t, _code in records if k == kind])}
                    for kind in ("receive", "complete")},
        "status": {str(code): n for code, n in sorted(statuses.items())},
        "2xx": sum(n for code, n in statuses.items() if 200 <= code < 300),
        "4xx": sum(n for code, n in statuses.items() if 400 <= code < 500),
        "500": statuses[500], "503": statuses[503],
        "errors_5xx": sum(n for code, n in statuses.items() if code >= 500),
        "connection_failures": statuses[0],
    }


def measure(mode: str, writers: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as folder, (deferred_begin() if mode == "before" else nullcontext()):
        app, token = build(Path(folder))
        with serve(app) as port, count_begin_immediate(app) as begins, log_tally(app) as logged:
            # Sanity: one loop by hand, and the BEGIN IMMEDIATE statements it caused.
            warm_up: list = []
            client = Client(port, token)
            dossier = receive_and_complete(client, warm_up)
            client.connection.close()
            if [r[1] for r in warm_up] != [201, 200]:
                raise SystemExit(f"{mode}: the warm-up loop answered {[r[1] for r in warm_up]}")
            sanity = len(begins)
            print(f"{mode}: sanity check, one receive + one complete over HTTP sent "
                  f"{sanity} BEGIN IMMEDIATE", flush=True)
            if (mode == "before") != (sanity == 0):
                raise SystemExit(f"{mode}: expected {'no' if mode == 'before' else 'some'} BEGIN IMMEDIATE")
            begins.clear()
            records, elapsed = run_writers(port, token, writers, seconds)
            begin_immediate = len(begins)
        every = warm_up + records
        check = check_database(app, {r[3] for r in every if r[0] == "receive" and r[3]},
                               {r[3] for r in every if r[0] == "complete" and r[3]},
                               steps_each=len(dossier["steps"]))
        with app.app_context():
            from qms.extensions import db
            db.engine.dispose()  # before the folder goes
    return {**summarise(records, elapsed), "begin_immediate": begin_immediate,
            "begin_immediate_in_sanity_loop": sanity, "server_log": dict(logged.most_common()),
            "database": check}


def print_table(figures: dict) -> None:
    print()
    print(f"{'mode':<7} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>8} "
          f"{'2xx':>6} {'4xx':>4} {'500':>4} {'503':>4} {'conn':>4} {'BEGIN IMM':>9}  database")
    for mode, f in figures.items():
        db_check = f["database"]
        verdict = (f"ok ({db_check['dossiers_in_db']} dossiers = 201s)" if db_check["ok"]
                   else "MISMATCH (see below)")
        print(f"{mode:<7} {f['requests']:>8} {f['requests_per_s']:>7.1f} {f['p50_ms']:>7.1f} "
              f"{f['p95_ms']:>7.1f} {f['max_ms']:>8.1f} {f['2xx']:>6} {f['4xx']:>4} {f['500']:>4} "
              f"{f['503']:>4} {f['connection_failures']:>4} {f['begin_immediate']:>9}  {verdict}")
    print()
    for mode, f in figures.items():
        kinds = "; ".join(f"{kind} {k['requests']} calls, p50 {k['p50_ms']:.1f} ms, p95 {k['p95_ms']:.1f} ms, "
                          f"max {k['max_ms']:.1f} ms" for kind, k in f["by_kind"].items())
        print(f"{mode}: {kinds}")
        print(f"{mode}: statuses {f['status']}")
        if not f["database"]["ok"]:
            print(f"{mode}: database check {f['database']}")
        for line, n in f["server_log"].items():
            print(f"{mode}: server log {n} × {line}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--modes", nargs="+", choices=("before", "after"), default=["before", "after"])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    figures = {}
    for mode in args.modes:
        print(f"{mode}: {args.writers} writers for {args.seconds:g} s, waitress with "
              f"{SERVER_THREADS} threads ...", flush=True)
        figures[mode] = measure(mode, args.writers, args.seconds)
    print_table(figures)
    ratios = {}
    if {"before", "after"} <= figures.keys():
        before, after = figures["before"], figures["after"]
        ratios = {"requests_per_s": after["requests_per_s"] / before["requests_per_s"],
                  "p95": after["p95_ms"] / before["p95_ms"]}
        print(f"ratios, after / before: throughput {ratios['requests_per_s']:.2f}, p95 {ratios['p95']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"seconds": args.seconds, "writers": args.writers,
                                         "server_threads": SERVER_THREADS, "modes": figures,
                                         "ratios": ratios}, indent=2, ensure_ascii=False) + "\n")
    if not all(f["database"]["ok"] for f in figures.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
