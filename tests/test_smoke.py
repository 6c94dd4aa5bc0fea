import pytest
import sqlalchemy as sa

from qms.extensions import db
from tests.conftest import login


def test_login_and_dashboard(client, users):
    response = login(client, "admin")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Người dùng" in page


def test_postgresql_connections_run_without_jit(app):
    """The reports' correlated subqueries cost more to JIT-compile than to run (issue 12)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's JIT")
    assert db.session.scalar(sa.text("SHOW jit")) == "off"
