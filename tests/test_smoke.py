from tests.conftest import login


def test_login_and_dashboard(client, users):
    response = login(client, "admin")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Người dùng" in page
