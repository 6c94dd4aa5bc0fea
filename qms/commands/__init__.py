"""The `qms` command line (also `python cli.py`). Commands are thin: parse, call a
service, commit, report. Errors end with a clear message and a non-zero exit."""
from __future__ import annotations

import functools
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from qms.errors import QmsError


def _create_app():
    from qms import create_app

    try:
        return create_app()
    except QmsError as error:
        raise click.ClickException(error.message) from None


def handle_errors(command=None, *, writes: bool = True):
    """Turn domain and database errors into one clear line and a non-zero exit. A command
    that `writes` begins its transactions with SQLite's write lock (qms.transactions);
    one that only reads (reports, exports) passes writes=False, so it never holds it."""
    if command is None:
        return functools.partial(handle_errors, writes=writes)

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from qms.extensions import db
        from qms.transactions import is_lock_timeout, writing

        try:
            if writes:
                with writing():
                    return command(*args, **kwargs)
            return command(*args, **kwargs)
        except QmsError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            db.session.rollback()
            if is_lock_timeout(error):
                raise click.ClickException(
                    "the database is busy (another process kept its write lock past the busy "
                    "timeout); nothing was written: run the command again") from None
            detail = str(error.orig).splitlines()[0] if error.orig else str(error)
            if "no such table" in detail or "does not exist" in detail:
                raise click.ClickException(
                    "the database is not initialised: run `qms init` first") from None
            raise click.ClickException(f"database error: {detail}") from None

    return wrapper


# No default commands: `run` is Flask's debug server; `qms serve` is the one to use.
@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def cli():
    """qms: ISO 9001 quality management for one-stop offices.

    Settings come from instance/config.py and QMS_* environment variables
    (QMS_INSTANCE_PATH, QMS_DATABASE_URL, QMS_SECRET_KEY, QMS_SECURE_COOKIES).
    """


def read_password(password_stdin: bool, *, prompt: str = "Password") -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("--password-stdin given but standard input is empty")
        return line.rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


cli.add_command(routes_command)
cli.add_command(shell_command)

from qms.commands import (  # noqa: E402,F401
    accounts,
    api_tokens,  # noqa: E402,F401
    backup,
    database,
    documents,
    nonconformities,  # noqa: E402,F401
    notifications,
    reports,  # noqa: E402,F401
    server,
    sync,
)

__all__ = ["cli", "current_app", "handle_errors", "read_password", "with_appcontext"]
