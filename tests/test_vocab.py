"""pairs.vocab: the stored values named once (SPEC §2, §6.7), and no module outside it spelling them by hand."""

from __future__ import annotations

import ast
import itertools
import json
import re
from pathlib import Path

import pytest

from pairs import vocab
from pairs.db import Pair, Ticker
from pairs.vocab import Activity, OrderStatus, StatusMessage

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("member, value, label, short, dot", [
    (Activity.ACTIVE, 1, "active", "active", "st1"),
    (Activity.PASSIVE, 0, "passive", "passive", "st0"),
    (Activity.WATCHLIST, -1, "watchlist", "watch", "st-1"),
])
def test_activity_values_and_names(member, value, label, short, dot) -> None:
    assert (member.value, member.label, member.short, member.dot) == (value, label, short, dot)
    # the wire and the templates see the integer
    assert (json.dumps(member), str(member), f"{member}") == (str(value), str(value), str(value))


@pytest.mark.parametrize("stored, tradable, shown", [
    (1, True, Activity.ACTIVE),
    (0, False, Activity.PASSIVE),
    (-1, False, Activity.WATCHLIST),  # A.4: a watchlist ticker or pair does not trade
    (None, False, Activity.PASSIVE),
    (2, False, Activity.PASSIVE),  # a value the API refuses (an old database's) neither
    (1.0, True, Activity.ACTIVE),
    ("1", False, Activity.PASSIVE),
])
def test_is_tradable_and_what_a_page_shows(stored, tradable, shown) -> None:
    assert vocab.is_tradable(stored) is tradable
    assert Activity.shown(stored) is shown


@pytest.mark.parametrize("column", [Ticker.active, Pair.status])
def test_tradable_is_the_same_rule_in_sql(column) -> None:
    condition = vocab.tradable(column)
    assert (condition.lhs, condition.op, condition.rhs) == (column, "=", 1)


def test_the_values_the_api_accepts_and_their_help() -> None:
    assert vocab.VALUES == (1, 0, -1)
    assert vocab.ACTIVITY_HELP == "1 active, 0 passive, -1 watchlist"


def test_order_statuses_are_the_spec_strings() -> None:
    assert [str(s) for s in OrderStatus] == ["waiting", "rerouted", "created", "canceled", "filled", "part.filled",
                                             "critical err", "error", "filled(...)"]
    # §6.7: the UI's status dropdown, in its order
    assert vocab.EDITABLE == ("waiting", "rerouted", "created", "canceled", "filled", "part.filled", "critical err",
                              "error")
    assert vocab.WAITING_LIST == ("waiting", "rerouted")
    assert vocab.NEEDS_ATTENTION == ("waiting", "rerouted", "error", "critical err")
    assert json.dumps({"order_status": OrderStatus.PART_FILLED}) == '{"order_status": "part.filled"}'


def test_status_messages_are_the_spec_strings() -> None:
    assert [str(m) for m in StatusMessage] == ["problematic ticker!", "currency mismatch!", "unknown ticker",
                                               "passive ticker", "wrong hedge", "multiple active orders", ""]
    assert vocab.remainder_label("BF B") + "30.0" == "remained(BF B): 30.0"
    assert vocab.SINGLE_REMAINDER + "6.0" == "remained: 6.0"
    assert vocab.canceled_amount(40) == "canceled amount: 40"


# ---------------------------------------------------------------------------------------------------------------
# No hand-written vocabulary outside pairs/vocab.py: a comparison, a keyword argument, a dict entry or an Arg default
# that gives an activity field a 1/0/-1 or a status field one of the status strings.

ACTIVITY_FIELDS = {"active", "status"}
STATUS_FIELDS = {"order_status", "status"}
MESSAGE_FIELDS = {"status_msg"}
ACTIVITY_LITERALS = {-1, 0, 1}
STATUS_LITERALS = {str(s) for s in OrderStatus}
MESSAGE_LITERALS = {str(m) for m in StatusMessage} - {""}
SOURCES = ("pairs", "handlers", "server.py")


