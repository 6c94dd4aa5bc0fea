"""`qms backup` and `qms restore`: the database and the uploaded files in one archive
(qms.services.backups)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from qms import clock
from qms.commands import cli, handle_errors
from qms.commands.database import safe_url
from qms.extensions import db
from qms.services import backups
from qms.services.audit_log import acting_as


@cli.command("backup")
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="FILE",
              help="The archive to write, e.g. qms-2026-10-31.tar.gz.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("--include-secret-key", is_flag=True,
              help="Also store the app's SECRET_KEY in the archive (then keep it as secret as the key).")
@with_appcontext
@handle_errors(writes=False)  # reads only: never holds the write lock
def backup(out: Path, force: bool, include_secret_key: bool):
    """Write the database and every uploaded file to one archive (.tar.gz).

    Safe while the app runs. SQLite is copied through its online backup API, PostgreSQL
    through pg_dump (custom format; needs pg_dump of the server's major version). The
    archive's manifest.json lists the app version, schema revision, row counts and each
    member's SHA-256, and whether a SECRET_KEY is set (its value only with
    --include-secret-key)."""
    manifest = backups.create_backup(out, now=clock.now(), force=force,
                                     include_secret_key=include_secret_key)
    database, files = manifest["database"], manifest["attachments"]
    click.echo(f"backup written to {out}: {database['dialect']} database at revision "
               f"{manifest['alembic_revision']} ({len(database['tables'])} tables, "
               f"{database['rows']} rows), {files['count']} attachment(s) "
               f"({backups.human_size(files['bytes'])}); {backups.human_size(out.stat().st_size)} in all")
    if files["skipped"]:
        click.echo(f"note: left out of the archive (not stored files): {', '.join(files['skipped'])}")
    if manifest["secret_key"]["included"]:
        click.echo("note: the archive holds the SECRET_KEY: keep it as secret as the key")
    else:
        click.echo("note: the SECRET_KEY is not in the archive: keep it apart "
                   "(QMS_SECRET_KEY or instance/secret_key) to keep sessions valid after a restore")


@cli.command("restore")
@click.argument("archive", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--force", is_flag=True,
              help="Restore even into a database that holds data (it is replaced).")
@with_appcontext
@handle_errors
def restore(archive: Path, force: bool):
    """Restore a `qms backup` archive into the configured database and file storage.

    Every member is checked against the archive's manifest first. Refuses a database that
    holds any row (alembic_version aside) unless --force, an archive of the other database
    kind, and one from a newer schema; an older schema is upgraded after the restore.
    Stop the app while restoring."""
    with acting_as(None, system="cli:restore"):
        result = backups.restore_backup(archive, force=force)
        db.session.commit()
    manifest = result.manifest
    click.echo(f"restored {archive} (made {manifest.get('created_at')} by qms "
               f"{manifest.get('app_version')}) into {safe_url()}: {result.tables} tables, "
               f"{result.rows} rows, {result.attachments} attachment(s) "
               f"({backups.human_size(result.attachment_bytes)})")
    if result.upgraded_to:
        click.echo(f"schema upgraded from revision {result.revision} to {result.upgraded_to}")
    else:
        click.echo(f"schema at revision {result.revision}")
    click.echo(f"note: {result.secret_key_note}")
