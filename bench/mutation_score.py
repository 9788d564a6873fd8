"""Mutation score per module after `mutmut run` (`make mutate`, docs/mutation.md).

Reads mutmut's results in mutants/ and prints, per mutated module, how many mutants the tests killed. A survivor is
fine only when docs/mutation.md names it as equivalent. Exit status 1 when a module is under 90 % killed or a
survivor is not listed there.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90
KILLED = {1, 3, 24, 36, 37, 152, 255, -24}  # mutmut's exit codes for killed, timeout and type-check catches


def main() -> int:
    listed = set(re.findall(r"`(pairs\.\w+\.\w+__mutmut_\d+)`", (ROOT / "docs" / "mutation.md").read_text()))
    metas = sorted((ROOT / "mutants" / "pairs").glob("*.py.meta"))
    if not metas:
        print("no mutmut results in mutants/: run `make mutate`")
        return 1
    ok = True
    print(f"{'module':<20} {'mutants':>7} {'killed':>7} {'score':>7}  survivors not listed in docs/mutation.md")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        killed = sum(code in KILLED for code in codes.values())
        unlisted = sorted(name for name, code in codes.items() if code not in KILLED and name not in listed)
        score = killed / len(codes) if codes else 1.0
        ok = ok and score >= TARGET and not unlisted
        module = "pairs/" + meta.name.removesuffix(".meta")
        print(f"{module:<20} {len(codes):>7} {killed:>7} {score:>7.1%}  {' '.join(unlisted) or '-'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
