"""The command line (pairs/cli.py): one parser holds every sub-command, and each takes the connection options."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from pairs import cli

# every sub-command with the positional arguments it needs
COMMANDS = {"serve": [], "create-user": ["bob"], "reset-password": ["bob"], "demo": [], "check-config": [],
            "backup": ["copy.db"], "restore": ["copy.db"], "refresh-prices": [], "yahoo-symbol": ["KO"], "screen": []}


def sub_commands(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def test_every_sub_command_takes_config_and_database_url_before_or_after_its_name():
    parser = cli.build_parser()
    assert sub_commands(parser) == set(COMMANDS)
    for name, positional in COMMANDS.items():
        after = parser.parse_args([name, *positional, "--config", "a.ini", "--database-url", "sqlite:///a.db"])
        assert (after.config, after.database_url) == ("a.ini", "sqlite:///a.db"), name
        before = parser.parse_args(["--config", "b.ini", "--database-url", "sqlite:///b.db", name, *positional])
        assert (before.config, before.database_url) == ("b.ini", "sqlite:///b.db"), name
        neither = parser.parse_args([name, *positional])
        assert (neither.config, neither.database_url) == (None, None), name


def test_the_command_line_imports_no_tornado():
    """Only ``serve`` and ``demo`` need the HTTP layer; they import server.py when they run."""
    probe = "import sys, pairs.cli; print(sorted(m for m in ('tornado', 'server', 'handlers') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parent.parent,
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
