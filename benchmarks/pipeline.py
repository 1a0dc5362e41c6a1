"""Time the pipeline as a user meets it: cold runs, runs with nothing changed, text edits.

Each sample works on a copy of notebooks/ and a temporary report folder (the
project's report/ is left alone), with the data cache warm, and runs the CLI
as `make report LANGUAGE=all` does (`mnist-study run`, then `mnist-study report
--language all`, which builds the English and the Chinese edition side by side):

- cold: a fresh report folder, every notebook executed, both editions' HTML and PDF built;
- no change: the same commands again, which should execute and build nothing;
- text edit: one sentence added to a markdown cell of notebook 04, then the
  same commands, which splice the text in, render it and rebuild both editions;
- translation edit: one sentence added to a Chinese translation of notebook 04
  (notebooks/zh/), then the same commands, which render it and rebuild both editions
  (the English one finds nothing changed).

Writes every sample and the medians to benchmarks/results/pipeline.json, with this
machine's matrix-multiply peak (float32, and bfloat16 where the CPU has bfloat16
instructions) measured in the same run, and for each notebook the floating-point
operations of its training (counted by the notebooks' training functions, recorded
in run.json), the rate it achieved and the fraction of the float32 peak that is.

    python benchmarks/pipeline.py [--smoke-repeats 3] [--full-repeats 1] [--warm-repeats 3] [--skip-full]
                                  [--keep-report DIR]

``--keep-report DIR`` copies the report folder of the first cold build of the last
profile run (the full one when both run): executed notebooks, artifacts, HTML and
PDF, into DIR, replacing what has the same names, so a long full run also serves as
the report to read (``--keep-report report``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from mnist_utils import artifacts
from mnist_utils.book import pipeline

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "mnist_utils.book.cli"]
EDITED = "04_regularization"


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(CLI + args, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def build(profile: str, notebooks: Path, report_dir: Path) -> tuple[float, float]:
    """`mnist-study run`, then `mnist-study report --language all`: their seconds."""
    run_s = timed(["run", "--profile", profile, "--notebooks", str(notebooks), "--report-dir", str(report_dir)])
    return run_s, timed(["report", "--report-dir", str(report_dir), "--language", "all"])


def matmul_gflops(dtype: str, n: int = 2048, repeats: int = 7) -> float:
    """The best of ``repeats`` timed n x n TensorFlow matrix products, in GFLOP/s (2 n³ per product)."""
    from mnist_utils import backend

    tf = backend.tensorflow()
    a = tf.cast(tf.random.stateless_normal((n, n), seed=(0, 0)), dtype)
    product = tf.function(lambda x: tf.linalg.matmul(x, x))
    product(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def peaks() -> dict:
    """This machine's float32 matmul peak, and bfloat16's where the CPU has instructions for it."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    bf16 = any(f in flags for f in ("avx512_bf16", "amx_bf16"))
    return {
        "float32": round(matmul_gflops("float32"), 1),
        "bfloat16": round(matmul_gflops("bfloat16"), 1) if bf16 else None,
    }


def efficiency(seconds: dict, flops: dict, peak: float, cores: dict | None = None) -> dict:
    """Per notebook that trains: its training TFLOP, the GFLOP/s it achieved over its wall time,
    and that rate as a fraction of the float32 ``peak`` of the cores it ran on (``cores``: per
    notebook, from run.json; the peak is all cores', so a notebook on one of two gets half)."""
    used = {nb: (cores or {}).get(nb) or os.cpu_count() for nb in seconds}
    return {
        nb: {
            "training_tflop": round(flops[nb] / 1e12, 3),
            "gflops_per_s": round(flops[nb] / seconds[nb] / 1e9, 1),
            "cores": used[nb],
            "fraction_of_peak": round(flops[nb] / seconds[nb] / 1e9 / (peak * used[nb] / os.cpu_count()), 3),
        }
        for nb in seconds
        if flops.get(nb)
    }


def add_sentence(path: Path, n: int) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += f"\n\nAn edited sentence, number {n}."
    nbformat.write(nb, path)


def add_translated_sentence(notebook: Path, n: int) -> None:
    """Add a sentence to the first Chinese entry of a notebook's translation file."""
    from mnist_utils.book import translations

    entries = translations.load_translations(notebook, "zh")
    first = next(iter(entries))
    entries[first]["text"] += f"\n\n后来改过的一句话，第 {n} 句。"
    translations.translations_path(notebook, "zh").write_text(
        translations.dump_translations(entries, "zh", notebook.name), encoding="utf-8"
    )


def keep_report(report_dir: Path, keep: Path) -> None:
    """Copy every entry of ``report_dir`` into ``keep``, replacing entries of the same name.

    Entry by entry, so that what else ``keep`` holds (report/'s tracked .gitkeep) stays.
    """
    keep.mkdir(parents=True, exist_ok=True)
    for entry in report_dir.iterdir():
        target = keep / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        if entry.is_dir():
            shutil.copytree(entry, target)
        else:
            shutil.copy2(entry, target)


