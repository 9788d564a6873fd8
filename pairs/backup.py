"""`python server.py backup PATH` and `restore PATH` for the SQLite database.

A backup uses SQLite's online backup API in one step: it reads a single snapshot (a read transaction, which in WAL
mode does not block the server's writer), so the copy is consistent even while webhooks arrive.  The copy is
written next to its destination, checked with ``PRAGMA integrity_check`` and only then renamed into place.

A restore checks the file first (integrity, that it is a pairs or pairs-api database, that the start-up migration
accepts it, on a scratch copy), keeps a consistent copy of the current database, and then swaps the files.  The
server must be stopped: a running server keeps its own view of the old file.  PostgreSQL databases are backed up
with ``pg_dump`` (the command prints the line to use).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee

from pairs.config import Settings
from pairs.db.migrate import migrate
from pairs.db.models import ORIGINAL_MODELS, database
from pairs.db.urls import SQLITE_PRAGMAS, _redact

# the tables every pairs-api database has had since v4; a file without them is not ours
REQUIRED_TABLES = tuple(m._meta.table_name for m in ORIGINAL_MODELS if m._meta.table_name != "simplesession")


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why and what to do."""


def sqlite_file(settings: Settings) -> Path:
    url = settings.effective_database_url
    if not url.lower().startswith(("sqlite://", "sqlite3://")):
        shown = _redact(url)
        raise BackupError(
            f"the database is not SQLite ({shown}): back it up with PostgreSQL's own tools, e.g.\n"
            f"  pg_dump --format=custom --file=pairs.dump '{shown}'\n"
            f"and restore it (server stopped) with\n"
            f"  pg_restore --clean --if-exists --dbname='{shown}' pairs.dump")
    return Path(url.split("://", 1)[1][1:].split("?", 1)[0]).expanduser()


