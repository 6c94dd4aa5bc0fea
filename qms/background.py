"""Work that outlives its request: a register file uploaded on /admin/sync is taken in by a
worker thread while its page shows the progress (the page refreshes itself). A worker is a
boundary like a command: it commits (batch by batch, so the database is never locked for
the whole file) and records a failure on its job instead of losing it."""
from __future__ import annotations

import threading

from flask import Flask

from qms import clock
from qms.extensions import db
from qms.models import ImportStatus, RegisterImport
from qms.services import audit_log, register_import


def start_register_import(app: Flask, job_id: int) -> None:
    """Take in the uploaded register `job_id`: in a worker thread, or within the request when
    REGISTER_IMPORT_IN_BACKGROUND is off (tests that do not wait for a worker)."""
    if not app.config["REGISTER_IMPORT_IN_BACKGROUND"]:
        run_register_import(app, job_id)
        return
    threading.Thread(target=run_register_import, args=(app, job_id), name=f"register-import-{job_id}",
                     daemon=True).start()


def run_register_import(app: Flask, job_id: int) -> None:
    from qms.transactions import writing

    with app.app_context(), writing():
        job = db.session.get(RegisterImport, job_id)
        if job is None:
            return
        try:
            with audit_log.acting_as(job.uploaded_by):
                def progress(rows: int) -> None:
                    job.rows_done, job.progressed_at = rows, clock.now()
                    db.session.commit()

                content = register_import.upload_path(job.storage_name).read_bytes()
                summary = register_import.import_register(
                    job.source, job.filename, content, actor=job.uploaded_by, now=clock.now(),
                    mapping=register_import.Mapping.read(job.mapping), progress=progress)
                job.summary = {"rows": summary.rows, "counts": summary.counts, "held": summary.held,
                               "problems": summary.problems[:500],
                               "more_problems": max(0, len(summary.problems) - 500)}
                job.status, job.finished_at = ImportStatus.done, clock.now()
                db.session.commit()
        except Exception as error:  # recorded on the job for its page, whatever it was
            db.session.rollback()
            job = db.session.get(RegisterImport, job_id)
            job.status, job.finished_at = ImportStatus.failed, clock.now()
            job.error = getattr(error, "message", None) or error.__class__.__name__
            db.session.commit()
            if not isinstance(error, register_import.NotARegister):
                app.logger.exception("register import %s failed", job_id)
