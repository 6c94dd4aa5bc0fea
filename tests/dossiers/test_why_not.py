"""The dossier page says why an action is not offered instead of offering a form that would
be refused (issue 15, item 3): no completion form while the clock is stopped, the department
that holds the step, and who signs the apology and by when."""
from __future__ import annotations

import re

from qms import clock
from qms.extensions import db
from qms.models import Role
from qms.services import dossiers
from tests.conftest import browser_as
from tests.dossiers.conftest import at
from tests.web.conftest import text


def at_culture(three_days, desk, orgtree):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Phan Văn Phú", now=at(2026, 11, 25, 8, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 25, 8, 30),
                           next_department=orgtree["culture"])
    db.session.commit()
    return dossier


def test_a_paused_dossier_offers_no_completion_form_and_says_why(app, three_days, desk, orgtree):
    dossier = at_culture(three_days, desk, orgtree)
    dossiers.request_supplement(dossier, actor=desk["culture"], reason="Thiếu giấy chứng sinh",
                                now=at(2026, 11, 25, 10, 0))
    db.session.commit()
    with clock.frozen(at(2026, 11, 26, 9, 0)):
        page = browser_as(app, "vanhoa").get(f"/dossiers/{dossier.code}").get_data(as_text=True)
    assert 'id="complete-form"' not in page
    assert "Hồ sơ đang tạm dừng (yêu cầu bổ sung, hoàn thiện hồ sơ) từ 25/11/2026 10:00" in text_of(page)


def test_another_departments_step_names_who_holds_it(app, three_days, desk, orgtree):
    dossier = at_culture(three_days, desk, orgtree)
    with clock.frozen(at(2026, 11, 25, 9, 0)):
        office = browser_as(app, "motcua").get(f"/dossiers/{dossier.code}")
        culture = browser_as(app, "vanhoa").get(f"/dossiers/{dossier.code}").get_data(as_text=True)
    assert "Bước 2 (Thẩm tra, dự thảo giấy khai sinh) do Phòng Văn hóa - Xã hội xử lý" in text(office)
    assert 'id="complete-form"' in culture and 'id="step-blocked"' not in culture


def test_the_page_says_who_signs_the_apology_and_by_when(app, three_days, desk, orgtree, make_user):
    dossier = at_culture(three_days, desk, orgtree)
    make_user("truongvanhoa", Role.department_head, department=orgtree["culture"])
    with clock.frozen(at(2026, 11, 25, 9, 0)):
        officer = text(browser_as(app, "vanhoa").get(f"/dossiers/{dossier.code}"))
        head = browser_as(app, "truongvanhoa").get(f"/dossiers/{dossier.code}").get_data(as_text=True)
    deadline = dossiers.apology_deadline(dossier)
    # the default APOLOGY_SIGNERS: the holding department's head or the agency's leader
    assert ("do trưởng Phòng Văn hóa - Xã hội (nơi đang giữ hồ sơ) hoặc lãnh đạo Phường An Hòa ký, chậm nhất "
            + deadline.astimezone(at(2026, 1, 1).tzinfo).strftime("%d/%m/%Y %H:%M")) in officer
    assert 'id="action-apology"' in head and 'id="apology-who"' not in head


def text_of(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())
