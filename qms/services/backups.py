"""Backups: the database and the uploaded files in one archive, and restoring it.

An archive is a gzip-compressed tar file holding

    database/qms.sqlite3   SQLite: a copy made through SQLite's online backup API
    database/qms.pgdump    PostgreSQL: pg_dump's custom format, the app's schema only
    attachments/<name>     every stored file, under its storage name
    manifest.json          what it holds (versions, schema revision, row counts, whether
                           the SECRET_KEY is set) and each member's size and SHA-256

The manifest comes last: it lists the others' checksums. Both ways, files are streamed in
chunks, never held in memory.

Rules:
- A backup is consistent and safe while the app runs: SQLite's backup API copies one
  snapshot; PostgreSQL's is one exported snapshot shared by pg_dump and the row counts.
  The database is copied before the files: a file is stored before its row is committed
  and never deleted, so every file a copied row names is in the archive.
- The archive is written beside its final name and renamed once complete: an interrupted
  backup never leaves a half file under that name, and an existing file is replaced only
  when asked (`force`). It is readable by its owner only (it holds personal data and
  password hashes).
- The SECRET_KEY's presence is recorded, its value only when asked (`include_secret_key`).
- A restore first reads the whole archive into a staging folder and checks every member
  against the manifest, the database's kind and the schema revision (an archive of a newer
  schema is refused), and refuses a database that holds any row unless `force`; only then
  does it write: the files into storage, then the database in one transaction (SQLite: the
  backup API into the configured file; PostgreSQL: pg_restore's script run by psql in one
  transaction). An older schema is then upgraded.

Messages are English: these run from the command line only.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess  # nosec B404
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.pool import NullPool

from qms.errors import QmsError
from qms.extensions import db
from qms.services import attachments, audit_log

# subprocess (nosec above) runs pg_dump, pg_restore and psql only: fixed argument lists, no shell.

FORMAT = "qms-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/qms.sqlite3"
POSTGRESQL_MEMBER = "database/qms.pgdump"
DATABASE_MEMBERS = {"sqlite": SQLITE_MEMBER, "postgresql": POSTGRESQL_MEMBER}
ATTACHMENTS = "attachments/"
# Storage names are random hex; anything else in the folder is still backed up when its
# name is a plain file name, and an archive naming anything else is refused.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
CHUNK = 1024 * 1024
MANIFEST_MAX_BYTES = 64 * 1024 * 1024
MIGRATION_TABLE = "alembic_version"
LOCK_TIMEOUT = 60  # seconds a PostgreSQL restore waits for a table in use


class BackupError(QmsError):
    """A backup or restore that cannot go on; the message says why, in one line."""


@dataclass
class RestoreResult:
    manifest: dict
    revision: str  # the archive's schema revision
    upgraded_to: str | None  # the revision after upgrading, when the archive's was older
    tables: int
    rows: int
    attachments: int
    attachment_bytes: int
    secret_key_note: str = ""


# --- shared -------------------------------------------------------------------------------
def dialect() -> str:
    name = db.engine.dialect.name
    if name not in DATABASE_MEMBERS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def app_version() -> str:
    try:
        return metadata.version("qms")
    except metadata.PackageNotFoundError:
        return "unknown"


def sqlite_path() -> Path:
    """The configured SQLite database file."""
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"the SQLite database must be a file, not {database or 'in memory'}")
    return Path(database)


def _quote(name: str) -> str:
    return db.engine.dialect.identifier_preparer.quote_identifier(name)


def _row_counts(connection) -> dict[str, int]:
    """Rows in every table of the connection's schema (alembic_version included)."""
    names = sorted(sa.inspect(connection).get_table_names())
    return {name: connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in names}


def _revision(connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


class _HashingReader:
    """Reads a file for tarfile while computing its SHA-256 and size."""

    def __init__(self, stream):
        self.stream, self.digest, self.size = stream, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


# --- PostgreSQL client tools --------------------------------------------------------------
def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found on PATH: install the PostgreSQL client tools of the "
                          f"server's major version (e.g. apt-get install postgresql-client-15)")
    return path


