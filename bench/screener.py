"""Screener speed: ``python bench/screener.py [--symbols 200] [--days 250] [--planted 5]``.

Generates a universe of random walks with a few planted cointegrated pairs (leg2 = hedge × leg1 + an AR(1) noise),
runs the batched screener on it (pairs/screener.py, no database) and prints the wall time, pairs per second, peak
memory and whether the planted pairs come out on top.  The issue's target: 200 symbols × 250 days under 60 s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def universe(symbols: int, days: int, planted: int, seed: int = 42):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-01-02", periods=days, freq="B")
    closes = {f"S{n:03d}": 50 + np.cumsum(rng.normal(0, 1, days)) + 100 for n in range(symbols)}
    pairs = []
    for n in range(planted):
        leg1, leg2 = f"S{2 * n:03d}", f"S{2 * n + 1:03d}"
        noise = np.zeros(days)
        for t in range(1, days):
            noise[t] = 0.5 * noise[t - 1] + rng.normal(0, 0.5)
        closes[leg2] = 0.8 * closes[leg1] + 20 + noise
        pairs.append(frozenset((leg1, leg2)))
    return pd.DataFrame(closes, index=index), pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--planted", type=int, default=5)
    args = parser.parse_args(argv)

    from pairs.screener import screen_closes

    closes, planted = universe(args.symbols, args.days, args.planted)
    started = time.perf_counter()
    results = screen_closes(closes, min_obs=min(120, args.days))
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    top = {frozenset((r.ticker1, r.ticker2)) for r in results[:len(planted)]}
    print(f"{args.symbols} symbols x {args.days} days: {len(results)} pairs ({2 * len(results)} tests) in "
          f"{elapsed:.2f} s = {len(results) / elapsed:,.0f} pairs/s; peak memory {peak_mb:.0f} MB (whole process)")
    print(f"planted pairs in the top {len(planted)}: {len(top & set(planted))}/{len(planted)}; "
          f"best q-value {results[0].qvalue:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
