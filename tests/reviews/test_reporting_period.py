"""The reporting month (issue 11): calendar months by default, or from the 15th of the
previous month to the 14th (REPORTING_PERIOD = "15th"), the same in Python and in SQL, for
metrics, series, reviews and dashboards alike."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from qms.config import ConfigError
from qms.extensions import db
from qms.models.base import UTCDateTime
from qms.services import dossiers, metrics
from qms.services import monthly_reviews as reviews

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def from_the_15th(app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORTING_PERIOD", "15th")


def test_calendar_months_by_default():
    assert metrics.month_bounds(date(2026, 11, 1)) == (date(2026, 11, 1), date(2026, 12, 1))
    assert metrics.month_of(date(2026, 11, 30)) == date(2026, 11, 1)
    assert metrics.month_label(date(2026, 11, 1)) == "11/2026"


def test_months_from_the_15th(from_the_15th):
    assert metrics.month_bounds(date(2026, 11, 1)) == (date(2026, 10, 15), date(2026, 11, 15))
    assert metrics.month_bounds(date(2027, 1, 1)) == (date(2026, 12, 15), date(2027, 1, 15))
    assert [metrics.month_of(d) for d in (date(2026, 11, 14), date(2026, 11, 15), date(2026, 12, 31))] == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    assert metrics.month_label(date(2026, 11, 1)) == "11/2026 (15/10–14/11)"
    assert reviews.current_month(datetime(2026, 12, 20, 9, tzinfo=VN)) == date(2027, 1, 1)


@pytest.mark.parametrize("rule", ["month", "15th"])
def test_sql_names_the_same_month_as_python(app, monkeypatch, rule):
    monkeypatch.setitem(app.config, "REPORTING_PERIOD", rule)
    moments = [datetime(2026, 11, 14, 23, 59, tzinfo=VN), datetime(2026, 11, 15, 0, 0, tzinfo=VN),
               datetime(2026, 12, 14, 23, 59, tzinfo=VN), datetime(2026, 12, 15, 0, 1, tzinfo=VN),
               datetime(2027, 1, 14, 12, 0, tzinfo=VN), datetime(2027, 2, 28, 23, 0, tzinfo=VN),
               datetime(2027, 3, 1, 6, 30, tzinfo=VN)]
    for moment in moments:
        in_sql = db.session.scalar(sa.select(metrics.month_key(sa.literal(moment, UTCDateTime()))))
        assert in_sql == f"{metrics.month_of(moment.date()):%Y-%m}", moment


def test_figures_follow_the_period(from_the_15th, three_days, desk):
    """Received on 10/11 (November's period: 15/10–14/11) and on 20/11 (December's)."""
    for day in (10, 20):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days, applicant_name=f"Ngày {day}",
                                 now=datetime(2026, 11, day, 9, tzinfo=VN))
    db.session.commit()
    scope = metrics.Scope.of_department(desk["onestop"].department)
    now = datetime(2026, 12, 20, 9, tzinfo=VN)
    for month, received in ((date(2026, 11, 1), 1), (date(2026, 12, 1), 1)):
        start, end = metrics.month_bounds(month)
        assert metrics.dossier_metrics(scope, start, end, now)["received"] == received, month
    series = metrics.monthly_series(scope, 3, now, ["received"])
    assert series["months"] == ["2026-11", "2026-12", "2027-01"]
    assert series["labels"] == ["11/2026 (15/10–14/11)", "12/2026 (15/11–14/12)", "01/2027 (15/12–14/01)"]
    assert series["series"]["received"] == [1, 1, 0]


def test_a_wrong_period_stops_the_start(tmp_path, monkeypatch):
    from qms import create_app

    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("REPORTING_PERIOD = 'quarter'\n")
    with pytest.raises(ConfigError, match="REPORTING_PERIOD"):
        create_app()
    monkeypatch.setenv("QMS_REPORTING_PERIOD", "fortnight")
    with pytest.raises(ConfigError, match="QMS_REPORTING_PERIOD: month or 15th"):
        create_app()




def test_the_review_page_names_the_period(app, from_the_15th, orgtree, make_user):
    from qms import clock
    from qms.models import Role
    from tests.conftest import browser_as
    from tests.web.conftest import text

    make_user("truongmotcua", Role.department_head, department=orgtree["onestop"])
    with clock.frozen(datetime(2026, 12, 20, 9, tzinfo=VN)):
        page = text(browser_as(app, "truongmotcua").get("/reviews/monthly/A-MC/2026-11"))
    assert "11/2026 (15/10–14/11)" in page
