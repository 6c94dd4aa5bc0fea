"""The desk's intake queue of dossiers submitted online (national status 1): each is
accepted (status 2, the time limit runs from then) or refused with the reasons (status 3,
Mẫu 03). The rules are services.dossiers.accept_online / refuse_online."""
from flask import redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from qms import clock
from qms.extensions import db
from qms.localtime import to_local
from qms.services import dossiers
from qms.web import access
from qms.web.actions import act
from qms.web.dossiers import bp
from qms.web.dossiers.views import _dossier
from qms.web.forms import Form


class RefuseOnlineForm(Form):
    reasons = TextAreaField(_l("Lý do từ chối tiếp nhận"),
                            validators=[DataRequired(message=_l("Hãy ghi lý do từ chối tiếp nhận.")),
                                        Length(max=4000)],
                            description=_l("Mỗi dòng một lý do; in trên phiếu từ chối (Mẫu 03)."))


@bp.get("/intake")
def intake():
    access.require("dossiers.receive", current_user.department)
    waiting = db.session.scalars(dossiers.intake_queue(current_user.department_id)).all()
    return render_template("dossiers/intake.html", dossiers=waiting, refuse_form=RefuseOnlineForm(),
                           accept_form=Form())


@bp.post("/<code>/accept")
def accept(code: str):
    access.require("dossiers.receive", current_user.department)
    dossier = _dossier(code)
    act(lambda: dossiers.accept_online(dossier, actor=current_user, now=clock.now()),
        lambda event: _("Đã tiếp nhận hồ sơ %(c)s; hẹn trả kết quả %(d)s.", c=dossier.code,
                        d=to_local(event.due_after).strftime("%d/%m/%Y %H:%M")), form=Form())
    return redirect(url_for(".intake"))


@bp.post("/<code>/refuse-online")
def refuse_online(code: str):
    access.require("dossiers.receive", current_user.department)
    dossier = _dossier(code)
    form = RefuseOnlineForm()
    act(lambda: dossiers.refuse_online(dossier, actor=current_user, reasons=form.reasons.data, now=clock.now()),
        _("Đã từ chối tiếp nhận hồ sơ %(c)s. In phiếu từ chối (Mẫu 03) để gửi người nộp.", c=dossier.code),
        form=form)
    return redirect(url_for(".intake"))
