"""`qms backup` and `qms restore`: a round trip brings back every row of every table and every
stored file, byte for byte, on SQLite and (when QMS_TEST_DATABASE_URL is set) PostgreSQL;
and what must be refused is refused cleanly (one line, exit 1, nothing written).

Each test builds its own apps and databases: a source app (init, the demo data, documents
and dossier files) and a target app with an instance folder of its own. On PostgreSQL the
source is a schema of its own in the test database and the target a database of its own,
created here and dropped afterwards, holding a schema of the same name (a dump restores into
the schema it came from); no other worker's schema is touched.
"""
from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import tarfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from werkzeug.datastructures import FileStorage

from qms import clock, create_app, resource_folder
from qms.errors import QmsError
from qms.extensions import db
from qms.models import AgencyLevel, Department, Document, DossierFile, Procedure, Role, User
from qms.services import accounts, attachments, backups, documents, dossiers, org
from tests.cli.conftest import PG_URL, QMS_BIN, clean_env, fresh_database
from tests.cli.test_commands import assert_clean_failure
from tests.conftest import PASSWORD

SCRIPT = ScriptDirectory(resource_folder("migrations"))
HEAD = SCRIPT.get_current_head()
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
SOURCE_SECRET = "source-secret-key-0123456789"
KINDS = [pytest.param("sqlite", id="sqlite"),
         pytest.param("postgresql", id="postgresql",
                      marks=pytest.mark.skipif(not PG_URL, reason="set QMS_TEST_DATABASE_URL"))]


