"""``MODELS`` (pairs/db/models.py) is the one list of tables: every model of the project is in it, and opening the
store creates exactly its tables, in its order, without importing the modules that use them."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import handlers
import pairs
from pairs.db.models import MODELS, BaseModel
from pairs.db.urls import open_database

ROOT = Path(__file__).resolve().parent.parent


def every_subclass(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | every_subclass(sub)
    return found


def test_models_lists_every_model_defined_in_the_project_once():
    for package in (pairs, handlers):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    defined = {model for model in every_subclass(BaseModel) if model.__module__.startswith(("pairs.", "handlers."))}
    assert len(set(MODELS)) == len(MODELS)
    assert {m.__name__ for m in defined} == {m.__name__ for m in MODELS}
    assert {m.__module__ for m in defined} == {"pairs.db.models"}


def test_opening_the_store_creates_exactly_the_tables_of_models_in_their_order(db_url):
    # A fresh interpreter that imports nothing but the store: no model may depend on another import to exist.
    script = ("import json, sys\nfrom pairs.db import Store\nstore = Store(sys.argv[1])\nchanges = store.open()\n"
              "print(json.dumps([changes, sorted(store.db.get_tables())]))\nstore.close()\n")
    out = subprocess.run([sys.executable, "-c", script, db_url], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    changes, tables = json.loads(out)
    assert changes == [f"created table {model._meta.table_name}" for model in MODELS]
    assert tables == sorted(model._meta.table_name for model in MODELS)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://u:p@db.example:5432/pairs", "5"),  # libpq's default would wait for the operating system
    ("postgresql://u@db.example/pairs?connect_timeout=30", "30"),  # the URL wins
])
def test_a_postgresql_connection_attempt_has_a_timeout(url: str, expected: str) -> None:
    assert str(open_database(url).connect_params["connect_timeout"]) == expected
