"""pairs: the domain of the trading-signal server (no Tornado here)."""

__version__ = "0.1.0"
