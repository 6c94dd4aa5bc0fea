"""Dossiers of another one-stop system: register a source, import its register file."""
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from qms import clock
from qms.commands import cli, handle_errors
from qms.errors import NotFound
from qms.extensions import db
from qms.models import SyncSource
from qms.services import accounts, sync
from qms.services.audit_log import acting_as


@cli.command("add-sync-source")
@click.argument("code")
@click.argument("name")
@click.option("--account", "username", required=True,
              help="The integration account whose API token syncs this source's dossiers.")
@with_appcontext
@handle_errors
def add_sync_source(code, name, username):
    """Register a source system (e.g. the provincial one-stop system) and its account."""
    account = accounts.get_user_by_username(username)
    if account is None:
        raise NotFound(f"no user named {username}")
    with acting_as(None, system="cli:add-sync-source"):
        source = sync.add_source(actor=None, code=code, name=name, account=account)
        db.session.commit()
    click.echo(f"source {source.code} added; its account {account.username} syncs with its API token "
               f"(qms create-token {account.username})")


@cli.command("import-dossiers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_code", required=True, help="The source system's code (qms add-sync-source).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A YAML file naming the columns, status words and default values that differ.")
@click.option("--dry-run", is_flag=True, help="Read and check every row, write nothing.")
@with_appcontext
@handle_errors
def import_dossiers(path, source_code, mapping, dry_run):
    """Take in the dossier register (XLSX or CSV) exported by the source system: each row is
    created, updated, left unchanged or held for mapping, as the sync endpoint does.
    Importing the same file again changes nothing."""
    from qms.services import register_import  # reads spreadsheets: imported when used

    source = db.session.scalar(sa.select(SyncSource).where(SyncSource.code == source_code.strip().upper()))
    if source is None:
        raise NotFound(f"no source system {source_code} (qms add-sync-source)")
    content = path.read_bytes()
    rules = register_import.Mapping.read(mapping.read_text(encoding="utf-8") if mapping else None)
    total = register_import.count_rows(path.name, content, rules)
    with acting_as(None, system="cli:import-dossiers"), \
            click.progressbar(length=total, label=f"{path.name}: {total} rows", file=click.get_text_stream("stderr")) as bar:
        done = 0

        def progress(rows: int) -> None:
            nonlocal done
            if not dry_run:
                db.session.commit()  # batch by batch: the database is not locked for the whole file
            bar.update(rows - done)
            done = rows

        summary = register_import.import_register(source, path.name, content, actor=None, now=clock.now(),
                                                  mapping=rules, progress=progress)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    for problem in summary.problems:
        click.echo(f"refused  {problem}", err=True)
    counts = ", ".join(f"{n} {result}" for result, n in summary.counts.items() if n)
    held = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.held.items()))
    click.echo(("dry run, nothing written: " if dry_run else "") + f"{summary.rows} rows: {counts}"
               + (f" (held: {held}; map the codes on /admin/sync)" if held else ""))


@cli.command("push-events")
@click.option("--limit", default=10_000, show_default=True, help="At most this many deliveries in this run.")
@with_appcontext
@handle_errors
def push_events(limit):
    """Deliver the dossiers' status changes to the configured endpoints (from cron, every
    minute): signed, in order per dossier, retried with back-off; a delivery acknowledged is
    never sent again."""
    from qms.models import OutboxDelivery
    from qms.services import outbox

    delivered = failed = 0
    with acting_as(None, system="cli:push-events"):
        for endpoint in outbox.endpoints():
            if not endpoint.active:
                continue
            outbox.enqueue(endpoint)
            db.session.commit()
            while delivered + failed < limit:
                picked = outbox.deliverable(endpoint, clock.now(), limit=min(100, limit - delivered - failed))
                if not picked:
                    break
                for delivery_id in picked:
                    won = outbox.claim(delivery_id, clock.now())
                    db.session.commit()  # the claim holds while the request is out (no lock held)
                    if not won:
                        continue
                    delivery = db.session.get(OutboxDelivery, delivery_id)
                    error = outbox.send(delivery)
                    outbox.record(delivery, error, clock.now())
                    db.session.commit()
                    if error is None:
                        delivered += 1
                    else:
                        failed += 1
                        click.echo(f"failed   {endpoint.name}: event {delivery.event_id} "
                                   f"(dossier {delivery.event.payload.get('MaHoSo')}): {error}", err=True)
    click.echo(f"{delivered} delivered, {failed} failed (retried later)")
