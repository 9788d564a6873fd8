"""Price sources and symbol mapping (pairs/market.py): the CSV folder, Yahoo through yfinance (offline)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import yfinance

from pairs import market
from pairs.config import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "prices"


@pytest.mark.parametrize("symbol, sectype, override, expected", [
    ("BF B", None, None, "BF-B"),
    ("BF.A", "STK", None, "BF-A"),
    ("USD.CAD", None, None, "USDCAD=X"),
    ("EUR.USD", "CASH", None, "EURUSD=X"),
    ("BTC.USD", None, None, "BTC-USD"),
    ("ETH.USD", "CRYPTO", None, "ETH-USD"),
    ("XYZ.USD", "CRYPTO", None, "XYZ-USD"),
    ("KO", "STK", None, "KO"),
    (" ko ", None, None, "KO"),
    ("RCI B", "STK", "RCI-B.TO", "RCI-B.TO"),  # the override wins over the rule
    ("BF B", None, "  ", "BF-B"),  # a blank override is no override
])
def test_yahoo_symbol(symbol, sectype, override, expected):
    assert market.yahoo_symbol(symbol, sectype, override) == expected


@pytest.mark.parametrize("typed, stored", [
    ("rci-b.to", "RCI-B.TO"), ("  ^GSPC ", "^GSPC"), ("USDCAD=X", "USDCAD=X"), ("M&M.NS", "M&M.NS"), ("", ""),
    ("   ", ""), ("BF B", None), ("<b>", None), ("A" * 41, None), ("A" * 40, "A" * 40), ("KO\n", "KO"),
])
def test_yahoo_override(typed, stored):
    assert market.yahoo_override(typed) == stored


def test_csv_source_reads_daily_dates_and_intraday_utc():
    source = market.CsvFolderSource(FIXTURES)
    daily = source.fetch({"KO": "KO", "BF B": "BF-B", "NOPE": "NOPE"}, market.DAILY)
    assert sorted(daily) == ["BF B", "KO"]  # no file: no data, no error
    ko = daily["KO"]
    assert list(ko.columns) == list(market.BAR_COLUMNS)
    assert len(ko) == 90
    # "2026-10-05 00:00:00-04:00" is the session of 5 October, whatever its offset
    assert ko.index[0] == pd.Timestamp("2026-07-22") and ko.index[-1] == pd.Timestamp("2026-11-24")
    intraday = source.fetch({"KO": "KO"}, market.INTRADAY)["KO"]
    assert intraday.index[0] == pd.Timestamp("2026-11-24 14:30")  # 09:30 -05:00 in UTC
    assert intraday.index[-1] == pd.Timestamp("2026-11-24 20:55")
    assert intraday["Close"].iloc[-1] == ko["Close"].iloc[-1]


def test_csv_source_skips_an_unreadable_file(tmp_path, caplog):
    (tmp_path / "BAD_1d.csv").write_text("Datetime,Open,High,Low,Close,Volume\nnot a date,1,1,1,1,1\n")
    (tmp_path / "NOCLOSE_1d.csv").write_text("Datetime,Open\n2026-11-24 00:00:00-05:00,1\n")
    with caplog.at_level(logging.WARNING, "pairs.market"):
        assert market.CsvFolderSource(tmp_path).fetch({"BAD": "BAD", "NOCLOSE": "NOCLOSE"}, market.DAILY) == {}
    assert "BAD_1d.csv is unreadable" in caplog.text


def test_csv_source_reads_only_files_inside_its_folder(tmp_path):
    """A pair's ticker is chosen by any logged-in user: a name that leads out of the folder is "no data"."""
    folder, secret = tmp_path / "prices", tmp_path / "secret"
    folder.mkdir()
    secret.mkdir()
    day = (FIXTURES / "KO_1d.csv").read_text()
    (secret / "leak_1d.csv").write_text(day)
    (folder / "KO_1d.csv").write_text(day)
    source = market.CsvFolderSource(folder)
    symbols = ["../secret/leak", f"{secret}/leak", "..\\secret\\leak", "KO\x00", "KO"]
    assert sorted(source.fetch({s: s for s in symbols}, market.DAILY)) == ["KO"]


def test_make_price_source(tmp_path):
    assert isinstance(market.make_price_source("yahoo"), market.YahooSource)
    source = market.make_price_source("csv:prices", base_dir=FIXTURES.parent)
    assert isinstance(source, market.CsvFolderSource) and source.folder == FIXTURES
    with pytest.raises(ConfigError, match="does not exist"):
        market.make_price_source(f"csv:{tmp_path}/missing")
    with pytest.raises(ConfigError, match="'yahoo' or 'csv:PATH'"):
        market.make_price_source("bloomberg")


# ---------------------------------------------------------------------------------------------------------------
# Yahoo: yfinance.download itself is replaced by recordings shaped as yfinance 1.7 returns them, so the code path
# that runs in production (YahooSource importing yfinance and calling yfinance.download) runs here, offline.

PRICE_COLUMNS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


