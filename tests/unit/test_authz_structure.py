"""Permissions live in one place (qms/authz.py): no service, view, command or template
checks a role by name, and no view answers 403 by hand. The enum itself (qms/models/
accounts.py) and the demo's seeding are the only other places that name a role."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qms import authz
from qms.models import Role

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "qms"
ALLOWED = {PACKAGE / "authz.py", PACKAGE / "models" / "accounts.py", PACKAGE / "services" / "demo.py"}


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p not in ALLOWED)


def _role_checks(source: str) -> list[str]:
    """`Role.<member>` (the user-role enum, not StepRole) and `.has_role(` calls."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "Role" and node.attr in Role.__members__):
            found.append(f"line {node.lineno}: Role.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr == "has_role":
            found.append(f"line {node.lineno}: .has_role")
    return found


def test_the_scan_finds_a_role_check():
    """The rule below is not vacuous: it sees both shapes of a role check."""
    sample = "def f(user):\n    return user.has_role(Role.leader)\n"
    assert sorted(_role_checks(sample)) == ["line 2: .has_role", "line 2: Role.leader"]
    assert _role_checks("StepRole.leader\nx.role is StepRole.one_stop\n") == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_checks_a_role_by_name(path):
    assert _role_checks(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(ROOT)} checks a role by name: add a permission to qms/authz.py")


def test_no_template_checks_a_role_by_name():
    """Templates may list a user's roles (their labels), never test one: they ask `can`."""
    roles = "|".join(Role.__members__)
    check = re.compile(rf"has_role|Role\.|['\"]({roles})['\"]\s*(in|==)|(==|in)\s*['\"]({roles})['\"]")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "templates").rglob("*.html")
                 if check.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_views_answer_403_only_through_the_guard():
    pattern = re.compile(r"abort\(\s*403")
    offenders = [str(p.relative_to(ROOT)) for p in (PACKAGE / "web").rglob("*.py")
                 if p.name != "access.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_every_permission_a_caller_names_exists():
    """A misspelt permission would be a KeyError at run time: find them all now."""
    named = set()
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "templates").rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"""(?:require|can|may|has|roles_with|grants)\([^)]*?["']([a-z_]+\.[a-z_]+)["']""", text))
    assert named, "the scan found no permission names"
    assert sorted(named - set(authz.PERMISSIONS)) == []


def test_every_object_rule_belongs_to_a_permission():
    assert set(authz._RULES) <= set(authz.PERMISSIONS)
