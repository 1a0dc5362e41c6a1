"""Time the pipeline end to end: smoke and full runs, per notebook and the report build.

Each repetition runs `mnist-study run` and `mnist-study report` as a user would,
into a temporary report folder (report/ is left alone), with the data cache warm.
Writes every sample and the medians to benchmarks/results/pipeline.json.

    python benchmarks/pipeline.py [--smoke-repeats 3] [--full-repeats 1] [--skip-full]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mnist_utils import artifacts, pipeline

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "mnist_utils.cli"]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(CLI + args, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def sample(profile: str) -> dict:
    """One cold-process run of the profile plus the report build, in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{profile}-") as tmp:
        report_dir = Path(tmp) / "report"
        run_s = timed(["run", "--profile", profile, "--report-dir", str(report_dir)])
        report_s = timed(["report", "--report-dir", str(report_dir)])
        record = json.loads((report_dir / "artifacts" / "run.json").read_text())
    return {
        "run_seconds": round(run_s, 2), "report_seconds": round(report_s, 2),
        "total_seconds": round(run_s + report_s, 2),
        "notebook_seconds": {k: v["seconds"] for k, v in record["notebooks"].items()},
    }


def medians(samples: list[dict]) -> dict:
    med = lambda xs: round(statistics.median(xs), 2)  # noqa: E731
    notebooks = samples[0]["notebook_seconds"]
    return {
        "repeats": len(samples),
        "total_seconds": med([s["total_seconds"] for s in samples]),
        "run_seconds": med([s["run_seconds"] for s in samples]),
        "report_seconds": med([s["report_seconds"] for s in samples]),
        "notebook_seconds": {nb: med([s["notebook_seconds"][nb] for s in samples]) for nb in notebooks},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke-repeats", type=int, default=3)
    p.add_argument("--full-repeats", type=int, default=1)
    p.add_argument("--skip-full", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pipeline.json"))
    args = p.parse_args()

    timed(["data"])  # warm cache: the benchmark measures the study, not the download
    # A profile not run this time (--skip-full) keeps its earlier figures, marked with their date.
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    machine = pipeline.environment_record(ROOT)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    profiles = [("smoke", args.smoke_repeats)] + ([] if args.skip_full else [("full", args.full_repeats)])
    for profile, repeats in profiles:
        samples = []
        for i in range(repeats):
            samples.append(sample(profile))
            print(f"{profile} {i + 1}/{repeats}: {samples[-1]['total_seconds']:.1f} s "
                  f"(run {samples[-1]['run_seconds']:.1f} s, report {samples[-1]['report_seconds']:.1f} s) "
                  f"{samples[-1]['notebook_seconds']}", flush=True)
        results[profile] = {"date": now, "machine": machine, "command": " ".join(sys.argv),
                            "median": medians(samples), "samples": samples}
    artifacts.save_json(args.out, results)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
