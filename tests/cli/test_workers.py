"""`qms serve --workers N` (issue 12): a gunicorn master and N worker processes, each with an
app and a database engine of its own; waitress and one process otherwise. Real processes,
like tests/cli/test_serve.py (whose `server` polls /healthz until the server answers), on
SQLite or on a fresh PostgreSQL schema when QMS_TEST_DATABASE_URL is set."""
from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from queue import SimpleQueue
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from qms.commands import server as serving
from tests.cli.conftest import QMS_BIN, clean_env, free_port
from tests.cli.test_commands import parse_demo_passwords
from tests.cli.test_serve import HTTP_TIMEOUT, browser, get, log_in, server

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn: not on Windows")

# Generous: the workers finish their requests and exit, and the master reaps them.
STOP_TIMEOUT = 90  # seconds


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (read from /proc/*/stat, which needs no
    kernel option, unlike /proc/PID/task/*/children)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        state, ppid = text[text.rindex(")") + 2:].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """A process that still runs (a zombie has ended; only its exit status is left)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2:].split()[0] != "Z"


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.1)  # poll interval


def workers_of(process, count):
    """The master's worker processes, once there are `count` of them."""
    wait_for(lambda: len(children(process.pid)) == count, HTTP_TIMEOUT,
             f"the master {process.pid} did not have {count} workers "
             f"(it has {sorted(children(process.pid))})")
    return children(process.pid)


def open_files(pid: int) -> set[str]:
    paths = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            paths.add(os.readlink(fd))
        except OSError:
            continue
    return paths


def holds_the_database(pid: int, url: str) -> bool:
    """Whether process `pid` has the database open: the SQLite file, or a TCP connection
    to the PostgreSQL server's port."""
    files = open_files(pid)
    if url.startswith("sqlite:"):
        database = url.removeprefix("sqlite:///")
        return any(path.startswith(database) for path in files)
    port = sa.engine.make_url(url).port or 5432
    sockets = {path[len("socket:["):-1] for path in files if path.startswith("socket:[")}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            # remote address "HEX:PORT", state 01 = established, inode
            if (int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01"
                    and fields[9] in sockets):
                return True
    return False


@pytest.fixture
def initialised(fresh_app, invoke):
    """The fresh database migrated."""
    assert invoke(fresh_app, "init").exit_code == 0


@pytest.fixture
def seeded(fresh_app, invoke):
    """The fresh database migrated and loaded with the demo; the demo's passwords."""
    assert invoke(fresh_app, "init").exit_code == 0
    seeded = invoke(fresh_app, "seed-demo")
    assert seeded.exit_code == 0, seeded.output
    return parse_demo_passwords(seeded.output)


PLAIN_HTTP = {"QMS_SECURE_COOKIES": "0"}  # the login cookie over http://127.0.0.1


