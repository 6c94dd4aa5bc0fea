import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext

from qms.commands import cli, handle_errors
from qms.extensions import db
from qms.services import demo
from qms.services.audit_log import acting_as


def init_database() -> str:
    """Create or upgrade the schema to the newest migration; returns the revision."""
    flask_migrate.upgrade()
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() or "empty"


def safe_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)


@cli.command("init")
@with_appcontext
@handle_errors
def init():
    """Create the database, or upgrade it to the current schema."""
    revision = init_database()
    click.echo(f"database ready at revision {revision}: {safe_url()}")


def print_passwords(passwords: dict[str, str]) -> None:
    click.echo("demo users (user name / password; shown only now):")
    for username, password in passwords.items():
        click.echo(f"  {username:<10} {password}")


@cli.command("seed-demo")
@with_appcontext
@handle_errors
def seed_demo():
    """Load a demo province, communes, departments and one user per role."""
    with acting_as(None, system="cli:seed-demo"):
        passwords = demo.seed_demo()
        db.session.commit()
    click.echo(f"demo data loaded into {safe_url()}")
    print_passwords(passwords)
    current_app.logger.info("demo data seeded")
