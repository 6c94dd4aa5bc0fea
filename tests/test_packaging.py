"""Packaging: pyproject's explicit `packages` list stays whole, and a built wheel carries
the templates, the migrations and the translations, and works when installed (not
editable) somewhere else."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_package_is_listed():
    listed = set(SETUPTOOLS["packages"])
    found = set(find_packages(where=ROOT, include=["qms", "qms.*"]))
    assert "qms" in found and "qms.web" in found  # the comparison is not vacuous
    missing = found - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    assert {"qms.templates", "qms.migrations"} <= listed


def test_every_listed_package_exists():
    package_dir = SETUPTOOLS.get("package-dir", {})
    for package in SETUPTOOLS["packages"]:
        folder = ROOT / package_dir.get(package, package.replace(".", "/"))
        assert folder.is_dir(), f"{package} is listed but {folder} does not exist"
    assert package_dir["qms.templates"] == "templates"
    assert package_dir["qms.migrations"] == "migrations"


def test_console_script():
    assert PYPROJECT["project"]["scripts"]["qms"] == "qms.commands:cli"


# --- the wheel --------------------------------------------------------------------------------
def _copy_source(target: Path) -> Path:
    """Build from a copy, so that the build leaves no build/ or egg-info in the checkout."""
    source = target / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "cli.py"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("qms", "templates", "migrations", "procedures_iso"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    return source


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_source(tmp)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist")]
    if importlib.util.find_spec("wheel"):
        # offline and quick: use the environment's setuptools and wheel
        command.append("--no-build-isolation")
    # else: pip fetches setuptools and wheel into an isolated build environment
    result = subprocess.run([*command, str(source)], check=False, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = (tmp / "dist").glob("qms-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_contains_the_templates(wheel_names):
    assert "qms/templates/base.html" in wheel_names
    # The shipped quality documents and procedures, which `qms seed-demo` imports.
    for source in (ROOT / "procedures_iso").rglob("*"):
        if source.suffix in (".md", ".yaml"):
            assert "qms/procedures_iso/" + source.relative_to(ROOT / "procedures_iso").as_posix() in wheel_names
    for template in (ROOT / "templates").rglob("*.html"):
        name = "qms/templates/" + template.relative_to(ROOT / "templates").as_posix()
        assert name in wheel_names, f"{name} missing from the wheel"


def test_wheel_contains_the_migrations(wheel_names):
    for name in ("env.py", "alembic.ini", "script.py.mako"):
        assert f"qms/migrations/{name}" in wheel_names
    versions = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    assert versions, "no migrations in the checkout?"
    for version in versions:
        assert f"qms/migrations/versions/{version}" in wheel_names


def test_wheel_contains_the_code_and_translations(wheel_names):
    for module in (ROOT / "qms").rglob("*.py"):
        if "__pycache__" in module.parts:
            continue
        assert module.relative_to(ROOT).as_posix() in wheel_names
    translations = ROOT / "qms" / "translations"
    if not translations.is_dir():
        pytest.skip("no qms/translations folder yet")
    catalogues = [p for p in translations.rglob("*") if p.suffix in {".po", ".mo"}]
    for catalogue in catalogues:
        assert catalogue.relative_to(ROOT).as_posix() in wheel_names


def test_wheel_entry_point(wheel):
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(archive.read(n).decode() for n in archive.namelist()
                            if n.endswith(".dist-info/entry_points.txt"))
    assert "qms = qms.commands:cli" in entry_points


def test_installed_wheel_serves_pages_and_migrates(wheel, tmp_path):
    """Unpacked away from the checkout, qms finds its templates and migrations inside the
    package, migrates a new database and renders the login page."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    script = (
        "import flask_migrate, qms, sys\n"
        "from qms import create_app\n"
        "from qms.extensions import db\n"
        f"assert qms.__file__.startswith({str(site)!r}), qms.__file__\n"
        "app = create_app({'SECURE_COOKIES': False})\n"
        f"assert app.template_folder.startswith({str(site)!r}), app.template_folder\n"
        "with app.app_context():\n"
        "    flask_migrate.upgrade()\n"
        "    db.engine.dispose()\n"
        "page = app.test_client().get('/auth/login')\n"
        "assert page.status_code == 200, page.status_code\n"
        "assert b'csrf_token' in page.data\n"
        "print('ok', app.extensions['migrate'].directory)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("QMS_")}
    env.update(PYTHONPATH=str(site), QMS_INSTANCE_PATH=str(tmp_path / "instance"))
    result = subprocess.run([sys.executable, "-c", script], check=False, cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok " + str(site))
    assert (tmp_path / "instance" / "qms.sqlite3").is_file()