def _name(node: ast.AST) -> str | None:
    """The field a node reads: ``x.active``, ``active``, ``row["order_status"]``, ``row.get("order_status")``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value if isinstance(node.slice.value, str) else None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and node.args and isinstance(node.args[0], ast.Constant)):
        return node.args[0].value if isinstance(node.args[0].value, str) else None
    return None


def _literal(node: ast.AST) -> object:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = node.operand.value
        return -value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):  # `status in (1, 0, -1)`: every element a literal
        items = [_literal(e) for e in node.elts]
        return tuple(items) if items and all(i is not None for i in items) else None
    return None


def _spelled(field: str | None, value: object) -> bool:
    """Whether ``value`` written for ``field`` is the vocabulary by hand."""
    if field is None or value is None:
        return False
    if isinstance(value, tuple):
        return any(_spelled(field, v) for v in value)
    if field in ACTIVITY_FIELDS and isinstance(value, int) and value in ACTIVITY_LITERALS:
        return True
    if field in STATUS_FIELDS and isinstance(value, str) and value in STATUS_LITERALS:
        return True
    return field in MESSAGE_FIELDS and isinstance(value, str) and value in MESSAGE_LITERALS


def hand_written(source: str) -> list[int]:
    """The lines of ``source`` that spell the vocabulary instead of naming it."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for a, b in itertools.pairwise(sides):
                if _spelled(_name(a), _literal(b)) or _spelled(_name(b), _literal(a)):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if _spelled(kw.arg, _literal(kw.value)):
                    lines.append(kw.value.lineno)
            func = node.func.id if isinstance(node.func, ast.Name) else None
            if func == "Arg" and node.args and isinstance(node.args[0], ast.Constant):
                for kw in node.keywords:
                    if kw.arg == "default" and _spelled(node.args[0].value, _literal(kw.value)):
                        lines.append(kw.value.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and _spelled(key.value, _literal(value)):
                    lines.append(value.lineno)
    return sorted(set(lines))


@pytest.mark.parametrize("source, expected", [
    ("if found.active == -1: pass", [1]),
    ("if not found.active or found.active == -1: pass", [1]),
    ("x = pair.status != 1", [1]),
    ("x = 1 == pair.status", [1]),
    ("x = t.active in (1, 0, -1)", [1]),
    ("x = row.get('order_status') == 'part.filled'", [1]),
    ("x = row['order_status'] == 'filled'", [1]),
    ("x = status == 'waiting'", [1]),
    ("new.update(order_status='canceled', status_msg='multiple active orders')", [1]),
    ("Ticker.create(active=1)", [1]),
    ("x = {'order_status': 'waiting', 'active': 1}", [1]),
    ("Arg('order_status', 'str', default='waiting')", [1]),
    ("Arg('status', 'int', default=0)", [1]),
    # named, or not the vocabulary: fine
    ("x = found.active == Activity.ACTIVE", []),
    ("new.update(order_status=OrderStatus.CANCELED, status_msg='')", []),
    ("x = reply.status == 200", []),
    ("x = status >= 500", []),
    ("x = order_action == 'buy'", []),
    ("x = {'status': 404, 'error': 'x'}", []),
    ("x = count == 1", []),
])
def test_the_scan_finds_hand_written_values(source, expected) -> None:
    assert hand_written(source) == expected


def test_no_module_spells_the_vocabulary_by_hand() -> None:
    found = []
    for top in SOURCES:
        root = PROJECT_DIR / top
        for path in sorted([root] if root.is_file() else root.rglob("*.py")):
            if path.name == "vocab.py":
                continue
            found += [f"{path.relative_to(PROJECT_DIR)}:{line}" for line in hand_written(path.read_text("utf-8"))]
    assert found == []


TEMPLATE_SPELLINGS = re.compile(r"""(active|status)\s*(==|!=|in)\s*\(?\s*-?[01]\b|'(waiting|rerouted|created|canceled|"""
                                r"""part\.filled|critical err)'|\{\s*1\s*:""")


def test_no_template_spells_the_vocabulary_by_hand() -> None:
    found = [f"{path.name}: {m.group(0)}" for path in sorted((PROJECT_DIR / "templates").glob("*.html"))
             for m in TEMPLATE_SPELLINGS.finditer(path.read_text("utf-8"))]
    assert found == []
