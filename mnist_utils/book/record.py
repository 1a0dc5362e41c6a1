"""The run record, ``report/artifacts/run.json``: what each notebook last ran with and made. It says
why a notebook must run again, which profile a run without ``--profile`` uses, and whether the
executed notebooks still agree with one another, which the report requires."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mnist_utils.book import cache
from mnist_utils.book.notebooks import Layout

# Why a notebook runs, for the log: the input names of ``cache.notebook_inputs``.
INPUT_NAMES = {
    "code": "its code",
    "markdown": "its text",
    "parameters": "its parameters",
    "modules": "the mnist_utils code it imports",
    "data": "the data",
    "environment": "package versions or GPUs",
    "reads": "the upstream artifacts it reads",
}


def outputs_digest(layout: Layout, stem: str) -> str:
    """Digest of a notebook's executed code cells (source and outputs) and artifacts, to notice
    them deleted or edited. Its prose is left out: rendering rewrites that at every run."""
    import nbformat

    path = layout.executed / f"{stem}.ipynb"
    executed = None
    if path.is_file():
        try:
            cells = nbformat.read(path, as_version=4).cells
            executed = cache.digest([[c.source, c.get("outputs", [])] for c in cells if c.cell_type == "code"])
        except Exception:  # an unreadable copy is simply not up to date
            executed = "unreadable"
    return cache.digest({"executed": executed, "artifacts": cache.tree_digest(layout.artifacts / stem)})


def why_run(inputs: dict, previous: dict, outputs: str, forced: str | None) -> str | None:
    """Why a notebook must run: a reason for the log, ``"text"`` when only its markdown
    changed, or None when it is up to date."""
    if forced:
        return forced
    if not previous.get("inputs"):
        return "no successful run on record"
    if previous.get("outputs") != outputs:
        return "its executed notebook or artifacts are missing or were changed"
    changed = cache.changed(previous["inputs"], inputs)
    if changed == ["markdown"]:
        return "text"
    if changed:
        return "changed: " + ", ".join(INPUT_NAMES.get(k, k) for k in changed)
    return None


def last_profile(record: dict) -> str | None:
    """The profile of the last notebook that ran in a run record, None if none ran. Records
    written before the runner kept ``profile`` give it from their latest finished notebook."""
    if record.get("profile"):
        return record["profile"]
    runs = [r for r in record.get("notebooks", {}).values() if r.get("profile")]
    return max(runs, key=lambda r: r.get("finished", ""))["profile"] if runs else None


def choose_profile(layout: Layout, requested: str | None) -> tuple[str, str | None]:
    """The profile a run uses and the line that says so (None when there is nothing to say).

    Without ``--profile``, the one the report folder's last run used, else the full profile,
    with a word on its cost. A profile other than the last one is allowed and named.
    """
    previous = last_profile(read(layout.run_record))
    folder = os.path.relpath(layout.report) if layout.report.is_relative_to(Path.cwd()) else str(layout.report)
    if requested is None and previous:
        return previous, (f"Profile: {previous}, the one the last run in {folder}/ used (--profile NAME for another).")
    if requested is None:
        return "full", (
            "Profile: full, the study as reported: tens of minutes on a laptop's CPU. "
            "`mnist-study run --profile smoke` runs every notebook in a few minutes instead, "
            "with numbers that are not results."
        )
    if previous and requested != previous:
        return requested, (
            f"Profile: {requested}; the last run in {folder}/ used {previous}, "
            f"whose results the notebooks that run now replace."
        )
    return requested, None


def disagreements(layout: Layout, record: dict) -> list[str]:
    """Why the executed notebooks a run record lists would not make one consistent report:
    a notebook that ran before an upstream artifact it reads last changed (its prose and
    figures cite the old values), or notebooks from different profiles. Empty if none."""
    import nbformat

    runs = record.get("notebooks", {})
    problems = []
    for stem, entry in runs.items():
        path = layout.executed / f"{stem}.ipynb"
        recorded = entry.get("inputs", {}).get("reads")
        if not path.is_file() or recorded is None:
            continue
        try:
            reads = cache.declared_reads(nbformat.read(path, as_version=4))
        except Exception:  # an unreadable copy: nothing to compare; the build names it
            continue
        now = cache.reads_digest(layout.artifacts, reads)
        if cache.digest(now) != recorded:
            before = entry.get("read_digests")  # which ones changed (records from before it: all are named)
            upstream = sorted({rel.split("/")[0] for rel in reads if before is None or before.get(rel) != now[rel]})
            problems.append(
                f"{stem} ran before the artifacts it reads from {', '.join(upstream)} last changed, "
                f"so its text and figures cite their old values"
            )
    profiles: dict[str, list[str]] = {}
    for stem, entry in runs.items():
        profiles.setdefault(entry.get("profile", "?"), []).append(stem)
    if len(profiles) > 1:
        problems.append(
            "the notebooks ran with different profiles ("
            + "; ".join(f"{p}: {', '.join(stems)}" for p, stems in profiles.items())
            + ")"
        )
    return problems


def read(path: Path) -> dict:
    """A JSON file's object, {} if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