@contextlib.contextmanager
def _connect(path: Path, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    # a URI names the file by its percent-encoded path: unquoted, ``#``, ``?`` or ``%41`` in a name would cut it
    # short or change it, and SQLite would write another file
    uri = "file:" + urllib.parse.quote(str(path.absolute())) + ("?mode=ro" if read_only else "")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_PRAGMAS["busy_timeout"] / 1000)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {str(path)!r}: {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def integrity_problem(conn: sqlite3.Connection) -> str | None:
    """None when ``PRAGMA integrity_check`` says ok, else its first complaint (also for files that are not
    SQLite at all)."""
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    first = rows[0][0] if rows else "no answer"
    return None if first == "ok" else first


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_private_folder(folder: Path) -> None:
    """``folder`` and any missing parent, created 0700: a backup holds the JWT signing secret and the users' hashes."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700)
        path.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened: this is exact


def _private_file(path: Path) -> None:
    """An empty file only the owner can read, made before SQLite writes into it (SQLite would use the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def backup_sqlite(source: Path, target: Path, overwrite: bool = False) -> dict[str, int]:
    """A consistent copy of ``source`` at ``target``, mode 0600; returns the row count of every table in the copy.

    Nothing is left at ``target`` or beside it when the backup fails.
    """
    if not source.is_file():
        raise BackupError(f"there is no database at {str(source)!r} to back up")
    if target.exists() and not overwrite:
        raise BackupError(f"{str(target)!r} already exists; choose a new name or pass --force")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _make_private_folder(target.parent)
        _private_file(partial)
        with _connect(source) as src, _connect(partial) as dst:
            src.backup(dst)  # pages=-1: one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, not a WAL database
            problem = integrity_problem(dst)
            if problem:
                raise BackupError(f"the copy failed its integrity check ({problem}); the source may be damaged: "
                                  "run `sqlite3 <file> 'PRAGMA integrity_check'` on it")
            counts = table_counts(dst)
        with open(partial, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(partial, target)
        _fsync_dir(target.parent)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"the backup to {str(target)!r} failed: {exc}") from None
    finally:
        for leftover in ("", "-journal", "-wal", "-shm"):
            Path(f"{partial}{leftover}").unlink(missing_ok=True)
    return counts


def default_backup_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now()
    return f"pairs-{now:%Y%m%d-%H%M%S}.db"


# ---------------------------------------------------------------------------------------------------------------
# restore


def processes_using(path: Path) -> list[int]:
    """Other processes that have the database (or its WAL) open, from /proc; empty where /proc cannot tell."""
    wanted = {str(path.resolve()), str(path.resolve()) + "-wal"}
    found = []
    proc = Path("/proc")
    for entry in proc.glob("[0-9]*"):
        if entry.name == str(os.getpid()):
            continue
        try:
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        found.append(int(entry.name))
                        break
        except OSError:  # another user's process, or it just ended
            continue
    return found


def something_listens(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def check_restorable(backup: Path, scratch: Path) -> dict[str, int]:
    """Copy ``backup`` to ``scratch`` and prove it usable there: integrity, our tables, migration to the current
    schema.  Returns the row counts; raises BackupError with the reason otherwise."""
    if not backup.is_file():
        raise BackupError(f"there is no file {str(backup)!r}")
    with _connect(backup, read_only=True) as src:
        problem = integrity_problem(src)
        if problem:
            raise BackupError(f"{str(backup)!r} is damaged or not an SQLite database ({problem}); nothing was "
                              "changed")
        tables = set(table_counts(src))
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise BackupError(f"{str(backup)!r} is not a pairs database: it has no table {', '.join(missing)}; "
                              "nothing was changed")
        with _connect(scratch) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
    db = peewee.SqliteDatabase(str(scratch), pragmas={"foreign_keys": 1})
    try:
        previous = database.obj  # the models are bound to this proxy
        database.initialize(db)
        try:
            migrate(db)
        finally:
            database.initialize(previous)
            db.close()
    except peewee.PeeweeException as exc:
        raise BackupError(f"{str(backup)!r} cannot be brought up to the current schema: {exc}; nothing was "
                          "changed") from None
    with _connect(scratch) as conn:
        problem = integrity_problem(conn)
        if problem:
            raise BackupError(f"the migrated copy of {str(backup)!r} failed its integrity check ({problem})")
        return table_counts(conn)


def restore_sqlite(backup: Path, live: Path, host: str, port: int) -> tuple[dict[str, int], Path | None]:
    """Put ``backup`` in place of ``live``.  Returns the restored row counts and where the previous database was
    kept (None when there was none)."""
    users = processes_using(live)
    if users:
        raise BackupError(f"the database is in use by process {', '.join(map(str, users))}: stop the server first "
                          "(`systemctl stop pairs`), then restore")
    if something_listens(host, port):
        raise BackupError(f"something answers on {host}:{port}, probably the server: stop it first "
                          "(`systemctl stop pairs`), then restore")
    if not live.parent.is_dir():
        raise BackupError(f"the database folder {str(live.parent)!r} does not exist")
    scratch = live.with_name(f".{live.name}.restore-{os.getpid()}")
    try:
        counts = check_restorable(backup, scratch)
        kept = None
        if live.exists():
            kept = live.with_name(f"{live.name}.before-restore-{dt.datetime.now():%Y%m%d-%H%M%S}")
            backup_sqlite(live, kept)  # reads the WAL too, so nothing committed is lost with it
        for extra in ("-wal", "-shm", "-journal"):  # they belong to the old file: never let SQLite apply them
            Path(str(live) + extra).unlink(missing_ok=True)
        os.replace(scratch, live)
        _fsync_dir(live.parent)
    finally:
        scratch.unlink(missing_ok=True)
    return counts, kept


# ---------------------------------------------------------------------------------------------------------------
# sub-commands


def _summary(counts: dict[str, int]) -> str:
    shown = [f"{counts[t]} {t}" for t in ("signals", "tickers", "pairs", "account", "users") if t in counts]
    return ", ".join(shown)


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    try:
        source = sqlite_file(settings)
        target = Path(args.path).expanduser()
        if target.is_dir():
            target = target / default_backup_name()
        counts = backup_sqlite(source, target, overwrite=args.force)
    except BackupError as exc:
        print(f"backup: {exc}")
        return 1
    print(f"backup written to {target} ({_summary(counts)}; integrity ok)")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    try:
        live = sqlite_file(settings)
        counts, kept = restore_sqlite(Path(args.path).expanduser(), live, settings.host, settings.port)
    except BackupError as exc:
        print(f"restore: {exc}")
        return 1
    if kept:
        print(f"the previous database was kept as {kept}")
    print(f"restored {args.path} to {live} ({_summary(counts)}); start the server again")
    return 0


def register_commands(sub: Any) -> None:
    p = sub.add_parser("backup", help="copy the SQLite database consistently, also while the server runs")
    p.add_argument("path", help="the file to write, or a folder (a dated name is chosen)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="put a backup back in place (stop the server first)")
    p.add_argument("path", help="a file made by the backup command (or a pairs-api data.db)")
    p.set_defaults(func=cmd_restore)
