"""POST /api/v1/sync/dossiers: dossiers of the provincial one-stop system, in the national
portal's shape, taken in by an idempotent upsert (issue 13)."""
from __future__ import annotations

import sqlalchemy as sa

from qms.extensions import db
from qms.models import Dossier, HistoryEntry, Role
from qms.services import api_tokens, dossiers
from tests.api.conftest import Api
from tests.conftest import login
from tests.dossiers.conftest import at
from tests.sync.conftest import entry, portal


def _dossier(code: str) -> Dossier:
    db.session.expire_all()
    return db.session.scalar(sa.select(Dossier).where(Dossier.source_code == code))


def test_a_batch_is_taken_in_and_the_same_batch_again_changes_nothing(sync_api):
    batch = [portal("H12-0001"), portal("H12-0002", KenhThucHien=2, NgayNopHoSo="20261124200000"),
             portal("H12-0003", KenhThucHien=3)]
    response = sync_api.post("/sync/dossiers", json=batch)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["summary"]["created"] == 3
    assert [r["result"] for r in body["results"]] == ["created"] * 3
    first = _dossier("H12-0001")
    assert first.code == "H12-0001" and first.synced
    assert first.received_at == at(2026, 11, 25, 9, 0)
    # 3 working days on this system's calendar: Wed 09:00 → Mon 30/11 09:00
    assert first.due_at == at(2026, 11, 30, 9, 0)
    assert [d.channel.value for d in map(_dossier, ("H12-0001", "H12-0002", "H12-0003"))] == [
        "direct", "online", "postal"]

    again = sync_api.post("/sync/dossiers", json=batch).get_json()
    assert again["summary"] == {"created": 0, "updated": 0, "unchanged": 3, "held": 0, "refused": 0}
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 3
    assert db.session.scalar(sa.select(sa.func.count(HistoryEntry.id))) == 3


def test_a_newer_state_updates_and_appends_only_the_new_history(sync_api):
    received = [entry("20261125090000", 2, "Tiếp nhận hồ sơ")]
    sync_api.post("/sync/dossiers", json=[portal("H12-0001", history=received)])
    processed = received + [entry("20261126100000", 4, "Chuyển xử lý"),
                            entry("20261127100000", 9, "Đã giải quyết xong")]
    body = sync_api.post("/sync/dossiers", json=[portal(
        "H12-0001", status=9, NgayKetThucXuLy="20261127100000", history=processed)]).get_json()
    assert body["results"][0]["result"] == "updated"
    dossier = _dossier("H12-0001")
    assert dossier.status.national_code == 9
    assert dossier.processed_at == at(2026, 11, 27, 10, 0)
    assert dossiers.timeliness(dossier).value == "early"
    assert [h.content for h in sorted(db.session.scalars(sa.select(HistoryEntry)), key=lambda h: h.position)] == [
        "Tiếp nhận hồ sơ", "Chuyển xử lý", "Đã giải quyết xong"]

    # The earlier state, sent late (out of order), does not undo it
    stale = sync_api.post("/sync/dossiers", json=[portal("H12-0001", history=received)]).get_json()
    assert stale["results"][0] == {"MaHoSo": "H12-0001", "result": "unchanged", "reason": "stale",
                                   "code": "H12-0001", "message": stale["results"][0]["message"]}
    assert _dossier("H12-0001").status.national_code == 9


def test_each_malformed_dossier_is_refused_with_its_reasons_and_the_rest_taken_in(sync_api):
    bad_date = portal("H12-0001", NgayTiepNhan="2026-11-25 09:00")
    bad_status = portal("H12-0002", status="bốn")
    no_time = portal("H12-0003", history=[{"NguoiXuLy": "A", "TrangThai": 2}])
    body = sync_api.post("/sync/dossiers", json=[bad_date, bad_status, no_time, portal("H12-0004"), "x"]).get_json()
    results = body["results"]
    assert [r["result"] for r in results] == ["refused", "refused", "refused", "created", "refused"]
    assert results[0]["errors"] == [{"field": "NgayTiepNhan", "message":
                                     "Phải là thời điểm dạng yyyyMMddHHmmss (giờ Việt Nam), ví dụ 20261125083000."}]
    assert results[1]["errors"] == [{"field": "TrangThaiHoSo", "message": "Phải là một số nguyên."}]
    assert results[2]["errors"][0]["field"] == "QuaTrinhXuLyHoSo[0].ThoiDiemXuLy"
    assert results[4]["errors"][0]["message"] == "Mỗi hồ sơ phải là một đối tượng JSON."
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 1


def test_only_the_sources_integration_account_syncs(app, sync_api, staff, monday):
    assert Api(app.test_client(), None).post("/sync/dossiers", json=[portal("H12-0001")]).status_code == 401
    _token, other = api_tokens.issue_token(staff["officer"], name="Cổng", actor=None, now=monday)
    db.session.commit()
    response = Api(app.test_client(), other).post("/sync/dossiers", json=[portal("H12-0001")])
    assert response.status_code == 403
    assert "tích hợp" in response.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0


