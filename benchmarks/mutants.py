"""Mutation testing of the modules that judge (``make mutants``): papers, validation and evaluation.

mutmut (settings: ``[tool.mutmut]`` in pyproject.toml) changes one thing at a time in those modules
(a ``>=`` into ``>``, a constant, a key) and runs their fast unit tests against each change; a
change that no test notices ("survived") marks a rule whose tests cannot fail. This script runs it
from a clean ``mutants/`` folder and writes ``benchmarks/results/mutants.json``: the counts, and
every mutant no test killed with its diff and, where ``benchmarks/mutants_explained.yaml`` explains
it (an equivalent change, such as ``dtype=None`` where the input is already that type), why.

A mutant that times out counts as detected. Exit status: 1 if a mutant survived, or had no test,
without an explanation.
Usage: python benchmarks/mutants.py [--max-children N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPLAINED = ROOT / "benchmarks" / "mutants_explained.yaml"
RESULT = ROOT / "benchmarks" / "results" / "mutants.json"
# Its console script, not `python -m mutmut`: the mutants import mutmut.__main__, which must not be
# the running script as well.
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
# A mutant that makes the tests run past mutmut's time limit is detected, as mutation-testing tools
# count it; re-running one alone is no way out (mutmut then forgets the others' results).
DETECTED = ("killed", "timeout")


def mutmut(*args: str) -> str:
    done = subprocess.run([MUTMUT, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def results() -> dict[str, str]:
    """Each mutant's state ("killed", "survived", "timeout", "no tests"), by name."""
    return {
        m.group(1): m.group(2)
        for line in mutmut("results", "--all", "true").splitlines()
        if (m := re.fullmatch(r"\s*(\S+): (.+)", line))
    }


def changed_lines(name: str) -> tuple[str, str]:
    """The line a mutant removes and the line it puts in its place (stripped), from ``mutmut show``."""
    diff = mutmut("show", name).splitlines()
    removed = [line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # mutmut reuses what it finds there
    subprocess.run(
        [MUTMUT, "run", "--max-children", str(args.max_children)], cwd=ROOT, stdout=subprocess.DEVNULL, check=True
    )
    status = results()
    explained = yaml.safe_load(EXPLAINED.read_text(encoding="utf-8")) or []
    unkilled = []
    for name, state in sorted(status.items()):
        if state in DETECTED:
            continue
        function = re.sub(r"\.x_(\w+?)__mutmut_\d+$", r".\1", name).removeprefix("mnist_utils.")
        removed, added = changed_lines(name)
        why = next((e["why"] for e in explained if e["function"] == function and e["mutant"] == added), None)
        unkilled.append(
            {"mutant": name, "state": state, "function": function, "from": removed, "to": added, "explained": why}
        )
    counts = {state: sum(s == state for s in status.values()) for state in sorted(set(status.values()))}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "commit": commit,
                "modules": ["mnist_utils/papers.py", "mnist_utils/validation.py", "mnist_utils/evaluation.py"],
                "mutants": len(status),
                "counts": counts,
                "score": round(sum(counts.get(s, 0) for s in DETECTED) / max(len(status), 1), 4),
                "unexplained": sum(u["explained"] is None for u in unkilled),
                "not_killed": unkilled,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    left = [u for u in unkilled if u["explained"] is None]
    print(
        f"{len(status)} mutants: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; {len(left)} not killed and not explained (details: {RESULT.relative_to(ROOT)})"
    )
    for u in left:
        print(f"  {u['mutant']} ({u['state']}): {u['from']}  ->  {u['to']}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
