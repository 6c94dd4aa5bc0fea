import click
from flask.cli import with_appcontext

from qms import clock
from qms.commands import cli, handle_errors
from qms.errors import NotFound
from qms.extensions import db
from qms.services import accounts, api_tokens
from qms.services.audit_log import acting_as


@cli.command("create-token")
@click.argument("username")
@click.option("--name", default="qms create-token", show_default=True,
              help="What uses the token (e.g. the portal's name), shown on the admin page.")
@with_appcontext
@handle_errors
def create_token(username, name):
    """Issue a JSON API token acting as USERNAME (an active account). The token is printed
    once; only its hash is stored."""
    user = accounts.get_user_by_username(username)
    if user is None:
        raise NotFound(f"no user named {username}")
    if not user.active:
        raise NotFound(f"user {user.username} is deactivated: activate it first (qms set-active)")
    with acting_as(None, system="cli:create-token"):
        token, plaintext = api_tokens.issue_token(user, name=name, actor=None, now=clock.now())
        db.session.commit()
    click.echo(f"created API token {token.prefix}… \"{token.name}\" acting as {user.username}; "
               "it is shown only now, store it safely:", err=True)
    click.echo(plaintext)
