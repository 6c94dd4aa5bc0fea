"""A process's steps must fit the fewest working hours its legal limit can hold (issue 11
§4): a limit in calendar days counted across Tết, a same-day limit from the 15:00 cut-off;
and a same-day dossier's steps are never due after the dossier itself."""
from datetime import date
from pathlib import Path

import pytest
import yaml

from qms import clock
from qms.calendar import WorkCalendar, WorkingHours
from qms.services import dossiers, procedures
from tests.documents.conftest import birth_data
from tests.dossiers.conftest import at, desk, in_force  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def december_2026():
    with clock.frozen(at(2026, 12, 7, 9, 0)):
        yield


def permit_data(hours: list[float]) -> dict:
    """A building permit in 15 calendar days with steps of `hours`."""
    kinds = ["receive"] + ["review"] * (len(hours) - 2) + ["return_result"]
    return birth_data(time_limit=15, time_unit="calendar_days", same_day=False, steps=[
        {"name": f"Bước {i}", "kind": kind, "role": "one_stop" if kind != "review" else "specialist",
         "responsible": "", "hours": h, "output": ""} for i, (kind, h) in enumerate(zip(kinds, hours, strict=True), 1)])


def test_fifteen_calendar_days_hold_six_working_days_across_tet():
    """Received after closing on Friday 6/2/2026: due 21/2 (Saturday) → Monday 23/2; Tết
    (16–20/2) and two weekends leave 9–13/2 and 23/2: 6 working days, 48 h."""
    calendar = WorkCalendar()
    assert calendar.fewest_minutes_in_calendar_days(15, date(2026, 1, 1), date(2026, 12, 31)) == (
        48 * 60, date(2026, 2, 6))
    # An ordinary fortnight holds 11 working days.
    assert calendar.fewest_minutes_in_calendar_days(15, date(2026, 3, 2), date(2026, 3, 6)) == (
        11 * 8 * 60, date(2026, 3, 2))


def test_a_permit_whose_steps_cannot_fit_is_refused_with_both_figures():
    problems = procedures.problems_in(permit_data([4, 2, 48, 10, 8, 8, 4, 4]))  # 88 h
    assert problems == ["Tổng thời gian các bước (11 ngày làm việc) vượt số giờ làm việc ít nhất mà thời hạn "
                        "15 ngày (tính theo ngày lịch) có được: 6 ngày làm việc, với hồ sơ nhận ngày 06/02/2026."]
    assert procedures.problems_in(permit_data([2, 1, 24, 6, 4, 4, 2, 2])) == []  # 45 h


def test_a_same_day_process_fits_the_two_hours_after_the_cut_off():
    assert WorkCalendar().same_day_window() == 120
    assert WorkCalendar(hours=WorkingHours.parse("07:30-11:30, 13:00-16:30")).same_day_window() == 90
    too_long = birth_data(steps=[{**step, "hours": 1} for step in birth_data()["steps"]])  # 4 h
    assert procedures.problems_in(too_long) == [
        "Tổng thời gian các bước (4 giờ làm việc) vượt thời gian ít nhất của thủ tục giải quyết trong ngày: "
        "hồ sơ nhận lúc 15:00 phải xong trước khi hết giờ làm việc (2 giờ làm việc)."]
    assert procedures.problems_in(birth_data()) == []  # 0,25 + 1 + 0,5 + 0,25 h


def test_working_days_keep_their_plain_limit():
    data = birth_data(time_limit=3, same_day=False)
    assert procedures.capacity(3, procedures.TimeUnit.working_days) == (3 * 8 * 60, None)
    data["steps"][1]["hours"] = 22  # 1 + 22 + 2 + 1 = 26 h > 24 h
    assert procedures.problems_in(data) == [
        "Tổng thời gian các bước (3 ngày 2 giờ làm việc) vượt thời hạn giải quyết theo quy định (3 ngày làm việc)."]


def test_every_shipped_procedure_fits_its_limit():
    paths = sorted((REPO / "procedures_iso" / "procedures").glob("*/*.yaml"))
    assert len(paths) > 20
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))["version"]
        assert procedures.problems_in(data) == [], path.name


def test_a_same_day_dossiers_steps_are_never_due_after_it(in_force, desk, orgtree):  # noqa: F811
    """Received at 15:00, due at 17:00: the receipt's quarter hour, then a review held up
    until 16:50 leaves the later steps due at 17:00, not the next morning."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                applicant_name="Ngô Văn Chiều", now=at(2026, 11, 25, 15, 0))
    assert dossier.due_at == at(2026, 11, 25, 17, 0)
    assert dossier.steps[0].due_at == at(2026, 11, 25, 15, 15)
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 25, 16, 50),
                           next_department=orgtree["culture"])
    assert dossier.steps[1].due_at == at(2026, 11, 25, 17, 0)  # 1 h from 16:50 would be 08:50 tomorrow
    dossiers.complete_step(dossier.steps[1], actor=desk["culture"], now=at(2026, 11, 25, 16, 55),
                           next_department=orgtree["office"])
    assert dossier.steps[2].due_at == at(2026, 11, 25, 17, 0)
