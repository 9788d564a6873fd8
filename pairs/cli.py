"""The command line: every sub-command of ``python server.py`` and of the installed ``pairs`` (pyproject.toml).

Each sub-command accepts ``--config`` and ``--database-url`` (the ``CONNECTION`` parent parser), also after its
name.  No Tornado here: ``serve`` and ``demo`` import server.py when they run, so the other sub-commands start
without the HTTP layer.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pairs import __version__, auth, backup, checks, demo, jobs, market, messages, push, screener, users
from pairs.config import ENV_OVERRIDES, ConfigError, Settings, load_settings
from pairs.db import open_store
from pairs.db.urls import StoreError, _redact

# ``--config`` and ``--database-url`` after a sub-command's name; SUPPRESS keeps the ones given before it
CONNECTION = argparse.ArgumentParser(add_help=False)
CONNECTION.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="as for the server")
CONNECTION.add_argument("--database-url", metavar="URL", default=argparse.SUPPRESS, help="as for the server")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# ---------------------------------------------------------------------------------------------------------------
# serve, demo


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import server

    server.run(settings)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """``make demo``: serve a fresh data/demo.db on the data-demo/ prices, filled with a day of trading."""
    import server

    demo.remove_demo_database(settings.data_dir)
    settings = dataclasses.replace(settings, database_url=demo.demo_database_url(settings.data_dir),
                                   price_source=f"csv:{demo.DEMO_PRICES}")
    server.run(settings, demo_day=True)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# users


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ; nothing was changed")
    if not password:
        raise ConfigError("an empty password is not allowed; nothing was changed")
    if auth.password_too_long(password):
        raise ConfigError("the password is longer than 72 bytes (bcrypt's limit); nothing was changed")
    if len(password) < auth.PASSWORD_MIN:  # the API keeps the original's rule (any non-empty password): README
        raise ConfigError(f"{messages.PASSWORD_TOO_SHORT}; nothing was changed")
    return password


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    if not auth.username_ok(args.username):
        raise ConfigError(f"{messages.BAD_USERNAME} Nothing was created.")
    password = _read_password(args)
    store = open_store(settings)
    try:
        if users.find(args.username):
            print(f"user {args.username!r} already exists; use reset-password to change its password",
                  file=sys.stderr)
            return 1
        store.write_sync(users.create_tx, args.username, auth.hash_password(password, settings.bcrypt_rounds),
                         args.admin)
    finally:
        store.close()
    print(f"created {'admin ' if args.admin else ''}user {args.username!r}")
    return 0


def cmd_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args)
    store = open_store(settings)
    try:
        changed = store.write_sync(users.set_password_tx, args.username,
                                   auth.hash_password(password, settings.bcrypt_rounds))
    finally:
        store.close()
    if not changed:
        print(f"no user {args.username!r}; create it with create-user", file=sys.stderr)
        return 1
    print(f"password of {args.username!r} changed")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# check-config, backup, restore


def cmd_check_config(settings: Settings, args: argparse.Namespace) -> int:
    # the checks connect to databases themselves; peewee's and psycopg's own log lines would only repeat them
    logging.getLogger("peewee").setLevel(logging.CRITICAL)
    findings = checks.check_settings(settings)
    for finding in findings:
        print(finding)
    errors = sum(f.level == checks.ERROR for f in findings)
    warnings = len(findings) - errors
    print(f"database: {_redact(settings.effective_database_url)}; data folder: {settings.data_dir}")
    if errors:
        print(f"{errors} error(s), {warnings} warning(s): fix the errors before starting the server.")
        return 1
    print(f"configuration OK ({warnings} warning(s)).")
    return 0


def _summary(counts: dict[str, int]) -> str:
    shown = [f"{counts[t]} {t}" for t in ("signals", "tickers", "pairs", "account", "users") if t in counts]
    return ", ".join(shown)


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    try:
        source = backup.sqlite_file(settings)
        target = Path(args.path).expanduser()
        if target.is_dir():
            target = target / backup.default_backup_name()
        counts = backup.backup_sqlite(source, target, overwrite=args.force)
    except backup.BackupError as exc:
        print(f"backup: {exc}")
        return 1
    print(f"backup written to {target} ({_summary(counts)}; integrity ok)")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    try:
        live = backup.sqlite_file(settings)
        counts, kept = backup.restore_sqlite(Path(args.path).expanduser(), live, settings.host, settings.port)
    except backup.BackupError as exc:
        print(f"restore: {exc}")
        return 1
    if kept:
        print(f"the previous database was kept as {kept}")
    print(f"restored {args.path} to {live} ({_summary(counts)}); start the server again")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# refresh-prices, yahoo-symbol, screen


def _progress_bar(stream: Any) -> jobs.Progress:
    def show(step: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {step[:50]:<50}")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return show


def cmd_refresh_prices(settings: Settings, args: argparse.Namespace) -> int:
    source = market.make_price_source(settings.price_source, cache_dir=jobs.yfinance_cache(settings))
    store = open_store(settings)
    job = jobs.WATCHLIST if args.watchlist else jobs.PRICES
    try:
        while True:
            outcome = jobs.run_price_job(store, source, settings, job, progress=_progress_bar(sys.stderr))
            assert outcome is not None  # nothing else runs jobs in this process
            print(f"{job}: {outcome.pairs} pairs, {outcome.updated} updated, {len(outcome.failed)} stale")
            for name, why in outcome.failed.items():
                print(f"  {name}: {why}")
            if outcome.updated == 0:  # say why nothing was done, and what to do about it
                print(jobs.run_notice(outcome, settings.price_source))
            if args.once:
                return 0 if not outcome.failed else 1
            threading.Event().wait(max(1, settings.sma_calc_period) * 60)
    except KeyboardInterrupt:
        return 0
    finally:
        push.stop_store(store)  # the run's notifications go out before the command ends
        store.close()


def cmd_yahoo_symbol(settings: Settings, args: argparse.Namespace) -> int:
    override = market.yahoo_override(args.yahoo) if args.yahoo is not None else None
    if args.yahoo is not None and override is None:
        print(f"{args.yahoo!r}: {messages.BAD_YAHOO_SYMBOL}", file=sys.stderr)
        return 2
    store = open_store(settings)
    try:
        if override is not None and not store.write_sync(jobs.set_yahoo_symbol_tx, args.symbol, override):
            print(f"no ticker {args.symbol!r}", file=sys.stderr)
            return 1
        print(f"{args.symbol} -> {market.yahoo_symbols([args.symbol])[args.symbol]}")
        return 0
    finally:
        store.close()


def format_table(pairs: Sequence[dict[str, Any]]) -> str:
    def number(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [f"{'ticker1':<10} {'ticker2':<10} {'hedge':>9} {'pvalue':>9} {'qvalue':>9} {'half_life':>9} "
             f"{'zscore':>7} {'corr':>7} {'nobs':>5}"]
    for p in pairs:
        lines.append(f"{p['ticker1']:<10} {p['ticker2']:<10} {p['hedge']:>9.4f} {p['pvalue']:>9.6f} "
                     f"{number(p['qvalue'], '>9.6f')} {number(p['half_life'], '>9.2f')} "
                     f"{number(p['zscore'], '>7.2f')} {number(p['corr'], '>7.3f')} {p['nobs']:>5}")
    return "\n".join(lines)


def cmd_screen(settings: Settings, args: argparse.Namespace) -> int:
    try:
        extra = screener.read_universe(args.universe) if args.universe else []
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read the universe file: {exc}", file=sys.stderr)
        return 2
    if args.window is not None and args.window < 2:
        print("--window must be at least 2", file=sys.stderr)
        return 2
    source = market.make_price_source(settings.price_source, cache_dir=jobs.yfinance_cache(settings))
    store = open_store(settings)
    try:
        job_id = screener.begin(store)
        assert job_id is not None  # nothing else runs the screener in this process
        outcome = screener.run(store, source, settings, job_id, extra, args.window,
                               progress=_progress_bar(sys.stderr))
        failed = jobs.last_runs(1, screener.JOB)[0]["failed"]
    finally:
        store.close()
    shown = outcome["pairs"][:max(args.top, 0)]
    if args.json:
        print(json.dumps({"run": outcome["run"], "pairs": shown}))
    else:
        run_info = outcome["run"]
        print(f"screener run {run_info['id']}: {run_info['symbols']} symbols, {run_info['pairs_tested']} pairs "
              f"tested over {run_info['window']} days")
        if shown:
            print(format_table(shown))
    if "run" in failed:
        print(f"the run failed: {failed['run']}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------------------------------------
# the parser


def build_parser(prog: str = "server.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="pairs: trading-signal server (TradingView webhooks, the v4 REST API, the dashboard).",
        epilog=f"Environment: {', '.join(ENV_OVERRIDES)} override config.ini.",
    )
    parser.add_argument("--version", action="version", version=f"pairs {__version__}")
    parser.add_argument("--config", metavar="PATH", help="an original-style config.ini (default: ./config.ini "
                        "when it exists)")
    parser.add_argument("--database-url", metavar="URL", help="sqlite:///path.db or "
                        "postgresql://user:pass@host:5432/db (also DATABASE_URL_SQLALCHEMY); default: SQLite in data/")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 5000)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Any, **texts: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[CONNECTION], **texts)
        p.set_defaults(func=func)
        return p

    command("serve", cmd_serve, help="run the server (the default)")
    for name, func, text in (("create-user", cmd_create_user, "create a user"),
                             ("reset-password", cmd_reset_password, "set a user's password")):
        p = command(name, func, help=text)
        p.add_argument("username")
        p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        if name == "create-user":
            p.add_argument("--admin", action="store_true", help="give the user the admin flag")
    command("demo", cmd_demo, help="serve a demo: a fresh data/demo.db on the data-demo/ prices with a day of "
            "signals, orders and fills (make demo)")
    command("check-config", cmd_check_config, help="check the configuration and environment, and say what is wrong")
    p = command("backup", cmd_backup, help="copy the SQLite database consistently, also while the server runs")
    p.add_argument("path", help="the file to write, or a folder (a dated name is chosen)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p = command("restore", cmd_restore, help="put a backup back in place (stop the server first)")
    p.add_argument("path", help="a file made by the backup command (or a pairs-api data.db)")
    p = command(
        "refresh-prices", cmd_refresh_prices, help="fetch prices and compute pair statistics now (no session gate)",
        description="Fetch prices from [SMA] PRICE_SOURCE and compute the statistics of the active pairs (or the "
                    "watchlist pairs) now, ignoring the exchange-session gate, with a progress bar on stderr. "
                    "Prints the pairs considered, updated and stale (each with the reason); the run is recorded "
                    "for the dashboard.",
        epilog="exit status with --once: 0 when every pair was updated, 1 when some are stale.")
    p.add_argument("--watchlist", action="store_true", help="the watchlist pairs instead of the active ones")
    p.add_argument("--once", action="store_true", help="one pass, then exit (default: a pass every "
                   "[SMA] SMA_CALC_PERIOD minutes until Ctrl-C)")
    p = command("yahoo-symbol", cmd_yahoo_symbol,
                help="show or set the Yahoo spelling of a ticker (override of the rule)")
    p.add_argument("symbol", help="the ticker as stored, e.g. 'BF B'")
    p.add_argument("yahoo", nargs="?", help="the Yahoo symbol to use; '' to go back to the rule")
    p = command(
        "screen", cmd_screen,
        help="find cointegrated pairs among the known symbols (the screener), with a progress bar",
        description="Test every pair of the registered tickers (whatever their active value) and of the "
                    "symbols of --universe for cointegration over the last [SCREENER] WINDOW daily closes, "
                    "fetched from [SMA] PRICE_SOURCE; print the best pairs and store the run for the dashboard.",
        epilog="exit status: 0 for a run that completed, 1 when it failed, 2 for an unreadable universe file.")
    p.add_argument("--universe", metavar="FILE", help="more symbols, one a line (IB spelling)")
    p.add_argument("--window", type=int, metavar="N", help="daily closes to look at (default [SCREENER] WINDOW)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="pairs to print, best first (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.database_url is not None and not args.database_url.strip():  # never fall back silently
        raise ConfigError("database URL given with --database-url is empty; use sqlite:///path/to/file.db or "
                          "postgresql://user:password@host:5432/dbname")
    config = args.config
    if config is None and os.path.isfile("config.ini"):
        config = "config.ini"
    return load_settings(config, database_url=args.database_url, host=args.host, port=args.port,
                         log_level=args.log_level)


def main(argv: list[str] | None = None, prog: str = "server.py") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        settings = settings_from_args(args)
        func = getattr(args, "func", cmd_serve)
        if func is not cmd_check_config:  # check-config reports every finding itself
            errors = checks.startup_errors(settings)
            if errors:
                raise ConfigError("; ".join(errors))
        configure_logging(settings.log_level)
        return func(settings, args)
    except (ConfigError, StoreError) as exc:
        print(f"pairs: {exc}", file=sys.stderr)
        return 2


def console() -> int:
    """The ``pairs`` command that ``pip install .`` creates (pyproject.toml): ``python server.py`` by another name."""
    return main(prog="pairs")
