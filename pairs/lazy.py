"""Heavy libraries imported on first use.

pandas and numpy take about 40 MB and half a second to import; the server answers webhooks and pages without them
and loads them only when a price or statistics job first runs (tests/test_server.py checks that a webhook does not).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for a module until one of its attributes is read, then imports it (``sys.modules`` has it from then)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)
