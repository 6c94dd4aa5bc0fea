import ipaddress

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


def run_server(host: str, port: int, threads: int) -> None:
    import waitress

    app = current_app._get_current_object()
    scheme = "http"
    click.echo(f"serving qms on {scheme}://{host}:{port}/ (database: {safe_url()}); Ctrl+C stops")
    if app.config["SESSION_COOKIE_SECURE"]:
        click.echo("note: login cookies are HTTPS-only; put qms behind an HTTPS proxy, "
                   "or set QMS_SECURE_COOKIES=0 for a plain-HTTP trial")
    waitress.serve(app, host=host, port=port, threads=threads, ident="qms")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@with_appcontext
def serve(host, port, threads):
    """Serve the app with waitress (a production WSGI server)."""
    run_server(host, port, threads)


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
