"""Run the study's notebooks in order with papermill, from a parameter profile.

Notebooks are discovered by their ``NN_`` prefix. Before anything runs, the
profile is checked against every notebook's ``parameters`` cell. A notebook
whose inputs (``cache.notebook_inputs``) are those of its last successful run,
and whose outputs are untouched, is skipped; one whose text alone changed gets
the new text spliced into its executed copy. The others execute into a staging
area, seeing only the upstream artifacts they declare; only when a notebook
succeeds are its executed copy and its artifacts moved into ``report/`` and its
inputs recorded, so a failure never clobbers earlier results or marks anything
up to date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import threading
import time
from pathlib import Path

from mnist_utils import artifacts, i18n
from mnist_utils.book import cache, conventions
from mnist_utils.book.environment import KERNEL_ENV, RESULT_PACKAGES, ensure_kernel, environment_record
from mnist_utils.book.errors import PipelineError
from mnist_utils.book.execute import Interrupted, _stop_kernels, execute
from mnist_utils.book.lock import report_lock
from mnist_utils.book.notebooks import (
    Layout,
    declared_reads,
    default_layout,
    discover,
    parse_overrides,
    project_root,
    read_profile,
    resolve_parameters,
    select,
    with_dependents,
)
from mnist_utils.book.record import choose_profile, outputs_digest, why_run
from mnist_utils.book.record import read as read_record


def render(layout: Layout, languages: tuple[str, ...] = i18n.LANGUAGES) -> list[str]:
    """Fill in the prose of the executed notebooks the run record lists, in each language:
    ``executed/NN_name.ipynb`` in English, ``executed/zh/`` in Chinese (``prose.render``).
    Executes nothing; a file is written only when its text changes.

    Returns:
        What the build should warn about (untranslated or out-of-date text, figure labels).

    Raises:
        PipelineError: a template that does not render (naming the notebook, cell and name).
    """
    import nbformat

    from mnist_utils.book import prose

    whole = read_record(layout.run_record)
    record = whole.get("notebooks", {})
    stems = [stem for stem in record if (layout.executed / f"{stem}.ipynb").is_file()]
    executed = {stem: nbformat.read(layout.executed / f"{stem}.ipynb", as_version=4) for stem in stems}
    # The translations beside the notebooks that ran (`run --notebooks DIR`), whoever renders.
    folder = Path(whole.get("notebooks_dir") or layout.notebooks)
    sources = {stem: folder / f"{stem}.ipynb" for stem in stems}
    profiles = {stem: record[stem]["profile"] for stem in stems}
    overrides = {stem: record[stem].get("overrides", {}) for stem in stems}
    problems = []
    for language in languages:
        try:
            rendered = prose.render(executed, sources, profiles, language, overrides)
        except prose.ProseError as e:
            raise PipelineError(
                f"{e}\nThe executed notebooks and their artifacts are kept: fix the text, then run "
                f"again (a text edit executes nothing)."
            ) from None
        problems += rendered.problems
        for stem, nb in rendered.notebooks.items():
            path = layout.rendered(language) / f"{stem}.ipynb"
            text = nbformat.writes(nb)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                artifacts.write_text(path, text)
    return problems


def _forget_removed(layout: Layout, notebooks: list[Path], record: dict, log) -> bool:
    """Drop from the run record, and from ``executed/``, the notebooks whose source is gone
    (their artifacts stay on disk but no longer reach the report); True if the record changed."""
    current = {nb.stem for nb in notebooks}
    gone = [s for s in record.get("notebooks", {}) if s not in current]
    for stem in gone:
        del record["notebooks"][stem]
        log(f"{stem}: its notebook is gone from {layout.notebooks}; dropped it from the run record and the report")
    # The executed copies and their translations (executed/zh/); hidden folders, such as the
    # .ipynb_checkpoints/ JupyterLab makes beside a notebook it opens, are not ours.
    folders = (
        [layout.executed] + [p for p in layout.executed.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if layout.executed.is_dir()
        else []
    )
    for folder in folders:
        for path in folder.glob("*.ipynb"):
            if path.stem not in current:
                path.unlink()
                log(f"{folder.name}/{path.name}: no such notebook in {layout.notebooks}; removed")
    return bool(gone)


def refresh_text(notebook: Path, executed: Path) -> bool:
    """Put a notebook's current markdown into its executed copy, keeping every code output.

    Only valid when the code cells are exactly those that ran; returns False (and
    changes nothing) otherwise.
    """
    import nbformat

    source = nbformat.read(notebook, as_version=4)
    old = nbformat.read(executed, as_version=4)
    tags = lambda cell: set(cell.get("metadata", {}).get("tags", []))  # noqa: E731
    ran = [c for c in old.cells if c.cell_type == "code" and "injected-parameters" not in tags(c)]
    injected = [c for c in old.cells if "injected-parameters" in tags(c)]
    code = [c for c in source.cells if c.cell_type == "code"]
    if [(c.source, tags(c)) for c in ran] != [(c.source, tags(c)) for c in code]:
        return False
    outputs, cells = iter(ran), []
    for cell in source.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        cells.append(next(outputs))
        if "parameters" in tags(cell):  # papermill's injected values follow the parameters cell
            cells += injected
    old.cells = cells
    artifacts.write_text(executed, nbformat.writes(old))
    return True


def run(
    profile: str | None = "full",
    only: list[str] | None = None,
    layout: Layout | None = None,
    log=None,
    force: bool = False,
    jobs: int | None = None,
    monitor=None,
    overrides: list[str] | None = None,
) -> dict:
    """Validate the profile, fetch the data, then bring the notebooks up to date in order.

    Args:
        profile: a profile's name in the params folder; None for the one the report
            folder's last run used (:func:`choose_profile`), said on the first line.
        only: notebook numbers or names to re-run, with every notebook that reads
            their artifacts; the others are left as they are.
        force: re-run every notebook (or every one ``only`` selects) even if up to date.
        jobs: how many notebooks may execute at once (default: the profile's ``jobs``,
            else 1). A notebook starts only after those whose artifacts it reads. With
            more than one, each notebook runs on cores of its own (:func:`core_slots`),
            so what it times is timed on those cores whatever runs beside it, except
            those the profile lists as ``alone``: they run on every core, with nothing
            beside them.
        monitor: a ``progress.Monitor`` that shows what each executing notebook is
            doing and an estimate of what is left (the log then prints through it).
        overrides: ``NOTEBOOK.PARAMETER=VALUE`` settings for this run only, over the
            profile's (see :func:`parse_overrides`); recorded in run.json and shown in the
            report's profile note and appendix.

    Returns:
        The run record also written to ``report/artifacts/run.json``; its ``this_run``
        maps each notebook considered to ``executed``, ``refreshed`` or ``up to date``.
    """
    layout = layout or default_layout()
    say = log or (monitor.log if monitor is not None else _say)
    profile, line = choose_profile(layout, profile)
    if line:
        say(line)
    command = f"mnist-study run --profile {profile}" + (f" --only {' '.join(only)}" if only else "")
    with report_lock(layout.report, command, say):
        return _run_locked(profile, only, layout, log, force, jobs, monitor, overrides)


def _run_locked(
    profile: str,
    only: list[str] | None,
    layout: Layout,
    log,
    force: bool,
    jobs: int | None,
    monitor,
    overrides: list[str] | None,
) -> dict:
    """:func:`run`'s work, once it holds the report folder's lock."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    import nbformat

    from mnist_utils import data

    log = log or (monitor.log if monitor is not None else _say)
    notebooks = discover(layout.notebooks)
    settings = read_profile(layout.params, profile)
    changed = parse_overrides(notebooks, overrides)
    for stem, values in changed.items():
        settings["notebooks"][stem] = {**settings["notebooks"].get(stem, {}), **values}
    resolved = resolve_parameters(notebooks, settings["notebooks"])
    jobs = jobs or settings["jobs"]
    try:
        alone = {nb.stem for nb in select(notebooks, settings["alone"])} if settings["alone"] else set()
    except PipelineError as e:
        raise PipelineError(f"Profile {profile!r}, 'alone': {e}") from None
    every_core = available_cores()
    if jobs > len(every_core):  # so that a notebook beside another has cores of its own
        log(f"{jobs} jobs: this process may use {len(every_core)} CPU core(s), so as many notebooks run at once")
        jobs = len(every_core)
    slots = core_slots(every_core, jobs)
    reads = declared_reads(notebooks)
    chosen = with_dependents(notebooks, reads, select(notebooks, only)) if only else notebooks
    broken = [str(problem) for nb in chosen for problem in conventions.problems(nb)]
    if broken:
        raise PipelineError(
            "these notebook cells break the house rules (README, 'Writing a notebook'); nothing ran:\n  "
            + "\n  ".join(broken)
        )
    forced = "--only" if only else "--force" if force else None
    ensure_kernel(log)
    for key, value in KERNEL_ENV.items():
        os.environ.setdefault(key, value)
    mnist = data.load_mnist()  # fetch and verify up front: a data problem stops the run here
    env = environment_record(project_root())
    shared = {
        "data": cache.digest(mnist.checksums),
        "environment": cache.digest(
            {"python": env["python"], "gpus": env["gpus"], "packages": {p: env["packages"][p] for p in RESULT_PACKAGES}}
        ),
    }
    record = read_record(layout.run_record)
    record.setdefault("notebooks", {})
    record["this_run"] = {}
    forgot = _forget_removed(layout, notebooks, record, log)
    if forgot or record.get("notebooks_dir") != str(layout.notebooks):
        record["notebooks_dir"] = str(layout.notebooks)
        artifacts.save_json(layout.run_record, record)
    others = [
        stem
        for stem, entry in record["notebooks"].items()
        if entry.get("profile") != profile and stem not in {nb.stem for nb in chosen}
    ]
    if others:
        log(
            f"note: {', '.join(others)} ran with another profile, and --only leaves them so; `mnist-study report` "
            f"builds only from notebooks of one profile: run without --only to bring them all to {profile}"
        )
    shutil.rmtree(layout.report / ".staging", ignore_errors=True)  # left by a killed run
    total = time.perf_counter()
    waiting = {nb.stem for nb in chosen}

    def settle(nb: Path):
        """Skip or refresh ``nb`` if it needs no execution; else return why it must run."""
        inputs = cache.notebook_inputs(
            nbformat.read(nb, as_version=4), resolved[nb.stem], profile, shared, layout.artifacts
        )
        reason = why_run(inputs, record["notebooks"].get(nb.stem, {}), outputs_digest(layout, nb.stem), forced)
        if reason is None:
            log(f"{nb.stem}: up to date, skipped")
            record["this_run"][nb.stem] = "up to date"
        elif reason == "text" and refresh_text(nb, layout.executed / nb.name):
            log(f"{nb.stem}: only its text changed; copied it into the executed notebook without running it")
            record["notebooks"][nb.stem].update(inputs=inputs, outputs=outputs_digest(layout, nb.stem))
            record["this_run"][nb.stem] = "refreshed"
            artifacts.save_json(layout.run_record, record)
        else:
            if reason == "text":
                reason = "its text changed and its executed copy no longer matches its code"
            log(f"{nb.stem}: runs ({reason}) ...")
            return inputs
        waiting.discard(nb.stem)
        return None

    def expected(stem: str) -> float | None:
        """The notebook's seconds in the last run of this profile, for the progress estimate."""
        last = record["notebooks"].get(stem, {})
        return last.get("seconds") if last.get("profile") == profile else None

    def finish(nb: Path, inputs: dict, executed: tuple[float, float | None], cores: list[int] | None) -> None:
        seconds, flops = executed
        log(f"{nb.stem}: done in {seconds:.1f} s (elapsed {time.perf_counter() - total:.1f} s)")
        # The machine and data of the latest execution; earlier notebooks' runs shared them
        # unless the environment digest changed, which would have re-run them too.
        record.update(
            {
                "environment": env,
                "data": {"source": mnist.source, "checksums": mnist.checksums, "cache_dir": str(data.cache_dir())},
            }
        )
        record["notebooks"][nb.stem] = {
            "profile": profile,
            "parameters": resolved[nb.stem],
            "seconds": round(seconds, 2),
            "jobs": jobs,
            "cores": len(cores or every_core),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "inputs": inputs,
            "outputs": outputs_digest(layout, nb.stem),
            "training_flops": flops,
            "read_digests": cache.reads_digest(layout.artifacts, reads[nb.stem]),
            **({"overrides": changed[nb.stem]} if changed.get(nb.stem) else {}),
        }
        record["this_run"][nb.stem] = "executed"
        record["profile"] = profile  # the default of the next run without --profile
        record["notebooks"] = dict(sorted(record["notebooks"].items()))  # in notebook order, however they ran
        artifacts.save_json(layout.run_record, record)
        waiting.discard(nb.stem)

    # With one job, the notebooks run in order. With more, one that runs alone goes first when it
    # is ready (it holds every core anyway, and the side-by-side ones then pack together before or
    # after it); then a notebook that others read (most readers first), so the long chains get going
    # early; then the longest by its seconds last time, so the short ones fill the gaps; with no time
    # on record, one that reads more artifacts first (it sits further down a chain, after the work it
    # builds on); then in order.
    readers = {nb.stem: len(with_dependents(notebooks, reads, [nb])) - 1 for nb in chosen}
    order = lambda nb: (  # noqa: E731
        nb.stem not in alone,
        -readers[nb.stem],
        -(expected(nb.stem) or 0),
        -len(reads[nb.stem]),
    )
    pending, running, failure = list(chosen), {}, None
    kernels, stop = [], threading.Event()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while pending or running:
                ready = list(pending) if jobs == 1 else sorted(pending, key=order)  # stable
                for nb in ready:
                    if failure or len(running) >= jobs or any(n.stem in alone for n, _, _ in running.values()):
                        break
                    if any(rel.split("/")[0] in waiting for rel in reads[nb.stem]):
                        continue  # an upstream notebook is still to run
                    if nb.stem in alone and running:
                        continue  # it waits for the machine to itself; others may start meanwhile
                    pending.remove(nb)
                    inputs = settle(nb)
                    if inputs is None:
                        continue
                    shown = {"monitor": monitor, "expected": expected(nb.stem), "kernels": kernels, "stop": stop}
                    if jobs == 1:  # in this thread, so Ctrl-C interrupts it directly
                        executed = execute(nb, resolved[nb.stem], layout, profile, reads[nb.stem], **shown)
                        finish(nb, inputs, executed, None)
                    else:
                        taken = [cores for _, _, cores in running.values()]
                        cores = None if nb.stem in alone else next(c for c in slots if c not in taken)
                        shown["cores"] = cores
                        running[
                            pool.submit(execute, nb, resolved[nb.stem], layout, profile, reads[nb.stem], **shown)
                        ] = (nb, inputs, cores)
                if not running:
                    if failure:
                        break
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    nb, inputs, cores = running.pop(future)
                    try:
                        finish(nb, inputs, future.result(), cores)
                    except PipelineError as e:  # let the others finish, start nothing new, then report it
                        failure = failure or e
        except KeyboardInterrupt:
            # Stop the other notebooks too: kill their kernels, let nothing start another cell,
            # and wait the few seconds their threads need to clean their staging up.
            stop.set()
            _stop_kernels(kernels)
            wait(running, timeout=60)
            shutil.rmtree(layout.report / ".staging", ignore_errors=True)  # ours alone: we hold the lock
            kept = [stem for stem, state in record["this_run"].items() if state == "executed"]
            stopped = [nb.stem for nb in chosen if nb.stem not in record["this_run"]]
            if kept:  # their executed copies still hold templates: fill in their prose, in both languages
                with contextlib.suppress(PipelineError):  # the interrupt is the news; the report re-renders
                    render(layout)
            raise Interrupted(
                (f"kept {', '.join(kept)}, which finished; " if kept else "no notebook finished; ")
                + f"{', '.join(stopped)}: stopped or not started, earlier outputs unchanged"
            ) from None
    try:
        problems = render(layout)
    except PipelineError:
        if failure:  # the notebook's own failure is the news
            raise failure from None
        raise
    if failure:
        raise failure
    if problems:
        log(
            f"warning: {len(problems)} text(s) have no translation or are out of date:\n  - "
            + "\n  - ".join(problems[:20])
            + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        )
    states = list(record["this_run"].values())
    log(
        ", ".join(f"{states.count(s)} {s}" for s in ("executed", "refreshed", "up to date"))
        + f" ({time.perf_counter() - total:.1f} s)"
    )
    return record


def available_cores() -> list[int]:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux: what the process is allowed, not what the machine has
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_slots(cores: list[int], jobs: int) -> list[list[int]]:
    """The cores of each of ``jobs`` notebooks side by side (at most one per core): ``cores`` (this
    process's, :func:`available_cores`) split evenly, none shared, the remainder unused."""
    share = len(cores) // jobs
    return [cores[slot * share : (slot + 1) * share] for slot in range(jobs)]


def _say(message: str) -> None:
    print(message, flush=True)