def recorded_download(tickers: list[str], interval: str) -> pd.DataFrame:
    """What yf.download(tickers, group_by='column', auto_adjust=False) returns, built from the fixture CSVs."""
    frames = {}
    files = {"KO": "KO", "PEP": "PEP", "BF-B": "BF B"}
    for ticker in tickers:
        if ticker not in files:
            frames[ticker] = pd.DataFrame(columns=PRICE_COLUMNS, dtype="float64")
            continue
        raw = pd.read_csv(FIXTURES / f"{files[ticker]}_{interval}.csv")
        if interval == market.DAILY:  # yfinance makes daily indexes naive
            index = pd.DatetimeIndex(pd.to_datetime(raw["Datetime"].str[:10]), name="Date")
        else:
            index = pd.DatetimeIndex(pd.to_datetime(raw["Datetime"], utc=True), name="Datetime").tz_convert(
                "America/New_York")
        frame = raw.drop(columns="Datetime").set_index(index)
        frame["Adj Close"] = frame["Close"]
        frames[ticker] = frame[PRICE_COLUMNS]
    union = None
    for frame in frames.values():
        if len(frame):
            union = frame.index if union is None else union.union(frame.index)
    frames = {t: f.reindex(union) if union is not None else f for t, f in frames.items()}
    data = pd.concat(frames.values(), axis=1, keys=frames.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


@pytest.fixture
def yf_calls(monkeypatch):
    calls = []

    def fake_download(tickers, **kwargs):
        calls.append((sorted(tickers), kwargs))
        return recorded_download(list(tickers), kwargs["interval"])

    monkeypatch.setattr(yfinance, "download", fake_download)
    return calls


def test_yahoo_source_one_batched_download_mapped_symbols(yf_calls):
    source = market.YahooSource()
    got = source.fetch({"KO": "KO", "PEP": "PEP", "BF B": "BF-B", "ZZZ": "ZZZ"}, market.DAILY)
    assert sorted(got) == ["BF B", "KO", "PEP"]  # keyed by the leg symbol; ZZZ had an empty frame: no data
    assert len(yf_calls) == 1
    tickers, kwargs = yf_calls[0]
    assert tickers == ["BF-B", "KO", "PEP", "ZZZ"]
    assert kwargs["progress"] is False and kwargs["interval"] == "1d" and kwargs["period"] == "1y"
    csv = market.CsvFolderSource(FIXTURES).fetch({"BF B": "BF-B"}, market.DAILY)["BF B"]
    pd.testing.assert_frame_equal(got["BF B"], csv)


def test_yahoo_caches_go_to_the_given_folder(yf_calls, monkeypatch, tmp_path):
    chosen = []
    monkeypatch.setattr(yfinance, "set_tz_cache_location", chosen.append)
    market.make_price_source("yahoo", cache_dir=tmp_path / "yfinance").fetch({"KO": "KO"}, market.DAILY)
    assert chosen == [str(tmp_path / "yfinance")]


def test_yahoo_intraday_is_stored_in_utc(yf_calls):
    got = market.YahooSource().fetch({"KO": "KO"}, market.INTRADAY)
    assert got["KO"].index[0] == pd.Timestamp("2026-11-24 14:30")
    assert yf_calls[0][1]["period"] == "5d"


def test_yahoo_offline_is_no_data_without_raising(monkeypatch):
    """Offline, yf.download returns an empty frame (and logs); a raising download is no data as well."""
    empty = pd.DataFrame(columns=pd.MultiIndex.from_product([PRICE_COLUMNS, ["KO", "PEP"]],
                                                            names=["Price", "Ticker"]))

    def offline(tickers, **kwargs):
        logging.getLogger("yfinance").error("['KO', 'PEP']: DNSError('Failed to perform, curl: (6) Could not "
                                            "resolve host: query2.finance.yahoo.com')")
        return empty

    monkeypatch.setattr(yfinance, "download", offline)
    sleeps = []
    source = market.YahooSource(sleep=sleeps.append)
    assert source.fetch({"KO": "KO", "PEP": "PEP"}, market.DAILY) == {}
    assert sleeps == []  # not a rate limit: no retry

    def broken(tickers, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(yfinance, "download", broken)
    assert market.YahooSource(sleep=sleeps.append).fetch({"KO": "KO"}, market.INTRADAY) == {}
    assert sleeps == []


def test_yahoo_rate_limit_is_retried_with_backoff(monkeypatch):
    attempts = []

    def limited(tickers, **kwargs):
        attempts.append(sorted(tickers))
        if len(attempts) < 3:
            logging.getLogger("yfinance").error(
                "['PEP']: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')")
            return recorded_download(["KO", "PEP-limited"], kwargs["interval"]).rename(
                columns={"PEP-limited": "PEP"})
        return recorded_download(list(tickers), kwargs["interval"])

    monkeypatch.setattr(yfinance, "download", limited)
    sleeps = []
    got = market.YahooSource(backoff_sec=2, sleep=sleeps.append).fetch({"KO": "KO", "PEP": "PEP"}, market.DAILY)
    assert sorted(got) == ["KO", "PEP"]
    assert attempts == [["KO", "PEP"], ["PEP"], ["PEP"]]  # only what is missing is asked again
    assert sleeps == [2, 4]


def test_yahoo_rate_limit_exception_gives_up_after_retries(monkeypatch):
    from yfinance.exceptions import YFRateLimitError

    def always_limited(tickers, **kwargs):
        raise YFRateLimitError()

    monkeypatch.setattr(yfinance, "download", always_limited)
    sleeps = []
    assert market.YahooSource(retries=3, backoff_sec=1, sleep=sleeps.append).fetch({"KO": "KO"}, "1d") == {}
    assert sleeps == [1, 2, 4]
