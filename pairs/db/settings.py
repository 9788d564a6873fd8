"""Values the server keeps in the ``settings`` table (the JWT secret, the cookie secret, the bridge's last visit)."""

from __future__ import annotations

from collections.abc import Callable

from pairs.db.models import Setting


def get_setting(key: str) -> str | None:
    row = Setting.get_or_none(Setting.key == key)
    return row.value if row else None


def set_setting_tx(key: str, value: str) -> None:
    Setting.insert(key=key, value=value).on_conflict(conflict_target=[Setting.key], preserve=[Setting.value]).execute()


def ensure_setting(key: str, make: Callable[[], str]) -> str:
    """The stored value of ``key``; created from ``make()`` the first time (call from the writer or at start)."""
    value = get_setting(key)
    if value is None:
        Setting.insert(key=key, value=make()).on_conflict_ignore().execute()
        value = get_setting(key)
    assert value is not None
    return value
