import sqlalchemy as sa
from flask import abort, current_app, render_template, request

from qms.extensions import db
from qms.models import AgencyLevel, Field, Procedure
from qms.services import documents, procedures
from qms.web.public import bp


@bp.get("/")
def catalogue():
    """Search the procedures in force by words (accents optional), field and level."""
    q = (request.args.get("q") or "").strip()[:200]
    field_id = request.args.get("field", type=int)
    level = request.args.get("level") or None
    if level not in (None, *[lv.value for lv in AgencyLevel]):
        level = None
    statement = procedures.search(q, field_id=field_id,
                                  level=AgencyLevel(level) if level else None)
    page = db.paginate(statement, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    fields = db.session.scalars(sa.select(Field).where(Field.active.is_(True)).order_by(Field.name)).all()
    return render_template("public/catalogue.html", page=page, q=q, field_id=field_id, level=level,
                           fields=fields, level_labels=AgencyLevel.labels(),
                           args={k: v for k, v in request.args.items() if k != "page"})


@bp.get("/<code>")
def procedure(code: str):
    """One procedure as the office applies it today: its effective version."""
    item = db.session.scalar(sa.select(Procedure).where(Procedure.code == code))
    version = documents.effective_version(item.document) if item else None
    if version is None:
        abort(404)
    data = procedures.procedure_data_of(version)
    return render_template("public/procedure.html", procedure=item, version=version, data=data,
                           pv=procedures.procedure_version_of(version), level_labels=AgencyLevel.labels(),
                           pause_labels=procedures.pause_labels)