def test_two_workers_answer_and_log_in(tmp_path, instance, fresh_url, seeded):
    with server(["serve", "--workers", "2", "--threads", "2"], instance=instance,
                database_url=fresh_url, log_path=tmp_path / "serve.log", env=PLAIN_HTTP,
                with_process=True) as (base, log, process):
        workers = workers_of(process, 2)

        opener = browser()
        status, url, page = log_in(opener, base, "admin", seeded["admin"])
        assert status == 200 and url == base + "/"
        assert 'id="logout"' in page
        # Each page may come from either worker: both read the same secret key and
        # database, so the session holds on all of them.
        for _ in range(6):
            status, _, page = get(opener, base + "/")
            assert status == 200 and 'id="logout"' in page
        wrong = browser()
        _, url, page = log_in(wrong, base, "officer", seeded["officer"] + "x")
        assert url.endswith("/auth/login") and 'id="logout"' not in page

        # The master holds no connection: the workers' engines are their own, created
        # after the fork, and the master's was disposed of before it.
        assert not holds_the_database(process.pid, fresh_url)
        assert any(holds_the_database(pid, fresh_url) for pid in workers)
        assert children(process.pid) == workers  # no worker died and was replaced
        output = log()
    assert f"serving qms on {base}/ (2 workers × 2 threads, gunicorn;" in output
    assert f"Listening at: {base}" in output  # gunicorn's own log is not silenced
    assert "Using worker: qms.gunicorn_worker.BootSafeThreadWorker" in output
    # memory:// limits with an explicit --workers: served, with a warning
    assert "warning: each of the 2 workers counts login limits on its own" in output
    assert "QMS_RATELIMIT_STORAGE_URI=redis://" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_stopping_the_master_ends_every_worker(tmp_path, instance, fresh_url, initialised,
                                               stop):
    with server(["serve", "--workers", "2"], instance=instance, database_url=fresh_url,
                log_path=tmp_path / "serve.log", with_process=True) as (base, log, process):
        workers = workers_of(process, 2)
        assert get(browser(), base + "/auth/login")[0] == 200
        process.send_signal(stop)
        try:
            returncode = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the master did not stop within {STOP_TIMEOUT} s:\n{log()}")
        # no orphan: every worker has ended too
        wait_for(lambda: not any(alive(pid) for pid in workers), STOP_TIMEOUT,
                 f"workers {sorted(pid for pid in workers if alive(pid))} still run")
        output = log()
    assert returncode == 0, output
    assert "Shutting down: Master" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_a_stop_to_the_group_while_the_workers_boot_ends_them_all(tmp_path, instance, fresh_url,
                                                                initialised, stop):
    """Ctrl+C signals the whole process group, systemd's stop the whole cgroup: a worker may
    get it before its own signal handlers are set. It must still end promptly, not serve
    until the master kills it after its graceful timeout."""
    log_path = tmp_path / "serve.log"
    env = clean_env(QMS_INSTANCE_PATH=str(instance), QMS_DATABASE_URL=fresh_url)
    for _attempt in range(3):  # another port if this one was taken meanwhile
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [str(QMS_BIN), "serve", "--workers", "2", "--port", str(free_port())],
                cwd=instance, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # a group of its own, as a terminal's foreground job
        try:
            wait_for(lambda process=process: "Booting worker" in log_path.read_text()
                     or process.poll() is not None, HTTP_TIMEOUT, "no worker booted")
            if process.poll() is None:
                break
            assert "Address already in use" in log_path.read_text(), log_path.read_text()
        except BaseException:
            process.kill()
            process.wait(timeout=HTTP_TIMEOUT)
            raise
    else:
        pytest.fail(f"no free port:\n{log_path.read_text()}")
    os.killpg(process.pid, stop)
    try:
        returncode = process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=HTTP_TIMEOUT)
        pytest.fail(f"the master did not stop within {STOP_TIMEOUT} s:\n{log_path.read_text()}")
    output = log_path.read_text()
    workers = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", output)}
    wait_for(lambda: not any(alive(pid) for pid in workers), STOP_TIMEOUT,
             f"workers {sorted(pid for pid in workers if alive(pid))} still run")
    assert returncode == 0, output
    assert "SIGKILL" not in output  # every worker ended by itself
    assert "Traceback" not in output


def test_a_worker_told_to_stop_while_booting_does_not_serve():
    """The hooks: a stop signal between the fork and the worker's own handlers is
    remembered (or found in the master's queue it inherited), and the loaded worker does
    not enter its run loop."""
    saved = {signum: signal.getsignal(signum) for signum in serving.STOP_SIGNALS}
    try:
        for queue in ([], [signal.SIGHUP], SimpleQueue()):
            worker = SimpleNamespace(alive=True, pid=1, log=logging.getLogger("test"))
            serving._catch_early_stop(SimpleNamespace(SIG_QUEUE=queue), worker)
            serving._stop_if_asked_while_booting(worker)
            assert worker.alive is True  # nothing asked: it serves

        worker = SimpleNamespace(alive=True, pid=1, log=logging.getLogger("test"))
        serving._catch_early_stop(SimpleNamespace(SIG_QUEUE=[]), worker)
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # as if delivered now
        serving._stop_if_asked_while_booting(worker)
        assert worker.alive is False

        for queue in ([signal.SIGINT], SimpleQueue()):
            if isinstance(queue, SimpleQueue):
                queue.put_nowait(signal.SIGTERM)
            worker = SimpleNamespace(alive=True, pid=1, log=logging.getLogger("test"))
            serving._catch_early_stop(SimpleNamespace(SIG_QUEUE=queue), worker)
            serving._stop_if_asked_while_booting(worker)
            assert worker.alive is False  # caught by the master's handler after the fork
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@pytest.mark.skipif((os.cpu_count() or 1) == 1, reason="one core: one worker, no note")
def test_default_is_one_worker_with_memory_limits(tmp_path, instance, fresh_url, initialised):
    """memory:// limits count per process: without --workers, one waitress process and a
    note saying how to get one worker per core."""
    with server(["serve"], instance=instance, database_url=fresh_url,
                log_path=tmp_path / "serve.log", with_process=True) as (base, log, process):
        assert get(browser(), base + "/auth/login")[0] == 200
        assert children(process.pid) == set()  # one process: waitress's threads
        output = log()
    assert f"serving qms on {base}/ (1 worker × 8 threads, waitress;" in output
    notes = [line for line in output.splitlines() if line.startswith("note: 1 worker")]
    assert len(notes) == 1
    assert "QMS_RATELIMIT_STORAGE_URI=redis://" in notes[0]
    assert "--workers" in notes[0]
    assert f"Serving on {base}" in output