def _pg_connection() -> tuple[str, dict[str, str]]:
    """The configured database as a libpq connection string without the password, and the
    environment for the client tools (the password, if any, in PGPASSWORD): nothing shown
    on a command line or in a message holds it."""
    from psycopg.conninfo import make_conninfo

    _args, params = db.engine.dialect.create_connect_args(db.engine.url)
    params.update(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("connect_args", {}))
    password = params.pop("password", None)
    conninfo = make_conninfo(**{key: str(value) for key, value in params.items()
                                if isinstance(value, str | int) and not isinstance(value, bool)})
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return conninfo, env


def _run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    try:
        # a fixed argument list (the tool's path and options), no shell
        return subprocess.run(args, env=env, check=False, capture_output=True, text=True,  # nosec B603
                              **kwargs)
    except OSError as error:
        raise BackupError(f"could not run {Path(args[0]).name}: {error.strerror or error}") from None


def _tool_failure(tool: str, stderr: str) -> BackupError:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    detail = (errors or lines or ["no message"])[0]
    return BackupError(f"{tool} failed: {detail}")


def _tool_version(path: str, env) -> str:
    result = _run([path, "--version"], env)
    return result.stdout.strip() or "unknown"


# --- backup -------------------------------------------------------------------------------
def _snapshot_sqlite(target: Path) -> dict:
    """Copy the SQLite database to `target` through the online backup API (one consistent
    snapshot, while the app goes on writing) and describe the copy."""
    source_path = sqlite_path()
    if not source_path.is_file():
        raise BackupError(f"no SQLite database at {source_path}: run `qms init` first")
    try:
        with closing(sqlite3.connect(source_path, timeout=30)) as source, \
                closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
            version = sqlite3.sqlite_version
        engine = sa.create_engine(f"sqlite:///{target}", poolclass=NullPool)
        try:
            with engine.connect() as connection:
                revision, counts = _revision(connection), _row_counts(connection)
        finally:
            engine.dispose()
        # One self-contained file: out of WAL mode (the app's connections turn it on).
        with closing(sqlite3.connect(target)) as copy:
            copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as error:
        raise BackupError(f"could not copy the SQLite database {source_path}: {error}") from None
    return {"revision": revision, "tables": counts, "server_version": f"SQLite {version}"}


