from pathlib import Path

import click
from flask.cli import with_appcontext

from qms import clock
from qms.commands import cli, handle_errors
from qms.extensions import db
from qms.services import documents
from qms.services.audit_log import acting_as

DEFAULT_FOLDER = Path("procedures_iso")


@cli.command("import-procedures")
@click.argument("path", required=False, type=click.Path(path_type=Path), default=DEFAULT_FOLDER)
@click.option("--owner", default=None, help="Owner department code for new documents whose file names none.")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@with_appcontext
@handle_errors
def import_procedures(path, owner, dry_run):
    """Import documents and procedures from PATH (default procedures_iso/).

    New file → new document with an effective first version; changed file → a new draft
    version (diff shown); unchanged → nothing. One bad file → nothing is written."""
    from qms.services import procedure_files  # with pydantic: imported when used

    with acting_as(None, system="cli:import-procedures"):
        try:
            results = procedure_files.import_tree(path, now=clock.now(), default_owner=owner)
        except procedure_files.FileProblems as problems:
            db.session.rollback()
            for problem in problems.problems:
                click.echo(f"error: {problem}", err=True)
            raise click.ClickException(f"{len(problems.problems)} problem(s); nothing was imported") from None
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if result.outcome != "unchanged":
            click.echo(f"{result.outcome:<13} {result.document_code} (lần {result.version_number}) ← {result.path}")
            for line in result.diff:
                click.echo(f"    {line}")
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no files"
    click.echo(("dry run, nothing written: " if dry_run else "") + summary)


@cli.command("export-procedures")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
@handle_errors(writes=False)
def export_procedures(directory):
    """Write every document's newest version to DIRECTORY in the procedures_iso/ format."""
    from qms.services import procedure_files

    written = procedure_files.export_tree(directory)
    click.echo(f"wrote {len(written)} file(s) to {directory}")


@cli.command("apply-effective-dates")
@with_appcontext
@handle_errors
def apply_effective_dates():
    """Make approved versions whose effective date has come effective (run daily)."""
    with acting_as(None, system="cli:apply-effective-dates"):
        changed = documents.apply_effective_dates(clock.now())
        db.session.commit()
    for version in changed:
        click.echo(f"effective: {version.document.code} lần {version.number}")
    click.echo(f"{len(changed)} version(s) took effect")
