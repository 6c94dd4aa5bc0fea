"""The dossier rules as one hand-computed table (issue 11): received, what stopped the clock,
processed, returned → status, due time and class, by the national rule (the date the
result was ready against the due date). Birth registration in 3 working days (24 h);
Tuesday 24/11/2026 is a holiday; 07:00–11:30 and 13:30–17:00."""
import pytest

from qms.models import DossierStatus, ResultDelivery, Timeliness
from qms.services import dossiers
from tests.dossiers.conftest import at

E, OK, L = Timeliness.early, Timeliness.on_time, Timeliness.late
PROCESSED, RETURNED = DossierStatus.processed, DossierStatus.returned

# received, pauses [(kind, from, to)], processed, returned → status, due, class
TABLE = [
    # due Friday 27/11 17:00; ready on the due date, collected a week later: on time
    (at(2026, 11, 25, 7, 0), [], at(2026, 11, 27, 16, 0), at(2026, 12, 4, 9, 0),
     RETURNED, at(2026, 11, 27, 17, 0), OK),
    # after the due time on the due date: on time by the date rule
    (at(2026, 11, 25, 7, 0), [], at(2026, 11, 27, 17, 30), None, PROCESSED, at(2026, 11, 27, 17, 0), OK),
    # the next working day: late, however soon collected
    (at(2026, 11, 25, 7, 0), [], at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 5),
     RETURNED, at(2026, 11, 27, 17, 0), L),
    # a day early, not collected yet
    (at(2026, 11, 25, 7, 0), [], at(2026, 11, 26, 10, 0), None, PROCESSED, at(2026, 11, 27, 17, 0), E),
    # received Friday 20/11 09:00 (due Thursday 26/11 09:00); waiting for the fee from
    # Monday 23/11 10:00 to Wednesday 2/12 10:00 resumes the 15 h that were left → Friday 4/12 09:00
    (at(2026, 11, 20, 9, 0), [("payment", at(2026, 11, 23, 10, 0), at(2026, 12, 2, 10, 0))],
     at(2026, 12, 3, 15, 0), at(2026, 12, 3, 16, 0), RETURNED, at(2026, 12, 4, 9, 0), E),
    # a pause begun 8 working hours after the due time keeps the overrun: due back at
    # Friday 27/11 09:00, so finishing on Monday 30/11 is late
    (at(2026, 11, 20, 9, 0), [("payment", at(2026, 11, 27, 9, 0), at(2026, 11, 30, 9, 0))],
     at(2026, 11, 30, 10, 0), None, PROCESSED, at(2026, 11, 27, 9, 0), L),
    # supplementation restarts the whole limit from the complete dossier (Friday 27/11 08:00)
    (at(2026, 11, 20, 9, 0), [("supplement", at(2026, 11, 20, 10, 0), at(2026, 11, 27, 8, 0))],
     at(2026, 12, 2, 16, 0), None, PROCESSED, at(2026, 12, 2, 8, 0), OK),
]


@pytest.mark.parametrize("received,pauses,processed,returned,status,due,timeliness", TABLE)
def test_the_rule_table(three_days, desk, orgtree, received, pauses, processed, returned, status, due,
                        timeliness):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Bảng", now=received)
    first_handover = pauses[0][1] if pauses else processed
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=min(received.replace(minute=30),
                                                                              first_handover),
                           next_department=orgtree["culture"])
    for kind, start, end in pauses:
        if kind == "payment":
            dossiers.request_payment(dossier, actor=desk["culture"], reason="Lệ phí", now=start)
            dossiers.receive_payment(dossier, actor=desk["culture"], now=end)
        else:
            dossiers.request_supplement(dossier, actor=desk["culture"], reason="Thiếu", now=start)
            dossiers.receive_supplement(dossier, actor=desk["onestop"], now=end)
    for actor, next_department in ((desk["culture"], orgtree["office"]), (desk["office"], None),
                                   (desk["onestop"], None)):
        dossiers.complete_step(dossier.current_step(), actor=actor, now=processed, next_department=next_department)
    if returned is not None:
        dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.desk, now=returned)
    assert (dossier.status, dossier.due_at, dossiers.timeliness(dossier)) == (status, due, timeliness)
    assert (dossier.processed_at, dossier.returned_at) == (processed, returned)
