"""Passwords: scrypt in production, the strength rule, and long Vietnamese passphrases."""
import pytest

from qms import create_app
from qms.errors import ValidationError
from qms.models import User
from qms.services.accounts import check_password_strength


def test_production_hashes_with_scrypt(tmp_path, monkeypatch):
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with app.app_context():
        user = User(username="a")
        user.set_password("Mật khẩu rất dài của tôi 2026")
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("Mật khẩu rất dài của tôi 2026")
    assert not user.check_password("Mật khẩu rất dài của tôi 2027")


def test_passphrases_longer_than_72_bytes_count_every_byte(app):
    # bcrypt would ignore everything after byte 72; Vietnamese letters take 2-3 bytes each.
    base = "Tôi yêu quê hương đất nước Việt Nam muôn năm, ngàn năm văn hiến "
    assert len(base.encode()) > 72
    user = User(username="b")
    user.set_password(base + "A1")
    assert user.check_password(base + "A1") and not user.check_password(base + "B2")


@pytest.mark.parametrize("password,username", [
    ("ngan", ""), ("chicochuthoi", ""), ("1234567890", ""), ("aaaaaaaaaa1", ""),
    ("nguyenvan2026", "nguyenvan"), (" khoangtrang1", ""),
])
def test_weak_passwords_are_refused_with_a_reason(app, password, username):
    with pytest.raises(ValidationError) as refused:
        check_password_strength(password, username=username)
    assert refused.value.message


def test_a_reasonable_password_passes(app):
    check_password_strength("Hoa-sen-2026", username="lan")
    check_password_strength("mặt trời mọc 7 giờ", username="lan")