@contextmanager
def _postgresql_snapshot() -> Iterator[tuple[str, str, dict]]:
    """An exported snapshot of the configured PostgreSQL database, held while the block
    runs: (snapshot id, the app's schema, its revision and row counts as of the snapshot)."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ",
                                                  postgresql_readonly=True)
        with connection.begin():
            snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one_or_none()
            if schema is None:
                raise BackupError("the configured search_path names no existing schema")
            info = {"revision": _revision(connection), "tables": _row_counts(connection),
                    "schema": schema,
                    "server_version": connection.execute(sa.text("SHOW server_version")).scalar_one()}
            yield snapshot, schema, info


def _dump_postgresql(target: Path) -> dict:
    pg_dump = _pg_tool("pg_dump")
    conninfo, env = _pg_connection()
    with _postgresql_snapshot() as (snapshot, schema, info):
        pattern = '"' + schema.replace('"', '""') + '"'  # the exact name, no wildcards
        result = _run([pg_dump, "--format=custom", "--no-password", f"--file={target}",
                       f"--snapshot={snapshot}", f"--schema={pattern}", f"--dbname={conninfo}"], env)
        if result.returncode != 0:
            raise _tool_failure("pg_dump", result.stderr)
    info["dump_tool"] = _tool_version(pg_dump, env)
    return info


def _secret_key_info(include: bool) -> dict:
    """Whether the app has a SECRET_KEY and where it comes from; its value only if asked."""
    key = current_app.config.get("SECRET_KEY")
    info: dict = {"set": bool(key), "included": bool(include and key)}
    if key:
        key_file = Path(current_app.instance_path) / "secret_key"
        if os.environ.get("QMS_SECRET_KEY") == key:
            info["source"] = "QMS_SECRET_KEY"
        elif key_file.is_file() and key_file.read_text().strip() == key:
            info["source"] = "instance/secret_key"
        else:
            info["source"] = "configuration"
        if include:
            info["value"] = key
    return info


def _add_file(tar: tarfile.TarFile, name: str, path: Path, members: list[dict]) -> None:
    with open(path, "rb") as stream:
        status = os.fstat(stream.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = status.st_size, int(status.st_mtime), 0o600
        reader = _HashingReader(stream)
        tar.addfile(info, reader)  # copies exactly info.size bytes, in chunks
    members.append({"name": name, "size": info.size, "sha256": reader.digest.hexdigest()})


def _stored_files() -> tuple[list[Path], list[str]]:
    """The files in attachment storage to back up, and the names left out (uploads still
    being written, `*.part`, and anything that is not a plain file)."""
    folder = attachments.storage_dir()
    if not folder.is_dir():
        return [], []
    files, skipped = [], []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink() and SAFE_NAME.fullmatch(path.name) \
                and not path.name.endswith(".part"):
            files.append(path)
        else:
            skipped.append(path.name)
    return files, skipped


def _check_out(out: Path, force: bool) -> Path:
    out = out.expanduser()
    if out.is_dir():
        raise BackupError(f"{out} is a folder; give the archive's file name, e.g. {out / 'qms-backup.tar.gz'}")
    folder = out.parent
    if not folder.is_dir():
        raise BackupError(f"no folder {folder}")
    if (out.exists() or out.is_symlink()) and not force:
        raise BackupError(f"{out} exists; choose another name, or add --force to replace it")
    return out


def _publish(temporary: Path, out: Path, force: bool) -> None:
    """Give the finished archive its name: atomically, and without replacing a file that
    appeared meanwhile unless `force`."""
    if force:
        os.replace(temporary, out)
        return
    try:
        os.link(temporary, out)  # fails if `out` exists, whoever created it
    except FileExistsError:
        raise BackupError(f"{out} exists; choose another name, or add --force to replace it") from None
    except OSError:  # no hard links on this file system
        if out.exists():
            raise BackupError(f"{out} exists; choose another name, or add --force to replace it") from None
        os.replace(temporary, out)


def create_backup(out: Path, *, now: datetime, force: bool = False,
                  include_secret_key: bool = False) -> dict:
    """Write the database and every stored file to the archive `out`; returns its manifest."""
    out = _check_out(out, force)
    kind = dialect()
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".qms-backup-") as work:
            work = Path(work)
            database_file = work / Path(DATABASE_MEMBERS[kind]).name
            described = (_snapshot_sqlite(database_file) if kind == "sqlite"
                         else _dump_postgresql(database_file))
            if not described["revision"]:
                raise BackupError("the database is not initialised: run `qms init` first")
            # After the database: every file its rows name is already stored (see above).
            files, skipped = _stored_files()
            members: list[dict] = []
            temporary = work / "archive.tar.gz"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
                    _add_file(tar, DATABASE_MEMBERS[kind], database_file, members)
                    for path in files:
                        try:
                            _add_file(tar, ATTACHMENTS + path.name, path, members)
                        except FileNotFoundError:  # an upload that failed and was removed
                            continue
                    stored = [m for m in members if m["name"].startswith(ATTACHMENTS)]
                    manifest = {
                        "format": FORMAT,
                        "format_version": FORMAT_VERSION,
                        "app_version": app_version(),
                        "created_at": now.isoformat(),
                        "alembic_revision": described["revision"],
                        "database": {
                            "dialect": kind,
                            "member": DATABASE_MEMBERS[kind],
                            **{k: v for k, v in described.items() if k != "revision"},
                            "rows": sum(described["tables"].values()),
                        },
                        "attachments": {"count": len(stored),
                                        "bytes": sum(m["size"] for m in stored),
                                        "skipped": skipped},
                        "secret_key": _secret_key_info(include_secret_key),
                        "members": members,
                    }
                    data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
                    info = tarfile.TarInfo(MANIFEST)
                    info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
                    tar.addfile(info, _BytesReader(data))
                raw.flush()
                os.fsync(raw.fileno())
            _publish(temporary, out, force)
    except OSError as error:
        raise BackupError(f"could not write the backup {out}: {error.strerror or error}") from None
    return manifest


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk, self.offset = self.data[self.offset:end], min(end, len(self.data))
        return chunk


# --- reading an archive -------------------------------------------------------------------
def _member_allowed(name: str) -> bool:
    if name == MANIFEST or name in DATABASE_MEMBERS.values():
        return True
    return name.startswith(ATTACHMENTS) and bool(SAFE_NAME.fullmatch(name[len(ATTACHMENTS):]))


def _extract_verified(archive: Path, staging: Path) -> dict:
    """Copy the archive's members into `staging`, checking each against the manifest;
    returns the manifest. Nothing outside `staging` is written."""
    if not archive.exists():
        raise BackupError(f"no such file: {archive}")
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file")
    found: dict[str, tuple[int, str]] = {}
    manifest_data = None
    try:
        tar = tarfile.open(archive, mode="r:*")
    except (tarfile.TarError, EOFError, zlib.error, OSError):
        raise BackupError(f"{archive} is not a backup archive (a .tar.gz file made by `qms backup`)") \
            from None
    try:
        with tar:
            for member in tar:
                name = member.name
                if not member.isreg() or not _member_allowed(name):
                    raise BackupError(f"{archive} is not a qms backup: unexpected member {name!r}")
                if name in found or (name == MANIFEST and manifest_data is not None):
                    raise BackupError(f"{archive} is not a qms backup: {name} appears twice")
                stream = tar.extractfile(member)
                if name == MANIFEST:
                    if member.size > MANIFEST_MAX_BYTES:
                        raise BackupError(f"{archive} is not a qms backup: its manifest is too large")
                    manifest_data = stream.read()
                    continue
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with open(target, "xb") as out:
                    while chunk := stream.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                found[name] = (size, digest.hexdigest())
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        detail = (str(error).splitlines() or [type(error).__name__])[0]
        raise BackupError(f"{archive} is corrupted or truncated: {detail}") from None
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise BackupError(f"no space left to unpack {archive} into {staging.parent}") from None
        raise BackupError(f"could not read {archive}: {error.strerror or error}") from None
    if manifest_data is None:
        raise BackupError(f"{archive} is not a qms backup: it has no {MANIFEST}")
    manifest = _parse_manifest(archive, manifest_data)
    listed = {m["name"]: (m["size"], m["sha256"]) for m in manifest["members"]}
    missing = sorted(set(listed) - set(found))
    if missing:
        raise BackupError(f"{archive} is incomplete: {missing[0]} is listed in its manifest but missing")
    unlisted = sorted(set(found) - set(listed))
    if unlisted:
        raise BackupError(f"{archive} is not a qms backup as made: {unlisted[0]} is not in its manifest")
    corrupted = sorted(name for name in listed if found[name] != listed[name])
    if corrupted:
        raise BackupError(f"{archive} is corrupted: {corrupted[0]} does not match its size and "
                          f"SHA-256 in the manifest")
    return manifest


def _parse_manifest(archive: Path, data: bytes) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError(f"{archive} is not a qms backup: its manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is not a qms backup: its manifest is not one of qms")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{archive} is in backup format {manifest.get('format_version')!r}; "
                          f"this qms reads format {FORMAT_VERSION}: use the qms version that made it "
                          f"({manifest.get('app_version', 'unknown')})")
    members = manifest.get("members")
    database = manifest.get("database")
    valid = (isinstance(members, list) and isinstance(database, dict)
             and isinstance(database.get("tables"), dict)
             and isinstance(manifest.get("alembic_revision"), str)
             and all(isinstance(m, dict) and isinstance(m.get("name"), str)
                     and isinstance(m.get("size"), int) and isinstance(m.get("sha256"), str)
                     for m in members))
    if not valid:
        raise BackupError(f"{archive} is not a qms backup: its manifest lacks required entries")
    return manifest


# --- restore ------------------------------------------------------------------------------
def _script_directory():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(current_app.extensions["migrate"].directory)


def _check_revision(revision: str, app_of_archive: str) -> str | None:
    """None when `revision` is this code's newest; else the head it will be upgraded to.
    Refuses a revision this code does not know (a newer schema)."""
    from alembic.util import CommandError

    script = _script_directory()
    heads = script.get_heads()
    try:
        known = script.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(f"the archive's database is at schema revision {revision}, newer than this "
                          f"qms knows (newest {', '.join(heads)}): install the qms version that made it "
                          f"({app_of_archive}) or a newer one, then restore")
    return None if revision in heads else ", ".join(heads)


def occupied_tables() -> dict[str, int]:
    """The app's tables in the configured database that hold a row (alembic_version aside),
    with their row counts. An empty result: nothing a restore would destroy."""
    with db.engine.connect() as connection:
        existing = set(sa.inspect(connection).get_table_names())
        occupied = {}
        for table in db.metadata.sorted_tables:
            if table.name in existing and connection.execute(
                    sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                occupied[table.name] = connection.execute(
                    sa.select(sa.func.count()).select_from(table)).scalar_one()
    return occupied


def _refuse_non_empty() -> None:
    occupied = occupied_tables()
    if not occupied:
        return
    users = occupied.get("user_account", 0)
    names = sorted(occupied)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    raise BackupError(f"the database is not empty ({users} user account(s); rows in {len(names)} "
                      f"table(s): {shown}); restore replaces everything in it: add --force to do so")


def _place(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        partial = target.with_name(target.name + ".part")  # another file system: copy, then rename
        shutil.copyfile(source, partial)
        os.replace(partial, target)


def _restore_files(staged: Path) -> tuple[int, int]:
    folder = attachments.storage_dir()
    folder.mkdir(parents=True, exist_ok=True)
    count = size = 0
    if staged.is_dir():
        for path in sorted(staged.iterdir()):
            size += path.stat().st_size
            _place(path, folder / path.name)
            count += 1
    return count, size


def _restore_sqlite(staged: Path) -> None:
    """Copy the staged database into the configured file through the backup API: one
    write transaction, so the file holds either its old content or the archive's."""
    target = sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(staged)) as source:
            check = source.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"the archive's SQLite database fails its integrity check: {check}")
            with closing(sqlite3.connect(target, timeout=30)) as destination:
                source.backup(destination)
    except sqlite3.Error as error:
        raise BackupError(f"could not restore into {target}: {error}") from None


