"""API v1 endpoints: thin, like the pages — parse JSON, call one service, commit, answer JSON.
The rules (who receives, who completes which step, once) are the same service functions
the desk and the departments use."""
import sqlalchemy as sa
from flask import current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qms import authz, clock
from qms.extensions import db, limiter
from qms.models import Agency, Department, Dossier, Procedure
from qms.services import dossiers, sync
from qms.web import access
from qms.web.api import ApiError, bp, schemas
from qms.web.api.openapi import openapi_document


def _user():
    return current_user._get_current_object()


def _dossier(code: str) -> Dossier:
    """As on the pages: 404 for an unknown code, 403 for a dossier the user may not read."""
    dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == code.strip().upper()))
    if dossier is None:
        raise ApiError(_("Không có hồ sơ mã %(c)s.", c=code), status=404)
    if not authz.may(_user(), "dossiers.view", dossier):
        raise ApiError(_("Tài khoản này không được xem hồ sơ %(c)s.", c=dossier.code), status=403)
    return dossier


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


def _agency_for(code: str) -> Agency | None:
    """The agency named to process the dossier, by code ("" : the receiving one)."""
    if not code:
        return None
    agency = db.session.scalar(sa.select(Agency).where(Agency.code == code.upper()))
    if agency is None:
        message = _("Không có cơ quan mã %(c)s.", c=code)
        raise ApiError(message, status=422, errors=[{"field": "processing_agency_code", "message": message}])
    return agency


def _procedure_for(procedure_code: str) -> Procedure:
    """The procedure by its national code, if the token user's agency handles it."""
    procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == procedure_code))
    if procedure is None:
        raise ApiError(_("Không có thủ tục mã %(c)s.", c=procedure_code), status=404)
    agency = _user().department.agency
    if procedure.level is not agency.level:
        # The desk offers only its level's procedures (dossiers.receivable_procedures).
        raise ApiError(_("Thủ tục %(c)s không thuộc thẩm quyền của %(a)s.", c=procedure.code,
                         a=agency.name), status=422,
                       errors=[{"field": "procedure_code", "message": _("Không thuộc thẩm quyền.")}])
    return procedure


@bp.post("/dossiers")
def receive():
    """A dossier handed over by the portal, received at the token user's one-stop office."""
    access.require("dossiers.receive")
    data = schemas.parse("ReceiveRequest", schemas.json_body()).service_args()
    procedure = _procedure_for(data.pop("procedure_code"))
    data["processing_agency"] = _agency_for(data.pop("processing_agency_code"))
    dossier, secret = dossiers.receive_dossier(actor=_user(), procedure=procedure,
                                               now=clock.now(), **data)
    db.session.commit()
    body = schemas.dossier_json(dossier)
    # The lookup secret exists only now (only its hash is kept): the portal passes it on
    # to the applicant, as the printed receipt does at the desk.
    body["lookup_secret"] = secret
    return jsonify(body), 201, {"Location": url_for(".dossier", code=dossier.code)}


@bp.post("/online-dossiers")
def register_online():
    """A dossier submitted on the portal, with its national code: it waits in the intake
    queue of the token user's one-stop office until the desk accepts or refuses it."""
    access.require("dossiers.receive")
    data = schemas.parse("OnlineRequest", schemas.json_body()).service_args()
    procedure = _procedure_for(data.pop("procedure_code"))
    dossier, secret = dossiers.register_online(actor=_user(), procedure=procedure, now=clock.now(), **data)
    db.session.commit()
    body = schemas.dossier_json(dossier)
    body["lookup_secret"] = secret
    return jsonify(body), 201, {"Location": url_for(".dossier", code=dossier.code)}


@bp.get("/dossiers/<code>")
def dossier(code: str):
    access.require("dossiers.work")
    return jsonify(schemas.dossier_json(_dossier(code)))