def test_batches_too_large_are_refused_whole(app, sync_api):
    too_many = sync_api.post("/sync/dossiers", json=[portal(f"H12-{n:04d}") for n in range(1001)])
    assert too_many.status_code == 422
    assert "1000" in too_many.get_json()["error"]["message"]
    app.config["SYNC_MAX_BYTES"] = 2048
    too_big = sync_api.post("/sync/dossiers", json=[portal(f"H12-{n:04d}") for n in range(20)])
    assert too_big.status_code == 413
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
    assert sync_api.post("/sync/dossiers", json={"data": "x"}).status_code == 422
    assert sync_api.post("/sync/dossiers", data="not json", content_type="application/json").status_code == 400


def test_the_dossier_page_shows_the_mirror_and_offers_no_action(app, sync_api, orgtree, make_user):
    history = [entry("20261125090000", 2, "Tiếp nhận hồ sơ"), entry("20261126100000", 5, "Yêu cầu bổ sung"),
               entry("20261126110000", 4, "Chuyển phòng Tư pháp")]
    sync_api.post("/sync/dossiers", json=[portal("H12-0009", history=history, NgayHenTra="20261130090000")])
    make_user("motcua2", Role.officer, department=orgtree["onestop"])
    client = app.test_client()
    login(client, "motcua2")
    page = client.get("/dossiers/H12-0009").get_data(as_text=True)
    assert "Hệ thống một cửa điện tử tỉnh" in page
    assert "Chuyển phòng Tư pháp" in page and 'id="dossier-history"' in page
    # the source promised Mon 30/11; here the supplementation restarts the 3 days on 26/11 11:00
    assert "Hệ thống nguồn hẹn: 30/11/2026 09:00" in page
    assert "mọi thao tác thực hiện trên hệ thống đó" in page
    assert 'id="reissue-receipt"' not in page and 'id="action-' not in page
    assert 'id="control-slip"' not in page and "event-pdf" not in page  # its forms are its system's
    assert client.get("/dossiers/H12-0009/control-slip.pdf").status_code == 404


def test_the_openapi_document_describes_the_payload_and_the_answer(app, sync_api):
    from tests.api.test_openapi import _validator

    document = Api(app.test_client(), None).get("/openapi.json").json
    batch = [portal("H12-0001"), portal("H12-0002", MaTTHC="9.999999"), portal("H12-0003", NgayTiepNhan="x")]
    for item in batch[:2]:
        _validator(document, "PortalDossier").validate(item)
    assert not _validator(document, "PortalDossier").is_valid(batch[2])
    answer = sync_api.post("/sync/dossiers", json=batch).json
    assert [r["result"] for r in answer["results"]] == ["created", "held", "refused"]
    _validator(document, "SyncAnswer").validate(answer)
    assert not _validator(document, "SyncAnswer").is_valid({**answer, "results": [{"result": "lost"}]})
    example = document["paths"]["/sync/dossiers"]["post"]["requestBody"]["content"]["application/json"]
    for item in example["examples"]["processed"]["value"]:
        _validator(document, "PortalDossier").validate(item)


def test_a_synced_dossier_is_on_record_as_taken_in_by_the_sources_account(sync_api, source):
    from qms.models import AuditLog

    sync_api.post("/sync/dossiers", json=[portal("H12-0001", KenhThucHien=2,
                                                 ChuHoSo="Nguyễn\u000bVăn\u0001 An")]).get_json()
    dossier = _dossier("H12-0001")
    assert dossier.applicant_name == "Nguyễn\nVăn An"  # the same cleaning as every form
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_type == "dossier",
                                                      AuditLog.entity_id == dossier.id))
    assert (row.action, row.actor_id, row.actor_name) == ("dossier.created", source.account.id, "motcuatinh")
    assert row.changes["status"] == "processing" and row.changes["channel"] == "online"
    assert row.changes["received_at"] == "2026-11-25T02:00:00+00:00"
    assert row.changes["lookup_secret_hash"] == "***" and row.changes["source_code"] == "H12-0001"


def test_a_batch_that_loses_a_race_is_refused_whole_and_taken_in_when_sent_again(sync_api, monkeypatch):
    """Two concurrent batches naming the same new dossier: the unique key lets one insert it;
    the other answers 409 having written nothing, and is taken in when sent again."""
    from qms.services import sync as sync_service

    original = sync_service._insert_created

    def racing(batch):  # the other batch's row lands between this one's reading and writing
        new = next(iter(batch.created.values()))
        db.session.execute(sa.insert(Dossier.__table__), [{**new.row, "code": "OTHER-" + new.row["code"]}])
        original(batch)

    monkeypatch.setattr(sync_service, "_insert_created", racing)
    response = sync_api.post("/sync/dossiers", json=[portal("H12-0001"), portal("H12-0002")])
    assert response.status_code == 409 and "gửi lại" in response.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
    monkeypatch.setattr(sync_service, "_insert_created", original)
    again = sync_api.post("/sync/dossiers", json=[portal("H12-0001"), portal("H12-0002")]).get_json()
    assert again["summary"]["created"] == 2
