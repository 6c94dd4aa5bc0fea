import click
from flask.cli import with_appcontext

from qms.commands import cli, handle_errors, read_password
from qms.errors import NotFound
from qms.extensions import db
from qms.models import Role
from qms.services import accounts
from qms.services.audit_log import acting_as

ROLE_NAMES = [role.value for role in Role]


@cli.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLE_NAMES),
              help="A role to grant; repeat for several.")
@click.option("--department", "department_code", required=True, help="Department code.")
@click.option("--full-name", default="", help="Display name (defaults to the user name).")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
@handle_errors
def create_user(username, roles, department_code, full_name, email, password_stdin):
    """Create a user account in a department, with one or more roles."""
    department = accounts.department_by_code(department_code)
    password = read_password(password_stdin)
    with acting_as(None, system="cli:create-user"):
        user = accounts.create_user(actor=None, username=username, full_name=full_name,
                                    password=password, department=department, email=email,
                                    roles={Role(r) for r in roles})
        db.session.commit()
    click.echo(f"created user {user.username} ({', '.join(sorted(roles))}) in {department.code}")


@cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
@handle_errors
def set_password(username, password_stdin):
    """Set a user's password (ends their other sessions)."""
    user = accounts.get_user_by_username(username)
    if user is None:
        raise NotFound(f"no user named {username}")
    password = read_password(password_stdin)
    with acting_as(None, system="cli:set-password"):
        accounts.change_password(user, actor=None, new_password=password)
        db.session.commit()
    click.echo(f"password changed for {user.username}")


@cli.command("set-active")
@click.argument("username")
@click.argument("state", type=click.Choice(["on", "off"]))
@with_appcontext
@handle_errors
def set_active(username, state):
    """Activate (on) or deactivate (off) a user; users are never deleted."""
    user = accounts.get_user_by_username(username)
    if user is None:
        raise NotFound(f"no user named {username}")
    with acting_as(None, system="cli:set-active"):
        accounts.set_active(user, state == "on", actor=None)
        db.session.commit()
    click.echo(f"{user.username} is now {'active' if user.active else 'deactivated'}")
