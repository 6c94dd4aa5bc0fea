"""`qms serve` and `qms demo` as real processes: the server answers, and the demo's printed
passwords log in over HTTP (urllib with a cookie jar; `requests` is not a dependency).

Each server gets its instance folder in tmp and a database of its own (a tmp SQLite file,
or a fresh PostgreSQL schema when QMS_TEST_DATABASE_URL is set), on 127.0.0.1 only.
"""
from __future__ import annotations

import http.cookiejar
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest

from tests.cli.conftest import QMS_BIN, clean_env, free_port
from tests.cli.test_commands import DEMO_ROLES, parse_demo_passwords
from tests.conftest import CSRF_RE

# Generous limits: the server is polled until it answers, so a quick start costs nothing, and
# a busy machine (two cores, xdist workers, Chromium) must not fail the test.
START_TIMEOUT = 120  # seconds until /healthz answers
HTTP_TIMEOUT = 60  # seconds for one request
PORT_ATTEMPTS = 3


@contextmanager
def server(args, *, instance, database_url, log_path, env=None, with_process=False):
    """Start `qms ARGS --port P`, wait until /healthz answers, yield (base URL, log reader),
    plus the Popen with `with_process`; terminate the process afterwards. `env`: more QMS_*
    settings. A port taken between free_port() and the server's bind (by another xdist
    worker) means another try on another port."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        with _started(args, instance=instance, database_url=database_url, log_path=log_path,
                      env=env, last_attempt=attempt == PORT_ATTEMPTS) as started:
            if started is not None:
                base, log, process = started
                yield (base, log, process) if with_process else (base, log)
                return


@contextmanager
def _started(args, *, instance, database_url, log_path, env, last_attempt):
    """(base URL, log reader, process) once the server answers, or None if its port was
    taken."""
    port = free_port()
    env = clean_env(QMS_INSTANCE_PATH=str(instance), QMS_DATABASE_URL=database_url,
                    **(env or {}))
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(QMS_BIN), *args, "--port", str(port)], cwd=instance,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                output = log_path.read_text()
                if "Address already in use" in output and not last_attempt:
                    yield None
                    return
                pytest.fail(f"qms {args[0]} exited with {process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=HTTP_TIMEOUT) as response:
                    health = json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"qms {args[0]} did not answer within {START_TIMEOUT} s:\n"
                                f"{log_path.read_text()}")
                time.sleep(0.2)  # poll interval, not a wait for readiness
        assert health == {"status": "ok"}
        yield base, log_path.read_text, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=HTTP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=HTTP_TIMEOUT)


def browser():
    """An opener that keeps cookies and follows redirects, like a browser."""
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def get(opener, url):
    with opener.open(url, timeout=HTTP_TIMEOUT) as response:
        return response.status, response.geturl(), response.read().decode()


def log_in(opener, base, username, password):
    status, _, page = get(opener, base + "/auth/login")
    assert status == 200
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the login page"
    token = next(group for group in match.groups() if group)
    form = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrf_token": token}).encode()
    with opener.open(base + "/auth/login", data=form, timeout=HTTP_TIMEOUT) as response:
        return response.status, response.geturl(), response.read().decode()


def test_serve_answers(tmp_path, instance, fresh_app, invoke, fresh_url):
    assert invoke(fresh_app, "init").exit_code == 0  # in-process: quicker than a process
    with server(["serve"], instance=instance, database_url=fresh_url,
                log_path=tmp_path / "serve.log") as (base, log):
        status, _, page = get(browser(), base + "/")
        assert status == 200
        assert 'href="/auth/login"' in page
        status, _, page = get(browser(), base + "/auth/login")
        assert status == 200 and 'name="password"' in page
        # static files come from the installed packages, not a CDN
        assert "cdn.jsdelivr" not in page
        output = log()
    assert f"serving qms on {base}/" in output
    # cookies are HTTPS-only unless QMS_SECURE_COOKIES=0: the operator is told so
    assert "QMS_SECURE_COOKIES=0" in output
    assert f"Serving on {base}" in output  # waitress's own log is not silenced
    assert "Traceback" not in output


def test_demo_prints_working_passwords(tmp_path, instance, fresh_url):
    with server(["demo"], instance=instance, database_url=fresh_url,
                log_path=tmp_path / "demo.log") as (base, log):
        passwords = parse_demo_passwords(log())
        assert set(passwords) == set(DEMO_ROLES)

        status, _, page = get(browser(), base + "/")
        assert status == 200

        wrong = browser()
        status, url, page = log_in(wrong, base, "admin", passwords["admin"] + "x")
        assert status == 200 and url.endswith("/auth/login")
        assert 'id="logout"' not in page

        opener = browser()
        status, url, page = log_in(opener, base, "admin", passwords["admin"])
        assert status == 200
        assert url == base + "/"  # redirected to the dashboard
        assert 'id="logout"' in page
        assert "Nguyễn Văn Quản Trị" in page
        # the session cookie works over plain HTTP on 127.0.0.1: the next page is logged in
        status, _, page = get(opener, base + "/")
        assert 'id="logout"' in page

        status, _, page = log_in(browser(), base, "officer", passwords["officer"])
        assert 'id="logout"' in page and "Lê Văn Một Cửa" in page
        output = log()
    # waitress's log survives the migrations run by `demo` (Alembic's logging setup must
    # not disable the loggers that exist already)
    assert f"Serving on {base}" in output
    assert "Traceback" not in output


def test_demo_second_start_keeps_the_data(tmp_path, instance, fresh_app, invoke, fresh_url):
    """A restarted demo does not seed again (and prints no new passwords)."""
    assert invoke(fresh_app, "init").exit_code == 0
    seeded = invoke(fresh_app, "seed-demo")
    assert seeded.exit_code == 0, seeded.output
    passwords = parse_demo_passwords(seeded.output)
    with server(["demo"], instance=instance, database_url=fresh_url,
                log_path=tmp_path / "demo.log") as (base, log):
        output = log()
        assert "demo users" not in output
        assert "not loaded again" in output
        _, url, page = log_in(browser(), base, "leader", passwords["leader"])
        assert url == base + "/" and 'id="logout"' in page