# --- choosing the number of workers (no process) ----------------------------------------------

@pytest.fixture
def cores(monkeypatch):
    monkeypatch.setattr(serving.sys, "platform", "linux")
    monkeypatch.setattr(serving.os, "cpu_count", lambda: 4)


def test_default_with_shared_limits_is_one_worker_per_core(cores):
    assert serving.choose_workers(None, "redis://localhost:6379") == (4, None)


def test_default_with_memory_limits_is_one_worker_and_a_note(cores):
    workers, note = serving.choose_workers(None, "memory://")
    assert workers == 1
    assert note.startswith("note: 1 worker") and "\n" not in note
    assert "QMS_RATELIMIT_STORAGE_URI=redis://" in note and "(4)" in note


def test_explicit_workers_with_memory_limits_are_obeyed_with_a_warning(cores):
    workers, warning = serving.choose_workers(3, "memory://")
    assert workers == 3
    assert warning.startswith("warning: each of the 3 workers") and "\n" not in warning
    assert serving.choose_workers(3, "redis://localhost:6379") == (3, None)
    assert serving.choose_workers(1, "memory://") == (1, None)


def test_one_core_needs_no_note(monkeypatch):
    monkeypatch.setattr(serving.sys, "platform", "linux")
    monkeypatch.setattr(serving.os, "cpu_count", lambda: 1)
    assert serving.choose_workers(None, "memory://") == (1, None)


def test_windows_serves_one_waitress_process(monkeypatch):
    monkeypatch.setattr(serving.sys, "platform", "win32")
    assert serving.choose_workers(None, "redis://localhost:6379") == (1, None)
    workers, note = serving.choose_workers(4, "redis://localhost:6379")
    assert workers == 1 and "Windows" in note


def test_each_worker_builds_its_own_app_and_engine(app, tmp_path, monkeypatch):
    """gunicorn loads the app in each worker after the fork (preload_app off), through
    create_app: a new app and a new engine, never the master's."""
    from qms.extensions import db

    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path))
    application = serving.gunicorn_application(serving.gunicorn_options("127.0.0.1:0", 4, 2))
    assert application.cfg.preload_app is False
    assert application.cfg.workers == 2 and application.cfg.threads == 4
    assert application.cfg.worker_class_str == "qms.gunicorn_worker.BootSafeThreadWorker"
    assert application.cfg.secure_scheme_headers == {}  # QMS_PROXY_HOPS decides, as before
    master_engine = db.engine
    loaded = application.load()
    assert loaded is not app
    with loaded.app_context():
        assert db.engine is not master_engine
    assert application.load() is not loaded  # each worker: another app


def test_a_quit_signal_while_booting_stops_the_worker_without_raising(monkeypatch):
    """gunicorn's gthread worker answers SIGINT/SIGQUIT with sys.exit from the handler: during
    the app's imports that SystemExit could land in a finalizer (a printed traceback, a worker
    going on). Booting, ours only stops; booted, gunicorn's handling applies."""
    from gunicorn.workers.gthread import ThreadWorker

    from qms.gunicorn_worker import BootSafeThreadWorker

    worker = object.__new__(BootSafeThreadWorker)
    worker.alive, worker.booted = True, False
    worker.handle_quit(signal.SIGINT, None)  # no SystemExit
    assert worker.alive is False and worker.qms_stop_asked is True
    calls = []
    monkeypatch.setattr(ThreadWorker, "handle_quit", lambda self, sig, frame: calls.append(sig))
    worker.alive, worker.booted = True, True
    worker.handle_quit(signal.SIGINT, None)
    assert calls == [signal.SIGINT]
