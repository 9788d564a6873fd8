"""Tickers, pairs and webhook bodies shared by the signal tests (SPEC §6.4's fixture)."""

from __future__ import annotations

from typing import Any

from pairs.db import Pair, Signal, Ticker

# symbol: (sectype, currency, active)
TICKERS_6_4 = {
    "LNT": ("STK", "USD", 1), "FTS": ("STK", "USD", 0), "BF.A": ("STK", "USD", 1), "BF.B": ("STK", "USD", 1),
    "USD.CAD": ("CASH", "CAD", 1), "EUR.USD": ("CASH", "USD", 1), "EUR.JPY": ("CASH", "EUR", 1),
    "BTCUSD": ("CRYPTO", "USD", 1), "SHIBUSD": ("CRYPTO", "USD", 1), "RRPUSD": ("CRYPTO", "BTC", 1),
    "PASV": ("STK", "USD", 0), "WTCH": ("STK", "USD", -1),
}
# name: (hedge, status)
PAIRS_6_4 = {"LNT-FTS": (1.25, 1), "USD.CAD-EUR.USD": (1.0, 1), "BF A-BF B": (0.7, 0), "BTC.USD-SHIB.USD": (1.0, -1)}


def add_instruments(tickers: dict[str, tuple], pairs: dict[str, tuple]) -> None:
    """Run in the writer (``store.write_sync(add_instruments, ...)``)."""
    for symbol, (sectype, currency, active) in tickers.items():
        Ticker.create(symbol=symbol, sectype=sectype, xch="SMART", prixch="NYSE", currency=currency,
                      order_type="RELATIVE", active=active, active_pos=0.0, active_pnl=0.0, active_cost=0.0)
    for name, (hedge, status) in pairs.items():
        first, second = name.split("-")
        Pair.create(name=name, ticker1=first, ticker2=second, hedge=hedge, status=status, notes=None, contracts=10,
                    act_price=0.0, sma=0.0, sma_dist=0.0, std=0.0)


def webhook(ticker: str, **extra: Any) -> dict[str, Any]:
    """The TradingView alert template (Appendix A)."""
    body = {"passphrase": "webhook", "ticker": ticker, "order_action": "buy", "order_contracts": 10,
            "order_price": 1.5, "mar_pos": "long", "mar_pos_size": 10, "pre_mar_pos": "flat",
            "pre_mar_pos_size": 0, "order_comment": "Long"}
    body.update(extra)
    return body


def signal_count() -> int:
    return Signal.select().count()


def newest_signal() -> Signal:
    return Signal.select().order_by(Signal.rowid.desc()).get()
