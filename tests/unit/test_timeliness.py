"""Early / on time / late is one rule with two forms (qms.services.timeliness): the Python
form for one record and the SQL form inside queries. They must agree on every case, under
both settings, on SQLite and PostgreSQL; and the management review and CARs read the rule
in force like the monthly figures do."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.extensions import db
from qms.models import Timeliness
from qms.models.base import UTCDateTime
from qms.services.timeliness import classify, is_late, timeliness_case

VN = ZoneInfo("Asia/Ho_Chi_Minh")

# Due times anywhere in two years, to the second; finishing up to three days either side,
# often on the same local day and around midnight, where the two forms could part.
dues = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                    timezones=st.just(VN)).map(lambda m: m.replace(microsecond=0))
offsets = st.one_of(st.integers(-3 * 86400, 3 * 86400), st.integers(-120, 120),
                    st.sampled_from([-86400, -1, 0, 1, 86400]))


def _in_sql(finished: datetime, due: datetime, strict: bool) -> tuple[str, bool]:
    f, d = sa.literal(finished, UTCDateTime()), sa.literal(due, UTCDateTime())
    return tuple(db.session.execute(sa.select(timeliness_case(f, d, strict), is_late(f, d, strict))).one())


@pytest.mark.parametrize("strict", [False, True], ids=["date rule", "timestamp rule"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(due=dues, offset=offsets)
def test_python_and_sql_agree(app, strict, due, offset):
    finished = due + timedelta(seconds=offset)
    expected = classify(finished, due, strict=strict)
    assert _in_sql(finished, due, strict) == (expected.value, expected is Timeliness.late)


@pytest.mark.parametrize(("finished", "strict", "expected"), [
    (datetime(2026, 11, 25, 23, 59, 59, tzinfo=VN), False, Timeliness.early),
    (datetime(2026, 11, 26, 0, 0, tzinfo=VN), False, Timeliness.on_time),     # local midnight
    (datetime(2026, 11, 26, 16, 0, tzinfo=VN), False, Timeliness.on_time),    # later that day
    (datetime(2026, 11, 26, 9, 0, 1, tzinfo=VN), True, Timeliness.late),      # a second late
    (datetime(2026, 11, 26, 9, 0, tzinfo=VN), True, Timeliness.on_time),
    (datetime(2026, 11, 27, 0, 0, tzinfo=VN), False, Timeliness.late),
])
def test_hand_computed_cases_in_both_forms(app, finished, strict, expected):
    due = datetime(2026, 11, 26, 9, 0, tzinfo=VN)
    assert classify(finished, due, strict=strict) is expected
    assert _in_sql(finished, due, strict)[0] == expected.value


def test_the_setting_decides_when_no_rule_is_given(app):
    due, finished = datetime(2026, 11, 26, 9, 0, tzinfo=VN), datetime(2026, 11, 26, 10, 0, tzinfo=VN)
    assert classify(finished, due) is Timeliness.on_time
    app.config["TIMELINESS_RULE"] = "timestamp"
    try:
        assert classify(finished, due) is Timeliness.late
        f, d = sa.literal(finished, UTCDateTime()), sa.literal(due, UTCDateTime())
        assert db.session.scalar(sa.select(timeliness_case(f, d))) == "late"
    finally:
        app.config["TIMELINESS_RULE"] = "date"
