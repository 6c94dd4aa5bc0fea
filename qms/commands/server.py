import ipaddress
import os
import signal
import sys
from queue import Empty

import click
from flask import current_app
from flask.cli import with_appcontext

from qms.commands import cli, handle_errors
from qms.commands.database import init_database, print_passwords, safe_url
from qms.extensions import db
from qms.services import demo
from qms.services.audit_log import acting_as


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _startup_line(host: str, port: int, how: str) -> None:
    scheme = "http"
    click.echo(f"serving qms on {scheme}://{host}:{port}/ ({how}; database: {safe_url()}); "
               "Ctrl+C stops")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        click.echo("note: login cookies are HTTPS-only; put qms behind an HTTPS proxy, "
                   "or set QMS_SECURE_COOKIES=0 for a plain-HTTP trial")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def run_server(host: str, port: int, threads: int, workers: int = 1) -> None:
    """Serve the current app: one waitress process (threads), or, with several workers on
    a system that has gunicorn, a gunicorn master and `workers` processes of `threads`
    threads each."""
    if workers > 1 and sys.platform != "win32":
        _run_gunicorn(host, port, threads, workers)
        return
    import waitress

    app = current_app._get_current_object()
    _startup_line(host, port, f"1 worker × {_plural(threads, 'thread')}, waitress")
    waitress.serve(app, host=host, port=port, threads=threads, ident="qms")


def gunicorn_application(options: dict):
    """gunicorn embedded (imported here: only `serve --workers N` needs it), with its
    settings from `options` and no command line or config file of its own: qms's settings
    stay in QMS_* and instance/config.py."""
    from gunicorn.app.base import BaseApplication

    class QmsGunicorn(BaseApplication):
        def __init__(self, options: dict):
            self.options = options
            super().__init__()

        def load_config(self):
            for key, value in self.options.items():
                if key in OPTIONAL_SETTINGS and key not in self.cfg.settings:
                    continue  # an older gunicorn without that setting
                self.cfg.set(key, value)

        def load(self):
            # In each worker, after the fork (preload_app is off): an app of its own, so
            # its database engine and pool, its limiter storage and its per-process state
            # are never shared with the master or another worker.
            from qms import create_app

            return create_app()

    return QmsGunicorn(options)


def _run_gunicorn(host: str, port: int, threads: int, workers: int) -> None:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    application = gunicorn_application(gunicorn_options(bind, threads, workers))
    _startup_line(host, port, f"{workers} workers × {_plural(threads, 'thread')}, gunicorn")
    # The master only supervises: whatever connection its app opened is closed before the
    # workers are forked, so none of them inherits a pooled connection.
    db.session.remove()
    db.engine.dispose()
    application.run()  # returns never: the master exits when told to stop


# Settings that not every gunicorn >= 22 knows.
OPTIONAL_SETTINGS = {"control_socket_disable"}


def gunicorn_options(bind: str, threads: int, workers: int) -> dict:
    return {
        "bind": bind,
        "workers": workers,
        # gunicorn's gthread worker, safe from a Ctrl+C while it boots (qms/gunicorn_worker.py)
        "worker_class": "qms.gunicorn_worker.BootSafeThreadWorker",
        "threads": threads,
        "preload_app": False,  # each worker imports and builds its app after the fork
        "proc_name": "qms",
        "errorlog": "-",  # the master's and workers' log on stderr, like waitress's
        "loglevel": "info",
        # Forwarded headers are the app's business (QMS_PROXY_HOPS, werkzeug ProxyFix), as
        # under waitress: gunicorn must not trust X-Forwarded-Proto from loopback itself.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        # A worker's heartbeat comes from its main thread, so a long report does not count;
        # the margin is for a slow start (create_app) on a busy machine.
        "timeout": 60,
        "graceful_timeout": 30,  # SIGTERM: requests in flight finish, then workers exit
        # gunicorn >= 25's control socket (~/.gunicorn/gunicorn.ctl) is one path for every
        # server of the user: two qms on one machine would fight over it, and qms uses none.
        "control_socket_disable": True,
        "post_fork": _catch_early_stop,
        "post_worker_init": _stop_if_asked_while_booting,
    }