def sample(profile: str, warm_repeats: int, keep: Path | None = None) -> dict:
    """One cold build, then the warm scenarios ``warm_repeats`` times each, in a fresh folder.

    ``keep``: where to copy the cold build's report folder (see :func:`keep_report`),
    before the warm scenarios edit its text.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{profile}-") as tmp:
        notebooks, report_dir = Path(tmp) / "notebooks", Path(tmp) / "report"
        shutil.copytree(ROOT / "notebooks", notebooks)
        try:
            run_s, report_s = build(profile, notebooks, report_dir)
        except subprocess.CalledProcessError as e:
            # The notebooks that finished may have taken most of an hour: keep them for --only.
            kept = Path(tempfile.mkdtemp(prefix=f"bench-{profile}-failed-"))
            shutil.copytree(report_dir, kept / "report")
            raise SystemExit(
                f"{profile} build failed (see the error above); its report folder is kept in "
                f"{kept / 'report'}: `mnist-study run --profile {profile} --report-dir "
                f"{kept / 'report'}` runs only what did not finish"
            ) from e
        if keep is not None:
            keep_report(report_dir, keep)
        record = json.loads((report_dir / "artifacts" / "run.json").read_text())
        unchanged, edited, translated = [], [], []
        for i in range(warm_repeats):
            unchanged.append(round(sum(build(profile, notebooks, report_dir)), 2))
            add_sentence(notebooks / f"{EDITED}.ipynb", i)
            edited.append(round(sum(build(profile, notebooks, report_dir)), 2))
            states = json.loads((report_dir / "artifacts" / "run.json").read_text())["this_run"]
            assert states[EDITED] == "refreshed", states  # the text edit executed nothing
            add_translated_sentence(notebooks / f"{EDITED}.ipynb", i)
            record_bytes = (report_dir / "artifacts" / "run.json").read_bytes()
            translated.append(round(sum(build(profile, notebooks, report_dir)), 2))
            # The run record is rewritten only when a notebook executes or its text is refreshed.
            assert (report_dir / "artifacts" / "run.json").read_bytes() == record_bytes
    return {
        "run_seconds": round(run_s, 2),
        "report_seconds": round(report_s, 2),
        "total_seconds": round(run_s + report_s, 2),
        "notebook_seconds": {k: v["seconds"] for k, v in record["notebooks"].items()},
        "notebook_flops": {k: v.get("training_flops") for k, v in record["notebooks"].items()},
        "notebook_cores": {k: v.get("cores") for k, v in record["notebooks"].items()},
        "no_change_seconds": unchanged,
        "text_edit_seconds": edited,
        "translation_edit_seconds": translated,
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
        "no_change_seconds": med([x for s in samples for x in s["no_change_seconds"]]),
        "text_edit_seconds": med([x for s in samples for x in s["text_edit_seconds"]]),
        "translation_edit_seconds": med([x for s in samples for x in s["translation_edit_seconds"]]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke-repeats", type=int, default=3, help="cold smoke builds")
    p.add_argument("--full-repeats", type=int, default=1, help="cold full builds")
    p.add_argument("--warm-repeats", type=int, default=3, help="no-change and text-edit rebuilds per cold build")
    p.add_argument("--skip-full", action="store_true")
    p.add_argument("--skip-smoke", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pipeline.json"))
    p.add_argument("--keep-report", type=Path, help="copy the first cold build's report folder into this one")
    args = p.parse_args()

    timed(["data"])  # warm cache: the benchmark measures the study, not the download
    peak = peaks()
    print(f"matmul peak: {peak} GFLOP/s", flush=True)
    # A profile not run this time keeps its earlier figures, marked with their date.
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    machine = pipeline.environment_record(ROOT)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    profiles = ([] if args.skip_smoke else [("smoke", args.smoke_repeats)]) + (
        [] if args.skip_full else [("full", args.full_repeats)]
    )
    for profile, repeats in profiles:
        samples = []
        for i in range(repeats):
            keep = args.keep_report if i == 0 and profile == profiles[-1][0] else None
            samples.append(sample(profile, args.warm_repeats, keep))
            s = samples[-1]
            print(
                f"{profile} {i + 1}/{repeats}: cold {s['total_seconds']:.1f} s (run {s['run_seconds']:.1f} s, "
                f"report {s['report_seconds']:.1f} s) {s['notebook_seconds']}; no change {s['no_change_seconds']} s; "
                f"text edit {s['text_edit_seconds']} s; translation edit {s['translation_edit_seconds']} s",
                flush=True,
            )
        median = medians(samples)
        median["efficiency"] = efficiency(
            median["notebook_seconds"], samples[0]["notebook_flops"], peak["float32"], samples[0].get("notebook_cores")
        )
        results[profile] = {
            "date": now,
            "machine": machine,
            "command": " ".join(sys.argv),
            "peak_gflops": peak,
            "median": median,
            "samples": samples,
        }
        artifacts.save_json(args.out, results)  # after each profile, so a long run keeps what it measured
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
