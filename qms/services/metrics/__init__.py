"""Compliance metrics computed from the records (DESIGN flow 6, §7; domain notes §3 and §7
"Monthly KPIs"), for a department or an agency with its sub-agencies, over a period of
local dates. Every figure is an SQL aggregate (COUNT/SUM over CASE, GROUP BY): no function
here loads every row of a period into Python; the lists (late dossiers, late steps) are
paginated queries.

Public API (stable; the dashboards, the monthly review and the exports use it):

- ``Scope.of_department(department)`` / ``Scope.of_agency(agency, sub_agencies=True)``;
  ``scope_of(obj)`` takes either.
- ``month_bounds(month) -> (start, end)`` local dates of a reporting month, end exclusive
  (calendar months, or from the 15th with REPORTING_PERIOD = "15th": periods.py);
  ``utc_bounds(start, end)`` the aware instants of their local midnights.
- ``dossier_metrics(scope, start, end, now) -> dict`` (keys: DOSSIER_KEYS).
- ``step_metrics(scope, start, end, now) -> dict`` ``{"totals": {...}, "rows": [...]}``;
  ``step_totals(scope, start, end, now)`` its totals alone.
- ``quality_metrics(scope, start, end, now) -> dict`` nonconformities and CARs.
- ``objectives(scope, year, now, end=None) -> list[dict]`` quality objectives measured.
- ``late_dossiers(scope, start, end, now, page=1, per_page=50) -> Page``.
- ``overdue_steps(scope, start, end, now, page=1, per_page=50) -> Page``.
- ``monthly_series(scope, months, now, indicators=None) -> dict`` for trend charts.
- ``INDICATORS``: indicator key → label, unit and where it is read (objectives, charts).

Modules, by concern: ``periods`` (local dates, months, the moment read), ``scope`` (what
the figures are about), ``state`` (a dossier's state at a moment, in SQL), ``dossiers``,
``steps``, ``quality`` (the figures), ``indicators`` (indicators and quality objectives),
``lists`` (the late records, paginated) and ``series`` (month by month). Local dates come
from qms.localtime, on-time classification and counting from qms.services.sqltime.

Definitions (periods are [start, end) in local dates, qms.localtime's zone; `cut` =
min(end, now), the moment "at the end of the period" is read; nothing recorded at or after
the cut counts, so a period read "as at" an earlier `now` gives what was known then):

- Scope. A department's *dossiers* are those it RECEIVED (`Dossier.department_id`: the
  one-stop office that received them); a specialist department that only works steps has
  no dossiers of its own, and its figures are its *steps* (`DossierStep.department_id`:
  the steps it held) in ``step_metrics`` / ``overdue_steps``. Its nonconformities and
  CARs are those raised against it. An agency's scope is its dossiers (`Dossier.agency_id`)
  and its departments' steps, NCs and CARs, with every sub-agency's rolled up (the
  `Agency.parent` tree) unless ``sub_agencies=False``.
- received: received in the period, not counting refusals (national status 3
  not_accepted, Mẫu 03), which are ``refused`` apart; by channel direct / online / postal.
- resolved: processing finished in the period (`processed_at`: the result ready at the
  one-stop office, national status 9), whenever received and whenever the applicant
  collects it; split early / on_time / late by the national rule (services.timeliness:
  the local date processing finished against the local due date; with TIMELINESS_RULE =
  "timestamp", finished on the due date but after the due time is late). The legal due time counts, not an apology's
  promised date.
- in progress at the end: received before `cut`, not processed, withdrawn or stopped
  before it and not paused at it; ``in_progress_within`` when its due date (as it stood
  at the cut) is on or after the cut's local date (timestamp rule: due time ≥ cut),
  else ``in_progress_overdue``. ``paused`` (counted apart): the dossier's last
  pause/resume event before the cut was a supplementation request (national status 5,
  ``paused_supplement``), a request for the financial obligation (6, ``paused_payment``)
  or a pause its procedure allows (survey, verification, posting, consultation; status 4
  with the clock stopped, ``paused_other``). ``carried_over``: in progress or paused at the
  period's start. Read from the events, so a closed month's figures do not drift as its
  dossiers move on later.
- withdrawn / stopped: the withdrawal / stop events recorded in the period.
- on_time_rate = (early + on_time) / resolved; late_rate = late / resolved;
  progress_766 (Decision 766/QĐ-TTg, progress group, 20 points) = (early + on_time +
  in_progress_within) / (resolved + in_progress) × 20; online_rate, postal_rate =
  online, postal / received.
- apologies: apology letters (Mẫu 04) issued in the period; apologies_per_late =
  apologies / late; late_with_apology: late dossiers resolved in the period that have
  an apology.
- satisfaction: ratings given in the period to the scope's dossiers; satisfaction_rate =
  (very satisfied + satisfied) / ratings.

Rates are percentages rounded to 2 decimals (98.5 means 98.5 %), progress_766 is points
out of 20, apologies_per_late a plain ratio; a rate with a zero denominator is None.

Monthly rollup (issue 12; frozen.py, qms.services.rollups): `qms rollup` freezes each ended
reporting month's counts per department. ``dossier_metrics``, ``step_totals``,
``monthly_series``, the objectives and the leaders' ranking read whole frozen months from
it (a year is twelve rows per department) and only the rest of a period from the records;
``live=True`` reads the records (a signed review's comparison). Frozen and live agree
(tests/reviews/test_rollups.py).

Speed (bench/metrics.py): a scope's rows of one period are read from one index range when
the database has the composite indexes proposed for a migration — dossier (department_id,
received_at), (department_id, processed_at), (agency_id, received_at), (agency_id,
processed_at) and dossier_step (department_id, completed_at); the dossiers open at a cut
are found through the status index (those open now, withdrawn or stopped) and the
processed time (those processed since). `unindexed` keeps SQLite's planner, which has no statistics
in a database nobody ANALYZEd, on those paths.
"""
from qms.services.metrics.dossiers import DOSSIER_KEYS, dossier_metrics, rates
from qms.services.metrics.indicators import (
    INDICATORS,
    Indicator,
    indicator_values,
    is_met,
    objectives,
    objectives_query,
)
from qms.services.metrics.lists import Page, late_dossiers, overdue_steps
from qms.services.metrics.periods import (
    add_months,
    month_bounds,
    month_key,
    month_label,
    month_of,
    utc_bounds,
)
from qms.services.metrics.quality import quality_metrics
from qms.services.metrics.scope import Scope, agency_tree_ids, scope_of
from qms.services.metrics.series import SERIES_INDICATORS, monthly_series, series_months
from qms.services.metrics.steps import step_metrics, step_totals

__all__ = [
    "DOSSIER_KEYS", "INDICATORS", "SERIES_INDICATORS", "Indicator", "Page", "Scope",
    "add_months", "agency_tree_ids", "dossier_metrics", "indicator_values", "is_met",
    "late_dossiers", "month_bounds", "month_key", "month_label", "month_of", "monthly_series",
    "objectives", "objectives_query", "overdue_steps", "quality_metrics", "rates", "scope_of",
    "series_months", "step_metrics", "step_totals", "utc_bounds",
]
