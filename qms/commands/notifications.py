import click
from flask.cli import with_appcontext

from qms import clock
from qms.commands import cli, handle_errors
from qms.extensions import db
from qms.services import notifications


@cli.command("escalate")
@with_appcontext
@handle_errors
def escalate():
    """Notify the officers of steps due soon, the heads of overdue ones and the quality
    officers of long-overdue ones (run every few minutes from cron); email them when
    QMS_SMTP_HOST is set."""
    now = clock.now()
    counts = notifications.escalate(now)
    db.session.commit()  # the notifications are kept whatever happens to the email
    counts.emailed, counts.email_failed = notifications.send_emails(now)
    db.session.commit()
    click.echo(str(counts))
    if counts.email_failed:
        click.echo(f"warning: {counts.email_failed} email(s) not sent; the next run retries",
                   err=True)