# A stop that reaches a worker before gunicorn has installed the worker's own signal handlers
# (between the fork and the end of its setup) would be swallowed: the handlers it inherited
# are the master's, which only queue the signal. The worker would then boot, serve, and be
# killed only after the master's graceful timeout. Ctrl+C (the whole process group) or
# systemd's stop (the whole cgroup) right after a start hit that window.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def _catch_early_stop(arbiter, worker) -> None:
    """gunicorn's post_fork hook, in the new worker: remember a stop until the worker's own
    handlers take over, and keep the master's queue as it was at the fork."""
    worker.qms_stop_asked = False
    worker.qms_master_queue = arbiter.SIG_QUEUE  # this process's copy

    def remember(signum, frame):
        worker.qms_stop_asked = True

    for signum in STOP_SIGNALS:
        signal.signal(signum, remember)


def _queued(queue) -> set[int]:
    """The signals in this process's copy of the master's queue: a list before gunicorn 25,
    a SimpleQueue since (drained: the worker never reads it)."""
    if isinstance(queue, list):
        return set(queue)
    found = set()
    while True:
        try:
            found.add(queue.get_nowait())
        except (AttributeError, Empty):
            return found


def _stop_if_asked_while_booting(worker) -> None:
    """gunicorn's post_worker_init hook, once the app is loaded: a worker told to stop
    while booting ends before serving (its run loop sees alive = False)."""
    queued = _queued(getattr(worker, "qms_master_queue", []))
    if getattr(worker, "qms_stop_asked", False) or queued & set(STOP_SIGNALS):
        worker.log.info("Worker told to stop while booting: not serving (pid: %s)", worker.pid)
        worker.alive = False


def shared_limits(storage_uri: str) -> bool:
    """Whether the rate limits' counters are shared between processes (not memory://)."""
    return not storage_uri.startswith("memory://")


def choose_workers(requested: int | None, storage_uri: str) -> tuple[int, str | None]:
    """The number of processes for `qms serve`, and a line to print about it (or None).

    Login limits (flask-limiter) with memory:// storage count per process: N workers would
    let a client try N times as many passwords. So without --workers the default is one per
    core only when the counters are shared (redis://…), else one; an explicit --workers N
    is obeyed with a warning."""
    if sys.platform == "win32":
        if requested and requested > 1:
            return 1, ("note: several worker processes need gunicorn, which does not run on "
                       "Windows: serving one waitress process (use --threads for more)")
        return 1, None
    cores = os.cpu_count() or 1
    if requested is None:
        if shared_limits(storage_uri) or cores == 1:
            return cores, None
        return 1, (f"note: 1 worker, because login limits are counted in each process with "
                   f"QMS_RATELIMIT_STORAGE_URI=memory://; set QMS_RATELIMIT_STORAGE_URI="
                   f"redis://HOST:6379 to share them and serve with one worker per core "
                   f"({cores}), or pass --workers N")
    if requested > 1 and not shared_limits(storage_uri):
        return requested, (f"warning: each of the {requested} workers counts login limits on "
                           f"its own (QMS_RATELIMIT_STORAGE_URI=memory://), so a client gets "
                           f"up to {requested} times the attempts; set "
                           f"QMS_RATELIMIT_STORAGE_URI=redis://HOST:6379 to share them")
    return requested, None


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker process.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (gunicorn; waitress for 1 or on Windows). Default: one "
                   "per core if QMS_RATELIMIT_STORAGE_URI is shared (redis://…), else 1.")
@with_appcontext
def serve(host, port, threads, workers):
    """Serve the app: waitress (one process), or gunicorn with --workers N."""
    workers, message = choose_workers(workers, current_app.config["RATELIMIT_STORAGE_URI"])
    if message:
        click.echo(message)
    run_server(host, port, threads, workers)


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
@handle_errors
def demo_command(host, port):
    """Initialise the database, load demo data if it is empty, and serve it."""
    click.echo(f"database at revision {init_database()}")
    if demo.is_empty():
        with acting_as(None, system="cli:demo"):
            passwords = demo.seed_demo()
            db.session.commit()
        print_passwords(passwords)
    else:
        click.echo("database already has users: demo data not loaded again "
                   "(`qms set-password USER` sets a new password)")
    if _is_loopback(host):
        # A local trial over plain HTTP: the browser must send the cookie back.
        current_app.config["SESSION_COOKIE_SECURE"] = False
        current_app.config["REMEMBER_COOKIE_SECURE"] = False
    # The requests have sessions of their own: this one ends its transaction, which began
    # with SQLite's write lock (qms.transactions), before serving.
    db.session.remove()
    run_server(host, port, threads=8)