# --- apps and databases -------------------------------------------------------------------
@contextmanager
def app_on(url: str, instance: Path, secret: str = SOURCE_SECRET):
    """An app on `url` with its own instance folder, its app context pushed."""
    instance.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QMS_INSTANCE_PATH", str(instance))
        app = create_app({"TESTING": True, "SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": url,
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@contextmanager
def target_database(tmp_path: Path, source_url: str, kind: str):
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database
    holding an empty schema named as the source's."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    url = sa.engine.make_url(source_url)
    schema = url.query["options"].removeprefix("-csearch_path=")
    name = f"qms_restore_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        target = url.set(database=name)
        engine = sa.create_engine(target)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        yield target.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(invoke, app, *args: str):
    """A command against `app`, whose context is pushed (commands use the current app)."""
    with app.app_context():
        return invoke(app, *args)


def add_records_with_files() -> None:
    """Beyond the demo data: a draft document version with two attached files, a received
    dossier with a file of its own, and a stray file in storage that no row names."""
    quality = db.session.scalar(sa.select(User).where(User.username == "quality"))
    officer = db.session.scalar(sa.select(User).where(User.username == "officer"))
    attached = 0
    for document in db.session.scalars(sa.select(Document).order_by(Document.id)).all():
        try:
            version = documents.draft_version(document, actor=quality, title=document.title,
                                              body="Sửa đổi.\n", change_summary="Sửa lời văn",
                                              now=clock.now())
            for name, content in (("Quyết định ban hành.pdf", PDF),
                                  ("Phụ lục.pdf", PDF + secrets.token_bytes(70_000))):
                attachments.save_attachment(version, FileStorage(io.BytesIO(content), filename=name),
                                            actor=quality, now=clock.now())
                attached += 1
            break
        except QmsError:
            db.session.rollback()
    assert attached == 2, "no document the demo's quality officer may draft and attach to"
    for procedure in db.session.scalars(sa.select(Procedure).order_by(Procedure.id)).all():
        try:
            dossier, _secret = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                                        applicant_name="Nguyễn Thị Hoa",
                                                        now=clock.now())
            break
        except QmsError:
            db.session.rollback()
    else:
        pytest.fail("no procedure the demo's officer may receive a dossier for")
    stored = attachments.store_upload(FileStorage(io.BytesIO(PDF + b"% to\xe1\xbb\x9d khai\n"),
                                                  filename="Tờ khai.pdf"))
    db.session.add(DossierFile(dossier=dossier, filename=stored.filename,
                               storage_name=stored.storage_name, media_type=stored.media_type,
                               size=stored.size, sha256=stored.sha256, uploaded_by_id=officer.id,
                               uploaded_at=clock.now()))
    db.session.commit()
    (attachments.storage_dir() / secrets.token_hex(24)).write_bytes(secrets.token_bytes(5000))


def add_user(username: str) -> User:
    """An officer account (with the agency and department it needs, the first time)."""
    department = db.session.scalar(sa.select(Department).limit(1))
    if department is None:
        agency = org.save_agency(None, actor=None, code="TP", name="Thành phố Thử Nghiệm",
                                 level=AgencyLevel.province, parent=None,
                                 effective_from=date(2004, 1, 1))
        department = org.save_department(None, actor=None, code="TP-VP", name="Văn phòng",
                                         agency=agency)
    user = accounts.create_user(actor=None, username=username, full_name=username.title(),
                                password=PASSWORD, department=department, roles={Role.officer})
    db.session.commit()
    return user


def table_contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, as stored (no type conversion), in primary-key order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            contents = {}
            for name in inspector.get_table_names():
                columns = [c["name"] for c in inspector.get_columns(name)]
                order = inspector.get_pk_constraint(name)["constrained_columns"] or columns
                table = sa.table(name, *(sa.column(c) for c in columns))
                query = sa.select(table).order_by(*(table.c[c] for c in order))
                contents[name] = [tuple(row) for row in conn.execute(query)]
            return contents
    finally:
        engine.dispose()


def stored_files(instance: Path) -> dict[str, bytes]:
    folder = instance / "attachments"
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def repack(source: Path, target: Path, *, edit_manifest=None, replace=None, rename=None) -> Path:
    """A copy of an archive with a member's bytes replaced, a member renamed, or the
    manifest edited (its checksums are left as they were unless the edit changes them)."""
    with tarfile.open(source) as src, tarfile.open(target, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            name = (rename or {}).get(member.name, member.name)
            if member.name == "manifest.json" and edit_manifest:
                data = json.dumps(edit_manifest(json.loads(data))).encode()
            elif replace and member.name in replace:
                data = replace[member.name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return target


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    """A quick SQLite archive: an initialised database with one user and two stored files."""
    folder = tmp_path_factory.mktemp("small")
    with app_on(f"sqlite:///{folder / 'small.sqlite3'}", folder / "instance") as app:
        flask_migrate.upgrade()
        add_user("lan")
        storage = attachments.storage_dir()
        storage.mkdir()
        (storage / "a1b2c3").write_bytes(PDF)
        (storage / "d4e5f6").write_bytes(secrets.token_bytes(3000))
        archive = folder / "small.tar.gz"
        backups.create_backup(archive, now=clock.now())
        assert app
    return archive


@pytest.fixture
def empty_target(tmp_path):
    """An app on a new, uninitialised SQLite database with an empty instance folder."""
    with app_on(f"sqlite:///{tmp_path / 'target.sqlite3'}", tmp_path / "target",
                secret="target-secret") as app:
        yield app


def untouched(app) -> bool:
    """Nothing restored: no app table and no stored file."""
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    return not tables and not stored_files(Path(app.instance_path))


# --- the round trip -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_brings_back_every_row_and_every_file(kind, tmp_path, invoke):
    (tmp_path / "source").mkdir()
    with fresh_database(tmp_path / "source", kind) as source_url, \
            app_on(source_url, tmp_path / "source-instance") as source:
        assert run(invoke, source, "init").exit_code == 0
        seeded = run(invoke, source, "seed-demo")
        assert seeded.exit_code == 0, seeded.output
        add_records_with_files()
        archive = tmp_path / "qms.tar.gz"
        result = run(invoke, source, "backup", "--out", str(archive))
        assert result.exit_code == 0, result.output
        assert f"backup written to {archive}: {kind} database at revision {HEAD}" in result.output
        assert "4 attachment(s)" in result.output
        before = table_contents(source_url)
        files = stored_files(tmp_path / "source-instance")

        with target_database(tmp_path, source_url, kind) as target_url, \
                app_on(target_url, tmp_path / "target-instance", secret="another-key") as target:
            restored = run(invoke, target, "restore", str(archive))
            assert restored.exit_code == 0, restored.output
            assert f"schema at revision {HEAD}" in restored.output
            assert "does not hold the SECRET_KEY" in restored.output
            after = table_contents(target_url)
            # every row of every table, and one audit row more: the restore itself
            assert set(after) == set(before)
            assert {name: rows for name, rows in after.items() if name != "audit_log"} == \
                   {name: rows for name, rows in before.items() if name != "audit_log"}
            assert after["audit_log"][:-1] == before["audit_log"]
            engine = sa.create_engine(target_url)
            with engine.connect() as conn:
                action, actor, note = conn.execute(sa.text(
                    "SELECT action, actor_name, note FROM audit_log ORDER BY id DESC")).first()
            engine.dispose()
            assert (action, actor) == ("database.restored", "cli:restore")
            assert "qms.tar.gz" in note and HEAD in note
            assert stored_files(tmp_path / "target-instance") == files
    assert sum(len(rows) for rows in before.values()) > 1000
    assert len(before["attachment"]) == 2 and len(before["dossier_file"]) == 1
    assert len(files) == 4  # two document files, one dossier file, one no row names


@pytest.mark.parametrize("kind", KINDS)
def test_restore_refuses_a_database_with_data_unless_forced(kind, tmp_path, invoke, monkeypatch):
    (tmp_path / "source").mkdir()
    with fresh_database(tmp_path / "source", kind) as url, \
            app_on(url, tmp_path / "instance") as app:
        assert run(invoke, app, "init").exit_code == 0
        add_user("lan")
        archive = tmp_path / "one-user.tar.gz"
        assert run(invoke, app, "backup", "--out", str(archive)).exit_code == 0
        add_user("mai")

        refused = run(invoke, app, "restore", str(archive))
        assert_clean_failure(refused, "the database is not empty", "2 user account(s)",
                             "user_account", "--force")
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2  # untouched
        if kind == "postgresql":  # this session's open transaction holds the tables: no wait for ever
            monkeypatch.setattr(backups, "LOCK_TIMEOUT", 1)
            in_use = run(invoke, app, "restore", "--force", str(archive))
            assert_clean_failure(in_use, "the database is in use", "stop the app", "nothing was changed")
            assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2
        db.session.remove()  # end this transaction

        forced = run(invoke, app, "restore", "--force", str(archive))
        assert forced.exit_code == 0, forced.output
        db.session.remove()
        assert db.session.scalars(sa.select(User.username)).all() == ["lan"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_backup_runs_beside_a_writer_and_copies_what_is_committed(kind, tmp_path):
    """As while the app serves: another connection is in the middle of a write transaction."""
    (tmp_path / "source").mkdir()
    with fresh_database(tmp_path / "source", kind) as url, app_on(url, tmp_path / "instance"):
        flask_migrate.upgrade()
        add_user("lan")
        writer = sa.create_engine(url)
        try:
            with writer.connect() as conn:
                if kind == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # holds SQLite's write lock
                conn.execute(sa.text("INSERT INTO audit_log (at, actor_name, action) "
                                     "VALUES (:at, 'writer', 'test.uncommitted')"), {"at": clock.now()})
                manifest = backups.create_backup(tmp_path / "live.tar.gz", now=clock.now())
                conn.rollback()
        finally:
            writer.dispose()
        committed = db.session.scalar(sa.text("SELECT count(*) FROM audit_log"))
    assert manifest["database"]["tables"]["audit_log"] == committed
    assert manifest["database"]["tables"]["user_account"] == 1


def test_an_initialised_database_without_rows_counts_as_empty(small_archive, empty_target, invoke):
    assert run(invoke, empty_target, "init").exit_code == 0
    assert backups.occupied_tables() == {}
    result = run(invoke, empty_target, "restore", str(small_archive))
    assert result.exit_code == 0, result.output
    assert db.session.scalars(sa.select(User.username)).all() == ["lan"]


def test_an_older_archive_is_upgraded_after_the_restore(tmp_path, empty_target, invoke):
    older = SCRIPT.get_revision(HEAD).down_revision
    with app_on(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path / "old") as old:
        flask_migrate.upgrade(revision=older)
        archive = tmp_path / "old.tar.gz"
        backups.create_backup(archive, now=clock.now())
        assert old
    result = run(invoke, empty_target, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert f"schema upgraded from revision {older} to {HEAD}" in result.output
    with empty_target.app_context():
        assert db.session.scalar(sa.text("SELECT version_num FROM alembic_version")) == HEAD


def test_an_archive_of_a_newer_schema_is_refused(small_archive, empty_target, tmp_path, invoke):
    def newer(manifest):
        return {**manifest, "alembic_revision": "9999_from_the_future"}

    archive = repack(small_archive, tmp_path / "newer.tar.gz", edit_manifest=newer)
    result = run(invoke, empty_target, "restore", str(archive))
    assert_clean_failure(result, "9999_from_the_future", "newer than this qms knows")
    assert untouched(empty_target)


def test_an_archive_of_the_other_database_kind_is_refused(small_archive, empty_target, tmp_path,
                                                         invoke):
    def postgresql(manifest):
        manifest["database"].update(dialect="postgresql", member="database/qms.pgdump")
        for member in manifest["members"]:
            if member["name"] == "database/qms.sqlite3":
                member["name"] = "database/qms.pgdump"
        return manifest

    archive = repack(small_archive, tmp_path / "pg.tar.gz", edit_manifest=postgresql,
                     rename={"database/qms.sqlite3": "database/qms.pgdump"})
    result = run(invoke, empty_target, "restore", str(archive))
    assert_clean_failure(result, "holds a postgresql database", "configured one is sqlite")
    assert untouched(empty_target)


# --- bad input ----------------------------------------------------------------------------
def bad_archives(small_archive: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    data = small_archive.read_bytes()
    (folder / "notes.txt").write_text("not an archive\n")
    (folder / "truncated.tar.gz").write_bytes(data[: len(data) // 2])
    plain = folder / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(folder / "notes.txt", arcname="notes.txt")
    contents = members(small_archive)
    return {
        "missing": (folder / "no-such.tar.gz", "no such file"),
        "folder": (folder, "is not a file"),
        "not an archive": (folder / "notes.txt", "is not a backup archive"),
        "truncated": (folder / "truncated.tar.gz", "corrupted or truncated"),
        "another tar": (plain, "unexpected member 'notes.txt'"),
        "tampered file": (repack(small_archive, folder / "tampered.tar.gz",
                                 replace={"attachments/a1b2c3": PDF.replace(b"1.4", b"1.7")}),
                          "attachments/a1b2c3 does not match its size and SHA-256"),
        "tampered database": (repack(small_archive, folder / "db.tar.gz", replace={
            "database/qms.sqlite3": contents["database/qms.sqlite3"][:-1] + b"\x01"}),
            "database/qms.sqlite3 does not match"),
        "no manifest": (repack(small_archive, folder / "nomanifest.tar.gz",
                               rename={"manifest.json": "attachments/manifest"}),
                        "has no manifest.json"),
        "member missing": (repack(small_archive, folder / "missing.tar.gz",
                                  rename={"attachments/d4e5f6": "attachments/other"}),
                           "attachments/d4e5f6 is listed in its manifest but missing"),
        "path outside": (repack(small_archive, folder / "escape.tar.gz",
                                rename={"attachments/a1b2c3": "attachments/../../escape"}),
                         "unexpected member 'attachments/../../escape'"),
    }


def test_bad_archives_fail_cleanly_and_write_nothing(small_archive, empty_target, tmp_path, invoke):
    folder = tmp_path / "bad"
    folder.mkdir()
    for case, (path, message) in bad_archives(small_archive, folder).items():
        result = run(invoke, empty_target, "restore", str(path))
        assert result.exit_code == 1, case
        assert_clean_failure(result, message)
        assert len(result.output.strip().splitlines()) == 1, (case, result.output)
        assert untouched(empty_target), case
    assert not (tmp_path.parent / "escape").exists()
    # no staging folder is left behind
    assert not [p for p in Path(empty_target.instance_path).iterdir() if p.name.startswith(".qms")]


def test_a_bad_archive_is_one_line_and_exit_1_as_a_process(run_qms, instance, tmp_path):
    (tmp_path / "garbage.tar.gz").write_bytes(b"\x1f\x8b" + secrets.token_bytes(500))
    result = run_qms("restore", str(tmp_path / "garbage.tar.gz"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    nothing = run_qms("backup", "--out", str(tmp_path / "b.tar.gz"))
    assert nothing.returncode == 1, nothing.stdout
    assert "run `qms init` first" in nothing.stderr and "Traceback" not in nothing.stderr
    assert not (tmp_path / "b.tar.gz").exists()
    listed = subprocess.run([str(QMS_BIN), "--help"], check=False, capture_output=True, text=True,
                            timeout=60, env=clean_env(QMS_INSTANCE_PATH=str(instance)))
    assert " backup " in listed.stdout and " restore " in listed.stdout


# --- the archive --------------------------------------------------------------------------
def test_the_manifest_describes_the_archive(small_archive):
    contents = members(small_archive)
    assert list(contents)[-1] == "manifest.json"
    manifest = json.loads(contents["manifest.json"])
    assert manifest["format"] == "qms-backup" and manifest["format_version"] == 1
    assert manifest["alembic_revision"] == HEAD
    assert manifest["app_version"]
    assert manifest["database"]["dialect"] == "sqlite"
    assert manifest["database"]["tables"]["user_account"] == 1
    assert manifest["attachments"] == {"count": 2, "bytes": len(PDF) + 3000, "skipped": []}
    import hashlib

    listed = {m["name"]: (m["size"], m["sha256"]) for m in manifest["members"]}
    assert listed == {name: (len(data), hashlib.sha256(data).hexdigest())
                      for name, data in contents.items() if name != "manifest.json"}
    assert oct(small_archive.stat().st_mode & 0o777) == "0o600"


def test_the_secret_key_is_recorded_as_present_but_its_value_only_on_request(tmp_path):
    with app_on(f"sqlite:///{tmp_path / 'k.sqlite3'}", tmp_path / "instance") as app:
        flask_migrate.upgrade()
        plain, with_key = tmp_path / "plain.tar.gz", tmp_path / "key.tar.gz"
        backups.create_backup(plain, now=clock.now())
        backups.create_backup(with_key, now=clock.now(), include_secret_key=True)
        assert app.config["SECRET_KEY"] == SOURCE_SECRET
    manifest = json.loads(members(plain)["manifest.json"])
    assert manifest["secret_key"] == {"set": True, "included": False, "source": "configuration"}
    raw = b"".join(members(plain).values())
    assert SOURCE_SECRET.encode() not in raw
    assert json.loads(members(with_key)["manifest.json"])["secret_key"]["value"] == SOURCE_SECRET


def test_backup_refuses_to_replace_a_file_unless_forced(small_archive, tmp_path, invoke):
    with app_on(f"sqlite:///{tmp_path / 'o.sqlite3'}", tmp_path / "instance") as app:
        flask_migrate.upgrade()
        out = tmp_path / "existing.tar.gz"
        out.write_bytes(b"precious")
        refused = run(invoke, app, "backup", "--out", str(out))
        assert_clean_failure(refused, "exists", "--force")
        assert out.read_bytes() == b"precious"
        folder = run(invoke, app, "backup", "--out", str(tmp_path))
        assert_clean_failure(folder, "is a folder")
        nowhere = run(invoke, app, "backup", "--out", str(tmp_path / "no" / "such.tar.gz"))
        assert_clean_failure(nowhere, "no folder")
        forced = run(invoke, app, "backup", "--out", str(out), "--force")
        assert forced.exit_code == 0, forced.output
        assert "manifest.json" in members(out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_interrupted_backup_leaves_no_file(tmp_path, invoke, monkeypatch):
    with app_on(f"sqlite:///{tmp_path / 'i.sqlite3'}", tmp_path / "instance") as app:
        flask_migrate.upgrade()
        storage = attachments.storage_dir()
        storage.mkdir()
        (storage / "abc").write_bytes(PDF)
        real = backups._add_file

        def failing(tar, name, path, listed):
            if name.startswith("attachments/"):
                raise OSError(28, "No space left on device")
            return real(tar, name, path, listed)

        monkeypatch.setattr(backups, "_add_file", failing)
        out = tmp_path / "out" / "qms.tar.gz"
        out.parent.mkdir()
        result = run(invoke, app, "backup", "--out", str(out))
        assert_clean_failure(result, "could not write the backup", "No space left on device")
    assert list(out.parent.iterdir()) == []  # neither the archive nor its temporary folder


def test_the_postgresql_password_stays_off_the_command_line(tmp_path):
    url = "postgresql+psycopg://qms:S3cret-pw@db.example:5433/qms?options=-csearch_path%3Dqms"
    with app_on(url, tmp_path / "instance"):
        conninfo, env = backups._pg_connection()
        assert "S3cret-pw" not in conninfo
        assert env["PGPASSWORD"] == "S3cret-pw"
        for part in ("host=db.example", "port=5433", "user=qms", "dbname=qms",
                     "options=-csearch_path=qms"):
            assert part in conninfo


def test_a_missing_pg_dump_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(backups.BackupError, match="pg_dump not found on PATH"):
        backups._pg_tool("pg_dump")