def _postgresql_schema() -> str:
    with db.engine.connect() as connection:
        schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one_or_none()
    if schema is None:
        raise BackupError("the configured search_path names no existing schema: create it first")
    return schema


def _restore_postgresql(staged: Path, schema: str, staging: Path) -> None:
    """pg_restore --clean --if-exists --no-owner turns the dump into SQL; psql runs it in
    one transaction (ON_ERROR_STOP) after dropping the app's tables: all of it or nothing.
    Grants are not restored (--no-privileges): the restoring user owns everything, and
    the old server's roles need not exist here."""
    pg_restore, psql = _pg_tool("pg_restore"), _pg_tool("psql")
    conninfo, env = _pg_connection()
    listed = _run([pg_restore, "--list", str(staged)], env)
    if listed.returncode != 0:
        raise _tool_failure("pg_restore", listed.stderr)
    # The schema itself stays as it is (its owner and grants): only its content is replaced.
    schema_entry = re.compile(r"^\d+; \d+ \d+ (SCHEMA -|COMMENT - SCHEMA|ACL - SCHEMA) ")
    use_list = staging / "restore.list"
    use_list.write_text("".join(line + "\n" for line in listed.stdout.splitlines()
                                if not schema_entry.match(line)))
    # The app's tables already there go first, with what depends on them: the dump's own
    # --clean cannot drop what a newer schema added (a table, a foreign key to its tables).
    with db.engine.connect() as connection:
        existing = set(sa.inspect(connection).get_table_names())
    ours = {table.name for table in db.metadata.sorted_tables} | {MIGRATION_TABLE}
    present = sorted(existing & ours)
    # A connection inside a transaction on these tables (a running app) would make the
    # restore wait for ever: give up after LOCK_TIMEOUT, having changed nothing.
    command = [psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1",
               "--single-transaction", f"--command=SET LOCAL lock_timeout = '{LOCK_TIMEOUT}s'"]
    if present:
        tables = ", ".join(f"{_quote(schema)}.{_quote(name)}" for name in present)
        command.append(f"--command=DROP TABLE IF EXISTS {tables} CASCADE")
    command += ["--file=-", f"--dbname={conninfo}"]
    with tempfile.TemporaryFile(mode="w+", dir=staging) as producer_errors:
        try:
            # fixed argument lists, no shell
            producer = subprocess.Popen(  # nosec B603
                [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
                 f"--use-list={use_list}", "--file=-", str(staged)],
                stdout=subprocess.PIPE, stderr=producer_errors, env=env)
        except OSError as error:
            raise BackupError(f"could not run pg_restore: {error.strerror or error}") from None
        try:
            consumer = subprocess.run(command, stdin=producer.stdout, env=env, check=False,  # nosec B603
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        finally:
            producer.stdout.close()
            producer.wait()
        if consumer.returncode != 0:
            if "lock timeout" in consumer.stderr:
                raise BackupError(f"the database is in use (a table stayed locked for {LOCK_TIMEOUT} s): "
                                  f"stop the app and restore again; nothing was changed")
            raise _tool_failure("psql (restoring the dump; nothing was changed)", consumer.stderr)
        if producer.returncode != 0:
            producer_errors.seek(0)
            raise _tool_failure("pg_restore", producer_errors.read())


def _secret_key_note(manifest: dict) -> str:
    recorded = manifest.get("secret_key") or {}
    key = current_app.config.get("SECRET_KEY")
    if recorded.get("included") and recorded.get("value"):
        if recorded["value"] == key:
            return "the archive's SECRET_KEY is this app's: signed-in sessions stay valid"
        return ("the archive holds a SECRET_KEY that differs from this app's: to keep the old "
                "server's sessions valid, set QMS_SECRET_KEY (or instance/secret_key) to the "
                "archive's (secret_key.value in its manifest.json); otherwise everyone signs in again")
    return ("the archive does not hold the SECRET_KEY: unless this app uses the old server's "
            "(QMS_SECRET_KEY or instance/secret_key), everyone signs in again")


def restore_backup(archive: Path, *, force: bool = False) -> RestoreResult:
    """Restore the archive into the configured database and attachment storage."""
    archive = Path(archive).expanduser()
    kind = dialect()
    instance = Path(current_app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    try:
        staging_folder = tempfile.TemporaryDirectory(dir=instance, prefix=".qms-restore-")
    except OSError as error:
        raise BackupError(f"could not create a staging folder in {instance}: "
                          f"{error.strerror or error}") from None
    with staging_folder as staging:
        staging = Path(staging)
        manifest = _extract_verified(archive, staging)
        database = manifest["database"]
        if database.get("dialect") != kind or database.get("member") != DATABASE_MEMBERS[kind]:
            raise BackupError(f"the archive holds a {database.get('dialect')} database and the "
                              f"configured one is {kind}: restore into a {database.get('dialect')} "
                              f"database (moving between the two is not supported)")
        revision = manifest["alembic_revision"]
        upgrade_to = _check_revision(revision, manifest.get("app_version", "unknown"))
        schema = None
        if kind == "postgresql":
            schema = _postgresql_schema()
            if database.get("schema") != schema:
                raise BackupError(f"the archive holds schema {database.get('schema')!r} and the "
                                  f"configured database uses {schema!r}: restore into a database "
                                  f"whose search_path selects {database.get('schema')!r}")
        if not force:
            _refuse_non_empty()

        # Everything is checked: write. Files first (a failure leaves only unused files),
        # then the database in one transaction.
        try:
            count, size = _restore_files(staging / "attachments")
        except OSError as error:
            raise BackupError(f"could not store the attachments in {attachments.storage_dir()}: "
                              f"{error.strerror or error}") from None
        db.session.remove()
        db.engine.dispose()
        staged = staging / database["member"]
        if kind == "sqlite":
            _restore_sqlite(staged)
        else:
            _restore_postgresql(staged, schema, staging)
        db.engine.dispose()

    with db.engine.connect() as connection:
        counts = _row_counts(connection)
    expected = database["tables"]
    differing = sorted(name for name in expected if counts.get(name) != expected[name])
    if differing:
        raise BackupError(f"the restored database differs from the archive's row counts in "
                          f"{', '.join(differing)}")
    if upgrade_to:
        flask_migrate.upgrade()
    audit_log.record(db.session, "database.restored",
                     note=f"restored from {archive.name}, made {manifest.get('created_at')} by qms "
                          f"{manifest.get('app_version')} at revision {revision}"
                          + (f", upgraded to {upgrade_to}" if upgrade_to else ""))
    return RestoreResult(manifest=manifest, revision=revision, upgraded_to=upgrade_to,
                         tables=len(expected), rows=sum(expected.values()), attachments=count,
                         attachment_bytes=size, secret_key_note=_secret_key_note(manifest))
