"""The models: one class per table, with the original's table and column names (SPEC Part 2), then ours.

``MODELS`` lists every model in the order ``migrate`` (pairs/db/migrate.py) creates their tables; a model defined
anywhere else would not be migrated (tests/test_models.py).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import peewee
from peewee import (
    SQL,
    AutoField,
    DatabaseProxy,
    DateTimeField,
    DoubleField,
    Field,
    IntegerField,
    Model,
    TextField,
)

database = DatabaseProxy()


def utcnow() -> dt.datetime:
    """Naive UTC, whole seconds: how every timestamp is stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# ---------------------------------------------------------------------------------------------------------------
# Models: table and column names of the original (SPEC Part 2), then ours.


class Varchar(Field):
    """VARCHAR with an optional length, as SQLAlchemy declared it (``String`` has no length)."""

    field_type = "VARCHAR"

    def __init__(self, max_length: int | None = None, *args, **kwargs):
        self.max_length = max_length
        super().__init__(*args, **kwargs)

    def get_modifiers(self):
        return [self.max_length] if self.max_length else None

    def db_value(self, value):
        return value if value is None else str(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Signal(BaseModel):
    rowid = AutoField(column_name="rowid")
    timestamp = DateTimeField(null=True, constraints=[SQL("DEFAULT CURRENT_TIMESTAMP")])
    ticker = Varchar(null=True)
    order_action = Varchar(null=True)
    order_contracts = IntegerField(null=True)
    order_price = DoubleField(null=True)
    mar_pos = Varchar(null=True)
    mar_pos_size = IntegerField(null=True)
    pre_mar_pos = Varchar(null=True)
    pre_mar_pos_size = IntegerField(null=True)
    order_comment = Varchar(null=True)
    order_status = Varchar(null=True)
    ticker_type = Varchar(null=True)
    ticker1 = Varchar(null=True)
    ticker2 = Varchar(null=True)
    hedge_param = DoubleField(null=True)
    order_id1 = IntegerField(null=True)
    order_id2 = IntegerField(null=True)
    price1 = DoubleField(null=True)
    price2 = DoubleField(null=True)
    fill_price = DoubleField(null=True)
    slip = DoubleField(null=True)
    error_msg = Varchar(null=True)
    status_msg = Varchar(null=True)

    class Meta:
        table_name = "signals"
        # Every list is "equality on these columns, ORDER BY rowid DESC LIMIT n": with rowid last in the index
        # both SQLite and PostgreSQL walk it backwards and stop after n rows (pairs/signals.py).
        indexes = (
            (("order_status", "rowid"), False),
            (("ticker1", "ticker2", "rowid"), False),
            (("ticker1", "ticker_type", "rowid"), False),
            (("order_id1",), False),
            (("order_id2",), False),
            (("timestamp",), False),
            # the continuity check's "previous alert of this instrument" by time (pairs/continuity.py)
            (("ticker1", "ticker_type", "timestamp", "rowid"), False),
            (("ticker1", "ticker2", "timestamp", "rowid"), False),
        )


class Ticker(BaseModel):
    rowid = AutoField(column_name="rowid")
    symbol = Varchar(40, unique=True)
    sectype = Varchar(20, null=True)
    xch = Varchar(40, null=True)
    prixch = Varchar(40, null=True)
    currency = Varchar(20, null=True)
    order_type = Varchar(20, null=True)
    active = IntegerField(null=True)
    active_pos = DoubleField(null=True)
    active_pnl = DoubleField(null=True)
    active_cost = DoubleField(null=True)
    yahoo_symbol = Varchar(40, null=True)  # ours: overrides the IB -> Yahoo spelling rule of pairs.market

    class Meta:
        table_name = "tickers"


class Pair(BaseModel):
    rowid = AutoField(column_name="rowid")
    name = Varchar(81, unique=True)
    ticker1 = Varchar(51, null=True)
    ticker2 = Varchar(51, null=True)
    hedge = DoubleField(null=True)
    status = IntegerField(null=True)
    notes = Varchar(null=True)
    contracts = IntegerField(null=True)
    act_price = DoubleField(null=True)
    sma = DoubleField(null=True)
    sma_dist = DoubleField(null=True)
    std = DoubleField(null=True)
    # ours, written by the price job (pairs.jobs); NULL until a run computed them
    zscore = DoubleField(null=True)
    hedge_ols = DoubleField(null=True)
    coint_pvalue = DoubleField(null=True)
    stats_updated = DateTimeField(null=True)
    stale = IntegerField(null=True)  # 1: the last run had no prices for a leg, the values above are older
    half_life = DoubleField(null=True)  # days, at the configured hedge (pairs.stats)
    spread_adf_pvalue = DoubleField(null=True)
    corr = DoubleField(null=True)

    class Meta:
        table_name = "pairs"


class Account(BaseModel):
    rowid = AutoField(column_name="rowid")
    timestamp = DateTimeField(null=True, constraints=[SQL("DEFAULT CURRENT_TIMESTAMP")])
    AvailableFunds = DoubleField(null=True, column_name="AvailableFunds")
    BuyingPower = DoubleField(null=True, column_name="BuyingPower")
    DailyPnL = DoubleField(null=True, column_name="DailyPnL")
    GrossPositionValue = DoubleField(null=True, column_name="GrossPositionValue")
    MaintMarginReq = DoubleField(null=True, column_name="MaintMarginReq")
    NetLiquidation = DoubleField(null=True, column_name="NetLiquidation")
    RealizedPnL = DoubleField(null=True, column_name="RealizedPnL")
    UnrealizedPnL = DoubleField(null=True, column_name="UnrealizedPnL")

    class Meta:
        table_name = "account"


def new_token_stamp() -> str:
    return secrets.token_hex(16)


class User(BaseModel):
    rowid = AutoField(column_name="rowid")
    username = Varchar(80, unique=True)
    password = Varchar(80, null=True)  # a bcrypt hash; plain text in a database of the original until first login
    is_admin = IntegerField(null=True, default=0)  # ours
    # ours: a random value that every token of this account carries; a new one on each password change, and a
    # new account of the same name has its own, so older tokens stop working (A.5).  NULL until the first start.
    token_stamp = Varchar(32, null=True, default=new_token_stamp)

    class Meta:
        table_name = "users"


class SimpleSession(BaseModel):
    """The original's dashboard session table; ours keeps one row per dashboard login (value = session id)."""

    rowid = AutoField(column_name="rowid")
    value = Varchar(80, unique=True)
    expiry = DateTimeField(null=True)
    username = Varchar(80, null=True)  # ours

    class Meta:
        table_name = "simplesession"


class RevokedToken(BaseModel):
    jti = Varchar(64, primary_key=True)
    expires = DateTimeField(index=True)

    class Meta:
        table_name = "revoked_tokens"


class Setting(BaseModel):
    """Values the server generates once and keeps: the JWT secret, the cookie secret."""

    key = Varchar(80, primary_key=True)
    value = TextField()

    class Meta:
        table_name = "settings"


class DeliveryLog(BaseModel):
    """Every request that reached a passphrase endpoint, accepted or rejected (SPEC A.2)."""

    id = AutoField()
    received = DateTimeField(index=True)
    peer = Varchar(64, null=True)
    method = Varchar(10)
    route = Varchar(200)
    content_type = Varchar(200, null=True)
    size = IntegerField()
    status = IntegerField()
    body = TextField(null=True)  # NULL: not read (refused for its size, or before it came)
    message = TextField(null=True)  # the answer's message (and detail): why a 400 was a 400

    class Meta:
        table_name = "delivery_log"


# ---------------------------------------------------------------------------------------------------------------
# Ours, each the table of one module: continuity findings (pairs/continuity.py), price bars (pairs/market.py),
# job runs (pairs/jobs.py), screener runs and results (pairs/screener.py).


class Finding(BaseModel):
    """One gap or duplicate: the signal found (``signal``) and the one it was checked against (``previous``)."""

    id = AutoField()
    signal = IntegerField(column_name="signal_rowid")
    previous = IntegerField(column_name="previous_rowid")
    kind = Varchar(10)
    name = Varchar(120)
    expected_pos = Varchar(20)
    expected_size = IntegerField()
    actual_pos = Varchar(20)
    actual_size = IntegerField()
    found = DateTimeField()
    notified = DateTimeField(null=True, index=True)  # when the e-mail alert went out
    reviewed = IntegerField(default=0)
    reviewed_by = Varchar(80, null=True)
    reviewed_at = DateTimeField(null=True)

    class Meta:
        table_name = "continuity_findings"
        indexes = (
            (("signal_rowid", "kind"), False),  # the previous-signal lookup's duplicate probe, the pages' badges
            (("reviewed", "id"), False),  # the header's count of open findings
        )


class PriceBar(BaseModel):
    """One bar of one leg symbol (as spelled in the pairs) at one interval."""

    id = AutoField()
    symbol = Varchar(51)
    interval = Varchar(8)
    time = DateTimeField()
    open = DoubleField(null=True)
    high = DoubleField(null=True)
    low = DoubleField(null=True)
    close = DoubleField()
    volume = DoubleField(null=True)

    class Meta:
        table_name = "price_bars"
        indexes = ((("symbol", "interval", "time"), True),)


class JobRun(BaseModel):
    """One run of a background job: when, how many pairs, which failed and why."""

    id = AutoField()
    job = Varchar(20)
    started = DateTimeField(index=True)
    finished = DateTimeField(null=True)
    pairs = IntegerField(default=0)  # pairs considered (signals considered, for the e-mail job)
    updated = IntegerField(default=0)  # pairs updated (e-mails sent)
    failed = TextField(null=True)  # JSON object: pair name (or "smtp") -> reason
    message = TextField(null=True)

    class Meta:
        table_name = "job_runs"


class ScreenerRun(BaseModel):
    id = AutoField()
    job_run = IntegerField(null=True)  # its row in job_runs
    started = DateTimeField(index=True)
    finished = DateTimeField(null=True)
    window = IntegerField()
    symbols = IntegerField(default=0)
    pairs_tested = IntegerField(default=0)

    class Meta:
        table_name = "screener_runs"


class ScreenerResult(BaseModel):
    id = AutoField()
    run = IntegerField()
    ticker1 = Varchar(51)  # the dependent leg of the direction kept
    ticker2 = Varchar(51)
    hedge = DoubleField()
    pvalue = DoubleField()
    qvalue = DoubleField(null=True)
    half_life = DoubleField(null=True)
    zscore = DoubleField(null=True)
    corr = DoubleField(null=True)
    nobs = IntegerField()

    class Meta:
        table_name = "screener_results"
        indexes = ((("run", "pvalue"), False),)


ORIGINAL_MODELS: tuple[type[BaseModel], ...] = (Signal, Ticker, Pair, Account, User, SimpleSession)
MODELS: tuple[type[BaseModel], ...] = (*ORIGINAL_MODELS, RevokedToken, Setting, DeliveryLog, Finding, PriceBar, JobRun,
                                       ScreenerRun, ScreenerResult)


# ---------------------------------------------------------------------------------------------------------------
# Hot paths


class PreparedQuery:
    """SQL that peewee builds once per kind of database, then runs with fresh parameters.

    For hot paths (the webhook: bench/webhooks.py): building a statement's SQL text costs more than running it.
    """

    def __init__(self, build: Callable[[], peewee.Query]):
        self.build = build
        self._sql: dict[type, str] = {}

    def execute(self, params: Iterable[Any]) -> Any:
        db = database.obj
        sql = self._sql.get(type(db))
        if sql is None:
            sql = self._sql[type(db)] = self.build().sql()[0]
        return db.execute_sql(sql, tuple(params))
