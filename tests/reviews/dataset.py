"""A hand-built month with known answers: November 2026 at the ward's one-stop office
(A-MC), the birth registration procedure at 3 working days (receive 1 h → culture review
4 h → office signs 2 h → return 1 h), and Tuesday 24/11/2026 a public holiday (Ngày Văn hóa
Việt Nam).

    code  received             what happens                                       November figure
    L     Thu 29/10 08:00      due Tue 3/11 08:00, returned Tue 3/11 10:00        carried over; on time (late by timestamp)
    A     Mon 16/11 08:00      every step within the hour, returned 16/11 10:00   early; rated very satisfied
    B     Mon 16/11 09:00      culture step done 19/11 (late), returned 19/11     on time (late by timestamp); rated satisfied
                               16:00, due 19/11 09:00
    C     Tue 17/11 08:00      apology 19/11 by the culture head, culture step    late, with an apology; rated dissatisfied
                               done 23/11, returned 23/11 09:00 (due 20/11)
    G     Wed 18/11 09:00      refused at the desk (Mẫu 03)                       refused (not received)
    J     Wed 18/11 08:00      withdrawn 18/11 10:00                              withdrawn
    D     Fri 20/11 09:00      due Thu 26/11 09:00 thanks to the holiday (else    on time (also by timestamp)
                               Wed 25/11), result ready 26/11 08:30, collected
                               by the applicant only on Thu 3/12 (a week late)
    H     Mon 23/11 08:00 (online)  at the culture step since 08:30, due 27/11    in progress, overdue
    F     Wed 25/11 08:00      supplementation asked 25/11 10:00, brought 2/12    paused (supplementation)
    I     Mon 30/11 08:00 (postal) at the culture step, due Thu 3/12              in progress, within the limit

Read at Sat 5/12/2026: the events of December must not change November's figures.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from qms.extensions import db
from qms.models import Channel, ResultDelivery, Role, SatisfactionLevel
from qms.services import dossiers, feedback

VN = ZoneInfo("Asia/Ho_Chi_Minh")
READ_AT = datetime(2026, 12, 5, 10, 0, tzinfo=VN)


def at(d, m, hh=0, mm=0, y=2026) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


@pytest.fixture
def november(three_days, desk, orgtree, make_user):
    people = {**desk,
              "culture_head": make_user("truongvanhoa", Role.department_head, department=orgtree["culture"]),
              "onestop_head": make_user("truongmotcua", Role.department_head, department=orgtree["onestop"])}
    onestop, culture, office = people["onestop"], people["culture"], people["office"]

    def receive(name, when, channel=Channel.direct):
        item, _secret = dossiers.receive_dossier(actor=onestop, procedure=three_days, applicant_name=name,
                                                 now=when, channel=channel)
        return item

    def step(item, position, when, collected=None):
        """Complete a step; after the last (the result is ready) the applicant collects it
        at once unless `collected` says when."""
        nexts = {1: orgtree["culture"], 2: orgtree["office"]}
        who = {1: onestop, 2: culture, 3: office, 4: onestop}[position]
        dossiers.complete_step(item.steps[position - 1], actor=who, now=when,
                               next_department=nexts.get(position))
        if position == 4 and collected is not False:
            dossiers.return_result(item, actor=onestop, via=ResultDelivery.desk, now=collected or when)

    d = {}
    d["L"] = receive("Lý Văn Long", at(29, 10, 8))
    step(d["L"], 1, at(29, 10, 8, 30)), step(d["L"], 2, at(29, 10, 9))
    step(d["L"], 3, at(3, 11, 7, 30)), step(d["L"], 4, at(3, 11, 10))

    d["A"] = receive("An Thị Anh", at(16, 11, 8))
    for position, minute in ((1, 15), (2, 30), (3, 45)):
        step(d["A"], position, at(16, 11, 8, minute))
    step(d["A"], 4, at(16, 11, 10))

    d["B"] = receive("Bùi Văn Bình", at(16, 11, 9))
    step(d["B"], 1, at(16, 11, 9, 30)), step(d["B"], 2, at(19, 11, 8))
    step(d["B"], 3, at(19, 11, 8, 30)), step(d["B"], 4, at(19, 11, 16))

    d["C"] = receive("Cao Thị Cúc", at(17, 11, 8))
    step(d["C"], 1, at(17, 11, 8, 30))
    dossiers.apologise(d["C"], actor=people["culture_head"], reason="Chờ xác minh",
                       promised_at=at(25, 11, 17), now=at(19, 11, 9))
    step(d["C"], 2, at(23, 11, 8)), step(d["C"], 3, at(23, 11, 8, 30)), step(d["C"], 4, at(23, 11, 9))

    dossiers.refuse_dossier(actor=onestop, procedure=three_days, applicant_name="Giang Văn Gia",
                            reasons="Không thuộc thẩm quyền", now=at(18, 11, 9))
    d["J"] = receive("Đinh Thị Jen", at(18, 11, 8))
    dossiers.withdraw(d["J"], actor=onestop, reason="Công dân xin rút", now=at(18, 11, 10))

    d["D"] = receive("Đỗ Văn Dũng", at(20, 11, 9))
    step(d["D"], 1, at(20, 11, 9, 30)), step(d["D"], 2, at(20, 11, 10))
    step(d["D"], 3, at(26, 11, 8)), step(d["D"], 4, at(26, 11, 8, 30), collected=False)

    d["H"] = receive("Hà Thị Hoa", at(23, 11, 8), channel=Channel.online)
    step(d["H"], 1, at(23, 11, 8, 30))

    d["F"] = receive("Phan Văn Phú", at(25, 11, 8))
    step(d["F"], 1, at(25, 11, 8, 30))
    dossiers.request_supplement(d["F"], actor=culture, reason="Thiếu giấy chứng sinh", now=at(25, 11, 10))

    d["I"] = receive("Ích Thị Yến", at(30, 11, 8), channel=Channel.postal)
    step(d["I"], 1, at(30, 11, 8, 30))

    for key, level, when in (("A", SatisfactionLevel.very_satisfied, at(16, 11, 11)),
                             ("B", SatisfactionLevel.satisfied, at(19, 11, 17)),
                             ("C", SatisfactionLevel.dissatisfied, at(23, 11, 10))):
        feedback.rate_dossier(d[key], level=level, now=when)

    # December: none of this may change November's figures.
    dossiers.receive_supplement(d["F"], actor=onestop, now=at(2, 12, 8))
    dossiers.return_result(d["D"], actor=onestop, via=ResultDelivery.desk, now=at(3, 12, 9))
    receive("Mới Tháng Mười Hai", at(1, 12, 8))
    db.session.commit()
    return {"dossiers": d, "people": people}