@bp.post("/dossiers/<code>/steps/<int:position>/complete")
def complete(code: str, position: int):
    access.require("dossiers.work")
    found = _dossier(code)
    step = next((s for s in found.steps if s.position == position), None)
    if step is None:
        raise ApiError(_("Hồ sơ %(c)s không có bước %(n)d.", c=found.code, n=position), status=404)
    data = schemas.parse("CompleteRequest", schemas.json_body(allow_empty=True))
    next_department = None
    if data.next_department_code:
        next_department = db.session.scalar(sa.select(Department).where(
            Department.code == data.next_department_code.upper(),
            Department.agency_id == found.agency_id, Department.active.is_(True)))
        if next_department is None:
            message = _("Không có phòng ban đang hoạt động mã %(c)s trong %(a)s.",
                        c=data.next_department_code, a=found.agency.name)
            raise ApiError(message, status=422,
                           errors=[{"field": "next_department_code", "message": message}])
    dossiers.complete_step(step, actor=_user(), now=clock.now(), note=data.note,
                           result=data.result, next_department=next_department)
    # The answer is what was flushed, read before the commit expires it (a reload would cost
    # a third of the request's statements); the error handlers answer if the commit fails.
    body = schemas.dossier_json(found)
    db.session.commit()
    return jsonify(body)


@bp.post("/dossiers/<code>/return")
def return_result(code: str):
    access.require("dossiers.work")
    found = _dossier(code)
    data = schemas.parse("ReturnRequest", schemas.json_body(allow_empty=True)).service_args()
    dossiers.return_result(found, actor=_user(), now=clock.now(), **data)
    db.session.commit()
    return jsonify(schemas.dossier_json(found))


@bp.get("/queue")
def queue():
    """The current steps a department holds, soonest due first: the token user's own
    department, or (for oversight roles) any department by code."""
    access.require("dossiers.work")
    user = _user()
    code = (request.args.get("department") or "").strip().upper()
    department = user.department
    if code and code != department.code:
        department = db.session.scalar(sa.select(Department).where(Department.code == code))
        if department is None:
            raise ApiError(_("Không có phòng ban mã %(c)s.", c=code), status=404)
        if not authz.has(user, "dossiers.read_all"):
            raise ApiError(_("Tài khoản này chỉ xem được hàng đợi của phòng mình."), status=403)
    number, size = schemas.page_args(request.args)
    page = db.paginate(dossiers.queue(department.id), page=number, per_page=size, error_out=False)
    now = clock.now()
    return jsonify({"department": {"code": department.code, "name": department.name},
                    "generated_at": schemas.when(now),
                    "page": number, "per_page": size, "total": page.total, "pages": page.pages,
                    "items": [schemas.queue_item_json(step, now) for step in page.items]})


@bp.post("/sync/dossiers")
@limiter.limit(lambda: current_app.config["SYNC_RATE_LIMIT"], key_func=lambda: "sync:" + str(_user().id))
def sync_dossiers():
    """A batch of dossiers from the provincial one-stop system, in the national portal's
    shape (a JSON array, or an object whose `data` is one): upserted by (source, MaHoSo);
    the answer gives each dossier's outcome (created, updated, unchanged, held, refused)."""
    user = _user()
    source = sync.source_of(user)
    if source is None:
        raise ApiError(_("Tài khoản này không phải tài khoản tích hợp của hệ thống nguồn nào."), status=403)
    limit = current_app.config["SYNC_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(_("Nội dung quá lớn: tối đa %(n)d MB mỗi lần gửi.", n=limit // (1024 * 1024)),
                       status=413)
    request.max_content_length = limit  # a body without a length is cut off at the limit too
    items = schemas.sync_batch(schemas.json_any())
    try:
        outcomes = sync.sync_dossiers(source, items, actor=user, now=clock.now())
        results = [outcome.as_json() for outcome in outcomes]
        db.session.commit()
    except sa.exc.IntegrityError:  # another batch took in one of these dossiers meanwhile
        raise ApiError(_("Một hồ sơ của lô này vừa được một lô khác gửi cùng lúc đồng bộ trước; "
                         "lô này chưa được ghi. Hãy gửi lại lô."), status=409) from None
    summary = dict.fromkeys((sync.CREATED, sync.UPDATED, sync.UNCHANGED, sync.HELD, sync.REFUSED), 0)
    for outcome in outcomes:
        summary[outcome.result] += 1
    return jsonify({"source": source.code, "count": len(outcomes), "summary": summary, "results": results})
