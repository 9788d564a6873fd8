"""`backup` makes a consistent copy while writes go on; `restore` checks a file before it replaces anything."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pairs import backup
from pairs.config import PROJECT_DIR, load_settings
from pairs.db import Setting, Store, Ticker


def _add_ticker_and_count_tx(number: int) -> None:
    """One transaction writes two tables: a consistent snapshot has as many tickers as the counter says."""
    Ticker.create(symbol=f"T{number:05d}", active=0)
    Setting.insert(key="test_counter", value=str(number)).on_conflict_replace().execute()


def snapshot_facts(path: Path) -> tuple[str, int, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tickers = conn.execute("SELECT COUNT(*) FROM tickers").fetchone()[0]
        row = conn.execute("SELECT value FROM settings WHERE key = 'test_counter'").fetchone()
    return integrity, tickers, int(row[0]) if row else 0


def test_backups_taken_during_a_stream_of_writes_are_consistent(tmp_path, sqlite_url):
    store = Store(sqlite_url)
    store.open()
    live = Path(sqlite_url.split(":///", 1)[1])
    backups_done = threading.Event()
    first_writes = threading.Event()
    written = []

    def writer() -> None:  # keeps writing through every backup, and at least once after the last one
        number = 0
        while not backups_done.is_set() or number < written_at_end[0] + 1:
            number += 1
            store.write_sync(_add_ticker_and_count_tx, number)
            written.append(number)
            if number == 50:
                first_writes.set()

    written_at_end = [10**9]
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert first_writes.wait(30), "the writer did not start"
        facts = []
        for index in range(5):
            target = tmp_path / f"copy{index}.db"
            counts = backup.backup_sqlite(live, target)
            facts.append((snapshot_facts(target), counts["tickers"]))
        written_at_end[0] = len(written)
        backups_done.set()
    finally:
        thread.join(60)
        store.close()
    for (integrity, tickers, counter), reported in facts:
        assert integrity == "ok"
        assert tickers == counter == reported  # the ticker and the counter of one transaction: both or neither
        assert 50 <= tickers < len(written)  # taken while the stream ran
    assert len(written) > facts[-1][1]
    with contextlib.closing(sqlite3.connect(tmp_path / "copy0.db")) as conn:  # a plain file, usable without its -wal
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_backup_refuses_to_overwrite_and_names_missing_files(tmp_path, sqlite_url):
    store = Store(sqlite_url)
    store.open()
    store.close()
    live = Path(sqlite_url.split(":///", 1)[1])
    target = tmp_path / "copy.db"
    target.write_text("precious")
    with pytest.raises(backup.BackupError, match="already exists; choose a new name or pass --force"):
        backup.backup_sqlite(live, target)
    assert target.read_text() == "precious"
    backup.backup_sqlite(live, target, overwrite=True)
    assert snapshot_facts(target)[0] == "ok"
    with pytest.raises(backup.BackupError, match="there is no database at"):
        backup.backup_sqlite(tmp_path / "nothing.db", tmp_path / "x.db")
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("name", ["a#b.db", "what?.db", "x%41y.db", "100%.db", "sp ace.db"])
def test_backup_is_private_and_written_under_exactly_its_name(tmp_path, sqlite_url, name, monkeypatch):
    """A backup holds the JWT secret: 0600 in a 0700 folder whatever the umask, at the name given and nowhere else
    (an unquoted URI cut ``a#b.db`` to ``a`` and left a full copy there)."""
    live = make_database(sqlite_url, ["KO"])
    folder = tmp_path / "made" / "backups"
    old_umask = os.umask(0o022)
    try:
        backup.backup_sqlite(live, folder / name)
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in folder.iterdir()) == [name]
    assert symbols_in(folder / name) == ["KO"]
    assert (folder / name).stat().st_mode & 0o777 == 0o600
    assert [p.stat().st_mode & 0o777 for p in (folder, folder.parent)] == [0o700, 0o700]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made", "pairs.db"]

    monkeypatch.setattr(backup, "integrity_problem", lambda conn: "page 7 is damaged")
    with pytest.raises(backup.BackupError, match="failed its integrity check"):
        backup.backup_sqlite(live, folder / ("again-" + name))
    assert sorted(p.name for p in folder.iterdir()) == [name]  # nothing partial is left behind


def test_postgresql_is_pointed_to_pg_dump(tmp_path):
    settings = load_settings(None, environ={}, database_url="postgresql://app:pw@db.lan:5432/pairs")
    with pytest.raises(backup.BackupError) as caught:
        backup.sqlite_file(settings)
    text = str(caught.value)
    assert "pg_dump --format=custom --file=pairs.dump 'postgresql://app:***@db.lan:5432/pairs'" in text
    assert "pw@" not in text


