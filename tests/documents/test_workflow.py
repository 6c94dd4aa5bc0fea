"""Document versions: who may move them, what freezes, and what supersedes what."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import AuditLog, VersionStatus
from qms.models.documents import FrozenVersionError
from qms.services import documents
from tests.documents.conftest import NOW

TODAY = date(2026, 11, 23)


def first(document):
    return document.versions[0]


def test_quality_officer_submits_and_leader_approves_with_effective_date(policy, staff):
    version = first(policy)
    documents.submit(version, actor=staff["quality"], now=NOW)
    assert version.status is VersionStatus.in_review and version.submitted_by == staff["quality"]
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    assert version.status is VersionStatus.effective  # its date is today: in force at once
    assert version.approved_by == staff["leader"] and version.approved_at == NOW
    assert policy.next_review_due == date(2027, 11, 23)
    actions = db.session.scalars(sa.select(AuditLog.action).where(
        AuditLog.entity_type == "document_version")).all()
    assert {"document_version.submit", "document_version.approve",
            "document_version.take_effect"} <= set(actions)


@pytest.mark.parametrize("role_name,action", [
    ("leader", "submit"), ("officer", "submit"), ("head", "submit"),
    ("quality", "approve"), ("officer", "approve"), ("head", "approve"),
])
def test_only_the_right_role_moves_a_version(policy, staff, role_name, action):
    version = first(policy)
    if action == "approve":
        documents.submit(version, actor=staff["quality"], now=NOW)
    with pytest.raises(Forbidden):
        if action == "submit":
            documents.submit(version, actor=staff[role_name], now=NOW)
        else:
            documents.approve(version, actor=staff[role_name], effective_date=TODAY, now=NOW)


def test_transitions_outside_the_table_are_refused(policy, staff):
    version = first(policy)
    with pytest.raises(Conflict):  # a draft cannot be approved before it is submitted
        documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    documents.submit(version, actor=staff["quality"], now=NOW)
    with pytest.raises(Conflict):
        documents.submit(version, actor=staff["quality"], now=NOW)


def test_leader_returns_with_a_reason_and_the_draft_is_editable_again(policy, staff):
    version = first(policy)
    documents.submit(version, actor=staff["quality"], now=NOW)
    with pytest.raises(ValidationError):
        documents.return_for_changes(version, actor=staff["leader"], reason="  ", now=NOW)
    documents.return_for_changes(version, actor=staff["leader"], reason="Thiếu mục tiêu", now=NOW)
    assert version.status is VersionStatus.draft and version.return_reason == "Thiếu mục tiêu"
    documents.edit_draft(version, actor=staff["quality"], title=version.title,
                         body="Phục vụ nhân dân tận tình.\n", change_summary="")
    assert version.body == "Phục vụ nhân dân tận tình.\n"


def test_approved_version_is_immutable(policy, staff):
    version = first(policy)
    documents.submit(version, actor=staff["quality"], now=NOW)
    with pytest.raises(Conflict):  # in review: the service refuses edits
        documents.edit_draft(version, actor=staff["quality"], title="x", body="y", change_summary="")
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    db.session.commit()
    version.body = "rewritten behind the service's back"
    with pytest.raises(FrozenVersionError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(type(version), version.id).body == "Phục vụ nhân dân.\n"


def test_approved_process_steps_are_immutable(birth, staff):
    version = birth.document.versions[0]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    db.session.commit()
    from qms.models import ProcedureVersion

    steps = db.session.get(ProcedureVersion, version.id).steps
    steps[1].minutes = 45
    with pytest.raises(FrozenVersionError):
        db.session.flush()
    db.session.rollback()


def test_new_version_supersedes_the_old_one_on_its_effective_date(policy, staff):
    v1 = first(policy)
    documents.submit(v1, actor=staff["quality"], now=NOW)
    documents.approve(v1, actor=staff["leader"], effective_date=TODAY, now=NOW)
    with pytest.raises(ValidationError):  # a change says what changed
        documents.draft_version(policy, actor=staff["quality"], title=v1.title, body="Mới.\n",
                                change_summary="", now=NOW)
    v2 = documents.draft_version(policy, actor=staff["quality"], title=v1.title, body="Mới.\n",
                                 change_summary="Bổ sung cam kết", now=NOW)
    assert v2.number == 2
    with pytest.raises(Conflict):  # one open draft at a time
        documents.draft_version(policy, actor=staff["quality"], title=v1.title, body="x",
                                change_summary="y", now=NOW)
    documents.submit(v2, actor=staff["quality"], now=NOW)
    with pytest.raises(ValidationError):
        documents.approve(v2, actor=staff["leader"], effective_date=TODAY - timedelta(days=1), now=NOW)
    documents.approve(v2, actor=staff["leader"], effective_date=date(2026, 12, 1), now=NOW)
    assert (v1.status, v2.status) == (VersionStatus.effective, VersionStatus.approved)
    assert documents.apply_effective_dates(NOW) == []  # not yet
    later = NOW + timedelta(days=8)  # 1 December 2026
    assert documents.apply_effective_dates(later) == [v2]
    assert (v1.status, v2.status) == (VersionStatus.superseded, VersionStatus.effective)
    assert v1.superseded_at == later
    assert documents.apply_effective_dates(later) == []  # idempotent
    assert documents.effective_version(policy) is v2


def test_withdrawal_needs_a_reason_and_a_leader(policy, staff):
    version = first(policy)
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    with pytest.raises(Forbidden):
        documents.withdraw(version, actor=staff["quality"], reason="Hết hiệu lực", now=NOW)
    with pytest.raises(ValidationError):
        documents.withdraw(version, actor=staff["leader"], reason="", now=NOW)
    documents.withdraw(version, actor=staff["leader"], reason="Văn bản căn cứ bị bãi bỏ", now=NOW)
    assert version.status is VersionStatus.withdrawn and documents.effective_version(policy) is None


def test_content_hash_follows_the_content(policy, staff):
    version = first(policy)
    before = version.content_hash
    assert len(before) == 64
    documents.edit_draft(version, actor=staff["quality"], title=version.title, body="Khác.\n",
                         change_summary="")
    assert version.content_hash != before
    documents.edit_draft(version, actor=staff["quality"], title=version.title,
                         body="Phục vụ nhân dân.\n", change_summary="")
    assert version.content_hash == before


def test_staff_concerned_acknowledge_and_the_quality_officer_sees_who_has_not(birth, staff, make_user, orgtree):
    version = birth.document.versions[0]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    done, pending = documents.acknowledgement_status(version)
    # The province's centre owns the process and the ward applies it (commune level): the
    # staff of both are concerned.
    assert not done and {u.username for u in pending} == {"officer", "head", "quality", "leader"}
    documents.acknowledge(version, actor=staff["officer"], now=NOW)
    documents.acknowledge(version, actor=staff["officer"], now=NOW)  # twice is once
    done, pending = documents.acknowledgement_status(version)
    assert [u.username for u, _at in done] == ["officer"]
    assert {u.username for u in pending} == {"head", "quality", "leader"}


def test_overdue_periodic_reviews_are_listed_and_a_review_moves_the_date(policy, staff):
    version = first(policy)
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    assert documents.reviews_overdue(date(2027, 11, 23)) == []
    assert documents.reviews_overdue(date(2027, 11, 24)) == [policy]
    documents.record_review(policy, actor=staff["quality"], today=date(2027, 11, 24), note="Còn phù hợp")
    assert policy.next_review_due == date(2028, 11, 24)
    assert documents.reviews_overdue(date(2027, 11, 24)) == []
