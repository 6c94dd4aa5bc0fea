"""`qms check-overdue`: raise the nonconformities of overdue steps and dossiers (cron)."""
import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from qms import clock
from qms.commands import cli, handle_errors
from qms.extensions import db
from qms.models import NcSource
from qms.services import nonconformities


@cli.command("check-overdue")
@with_appcontext
@handle_errors
def check_overdue():
    """Raise one nonconformity for each step and dossier now past its due time and print
    them. Idempotent (a record never gets a second one) and safe to run from cron while
    the app serves; exits 0 when there is nothing to do."""
    raised = nonconformities.check_overdue(clock.now())
    db.session.commit()
    if not raised:
        click.echo(_("Không có bước hay hồ sơ quá hạn mới."))
        return
    for nc in raised:
        department = nc.department
        click.echo("\t".join((nc.code, nc.source.label,
                              f"{department.code} {department.name}", nc.description)))
    steps = sum(1 for nc in raised if nc.source is NcSource.overdue_step)
    click.echo(_("Đã ghi nhận %(n)d sự không phù hợp: %(s)d bước quá hạn, %(d)d hồ sơ quá hạn.",
                 n=len(raised), s=steps, d=len(raised) - steps))