def make_database(url: str, symbols: list[str]) -> Path:
    store = Store(url)
    store.open()
    for symbol in symbols:
        store.write_sync(lambda s: Ticker.create(symbol=s, active=1), symbol)
    store.close()
    return Path(url.split(":///", 1)[1])


def symbols_in(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT symbol FROM tickers ORDER BY symbol")]


def test_restore_puts_the_backup_back_and_keeps_the_previous_database(tmp_path):
    live = make_database(f"sqlite:///{tmp_path}/live/pairs.db", ["AAPL", "MSFT"])
    saved = tmp_path / "saved.db"
    backup.backup_sqlite(live, saved)
    make_database(f"sqlite:///{live}", ["TSLA"])  # a change after the backup
    counts, kept = backup.restore_sqlite(saved, live, "127.0.0.1", _free_port())
    assert counts["tickers"] == 2
    assert symbols_in(live) == ["AAPL", "MSFT"]
    assert symbols_in(kept) == ["AAPL", "MSFT", "TSLA"]
    assert kept.name.startswith("pairs.db.before-restore-")
    assert not Path(f"{live}-wal").exists()
    assert sorted(p.name for p in live.parent.iterdir()) == sorted(["pairs.db", kept.name])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("content, expected", [
    (b"this is not a database at all" * 100, "is damaged or not an SQLite database"),
    (None, "is not a pairs database: it has no table signals, tickers, pairs, account, users"),
])
def test_restore_refuses_bad_files_and_changes_nothing(tmp_path, content, expected):
    live = make_database(f"sqlite:///{tmp_path}/live/pairs.db", ["AAPL"])
    bad = tmp_path / "bad.db"
    if content is None:
        with contextlib.closing(sqlite3.connect(bad)) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    else:
        bad.write_bytes(content)
    with pytest.raises(backup.BackupError, match=expected):
        backup.restore_sqlite(bad, live, "127.0.0.1", _free_port())
    assert symbols_in(live) == ["AAPL"]
    assert sorted(p.name for p in live.parent.iterdir()) == ["pairs.db"]


def test_restore_refuses_a_truncated_backup(tmp_path):
    live = make_database(f"sqlite:///{tmp_path}/live/pairs.db", ["AAPL"])
    saved = tmp_path / "saved.db"
    backup.backup_sqlite(make_database(f"sqlite:///{tmp_path}/other/pairs.db", [f"S{i}" for i in range(300)]),
                         saved)
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(backup.BackupError, match="is damaged or not an SQLite database"):
        backup.restore_sqlite(saved, live, "127.0.0.1", _free_port())
    assert symbols_in(live) == ["AAPL"]


def test_restore_refuses_while_another_process_has_the_database_open(tmp_path):
    live = make_database(f"sqlite:///{tmp_path}/live/pairs.db", ["AAPL"])
    saved = tmp_path / "saved.db"
    backup.backup_sqlite(live, saved)
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                               "c.execute('SELECT 1 FROM tickers').fetchall(); print('open', flush=True); "
                               "sys.stdin.read()", str(live)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(backup.BackupError, match=f"in use by process {holder.pid}: stop the server first"):
            backup.restore_sqlite(saved, live, "127.0.0.1", _free_port())
    finally:
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()


def test_restore_refuses_while_something_listens_on_the_server_port(tmp_path):
    live = make_database(f"sqlite:///{tmp_path}/live/pairs.db", ["AAPL"])
    saved = tmp_path / "saved.db"
    backup.backup_sqlite(live, saved)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(backup.BackupError, match=f"something answers on 127.0.0.1:{port}"):
            backup.restore_sqlite(saved, live, "127.0.0.1", port)


def test_backup_and_restore_commands(tmp_path):
    live = make_database(f"sqlite:///{tmp_path}/data/pairs.db", ["AAPL"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRS_")}
    env["PAIRS_PORT"] = str(_free_port())

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(PROJECT_DIR / "server.py"), "--database-url",
                               f"sqlite:///{live}", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60)

    folder = tmp_path / "backups"
    folder.mkdir()
    made = run("backup", str(folder))
    assert made.returncode == 0, made.stderr
    copy = next(folder.iterdir())
    assert made.stdout.strip() == f"backup written to {copy} (0 signals, 1 tickers, 0 pairs, 0 account, 0 users; " \
                                  "integrity ok)"
    assert copy.name.startswith("pairs-") and copy.suffix == ".db"
    again = run("backup", str(copy))
    assert again.returncode == 1
    assert again.stdout.strip() == f"backup: {str(copy)!r} already exists; choose a new name or pass --force"
    restored = run("restore", str(copy))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert restored.stdout.splitlines()[-1].startswith(f"restored {copy} to {live} (0 signals, 1 tickers")
    assert symbols_in(live) == ["AAPL"]
