from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, render_template, request

from qms.extensions import db
from qms.localtime import start_of_day
from qms.models import AuditLog
from qms.services import audit_labels
from qms.web import access
from qms.web.admin import bp
from qms.web.admin.forms import AuditFilterForm


@bp.get("/audit-log")
def audit_log():
    access.require("audit_log.view")
    form = AuditFilterForm(request.args)
    form.entity_type.choices = [("", "—")] + [
        (t, t) for t in db.session.scalars(
            sa.select(AuditLog.entity_type).where(AuditLog.entity_type.is_not(None))
            .distinct().order_by(AuditLog.entity_type))]
    query = sa.select(AuditLog).order_by(AuditLog.id.desc())
    if form.validate():
        if form.actor.data:
            query = query.where(AuditLog.actor_name == form.actor.data.strip().lower())
        if form.entity_type.data:
            query = query.where(AuditLog.entity_type == form.entity_type.data)
        if request.args.get("entity_id", "").isdigit():
            query = query.where(AuditLog.entity_id == int(request.args["entity_id"]))
        if form.action.data:
            query = query.where(AuditLog.action.like(form.action.data.strip() + "%"))
        if form.date_from.data:
            query = query.where(AuditLog.at >= start_of_day(form.date_from.data))
        if form.date_to.data:
            query = query.where(AuditLog.at < start_of_day(form.date_to.data + timedelta(days=1)))
    else:
        # A filter that cannot be read must not silently widen to the whole log: show the
        # field's error and no rows rather than everything unfiltered.
        query = query.where(sa.false())
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("admin/audit_log.html", page=page, form=form, args=args,
                           action_label=audit_labels.action_label, entity_label=audit_labels.entity_label)
