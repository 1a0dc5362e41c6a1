"""One notebook through papermill: executed in a staging folder that holds only the artifacts it
declares it reads, then promoted into ``report/`` (its executed copy pointed at the real artifacts),
or, if it fails, kept in ``report/failed/`` with the earlier outputs left as they were.

``pipeline`` decides which notebooks run and in what order; this module runs one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from mnist_utils import progress
from mnist_utils.book.environment import KERNEL_NAME
from mnist_utils.book.errors import PipelineError
from mnist_utils.book.notebooks import Layout, project_root


def _promote(staged: Path, final: Path) -> None:
    """Replace ``final`` with ``staged`` (a file or a folder) in as few steps as the OS allows."""
    if staged.is_dir() and final.exists():
        old = final.with_name(f".old-{final.name}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(staged, final)
        shutil.rmtree(old)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)


def _stage_reads(reads: list[str], source: Path, target: Path, reader: str) -> None:
    """Link (or copy) the declared upstream artifacts into ``target``: the only ones the notebook sees."""
    missing = [rel for rel in reads if not (source / rel).is_file()]
    if missing:
        first = missing[0].split("/")[0]
        raise PipelineError(
            f"{reader} reads {', '.join(missing)}, which {'does' if len(missing) == 1 else 'do'} "
            f"not exist in {source}. Run {first} first (`mnist-study run --only {first[:2]}`)."
        )
    for rel in reads:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source / rel, target / rel)
        except OSError:
            shutil.copy2(source / rel, target / rel)


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM; the message says what was kept."""


# Started before the kernel, in its place: pins itself to the cores in argv[1], then becomes the
# kernel (argv[2:]), so every thread the kernel starts, TensorFlow's among them, stays on them.
_PIN = (
    "import os, sys; os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')}); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


def core_env(cores: list[int]) -> dict[str, str]:
    """Thread counts for a kernel that runs on ``cores``: TensorFlow's (it reads these when it
    starts) and OpenMP's, so no library starts more threads than it has cores."""
    n = str(len(cores))
    return {"TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n, "OMP_NUM_THREADS": n}


def _progress_kernels(progress_file: Path, kernels: list | None = None, cores: list[int] | None = None):
    """A kernel manager class whose kernels report their progress to ``progress_file``
    (the kernel's ``MNIST_STUDY_PROGRESS``; see ``progress``). One class per notebook,
    so notebooks executing at once each get their own file. Each kernel's process is
    added to ``kernels``, so an interrupted run can stop them. With ``cores``, the kernel
    runs on those cores only (where the OS lets a process choose) and with as many threads."""
    from jupyter_client import AsyncKernelManager

    class ProgressKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if cores and hasattr(os, "sched_setaffinity"):
                cmd = [sys.executable, "-c", _PIN, ",".join(map(str, cores)), *cmd]
            return cmd

        async def start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), progress.ENV: str(progress_file)}
            kw["env"].update(core_env(cores) if cores else {})
            started = await super().start_kernel(**kw)
            if kernels is not None and getattr(self.provisioner, "process", None) is not None:
                kernels.append(self.provisioner.process)
            return started

    return ProgressKernelManager


def _stop_kernels(kernels: list) -> None:
    """Kill the kernels that still run (an interrupted run's: their notebooks are abandoned)."""
    for process in kernels:
        with contextlib.suppress(OSError):
            if process.poll() is None:
                process.kill()


def execute(
    notebook: Path,
    parameters: dict,
    layout: Layout,
    profile: str,
    reads: list[str] = (),
    monitor=None,
    expected: float | None = None,
    kernels: list | None = None,
    stop=None,
    cores: list[int] | None = None,
) -> tuple[float, float | None]:
    """Run one notebook through papermill into staging, then promote its outputs.

    The notebook's ``artifacts_dir`` holds only the upstream artifacts in ``reads``,
    so reading an undeclared one fails instead of going unnoticed by the cache.
    With a ``progress.Monitor``, the notebook's cell and its training progress are
    shown while it runs (``expected``: its seconds last time, for the estimate).
    ``kernels`` collects its kernel's process and ``stop`` (a ``threading.Event``), once
    set, stops it before its next cell: how an interrupted run ends the others quickly.
    ``cores``: the CPU cores its kernel runs on (None: all of them).

    Returns:
        Wall-clock seconds, and the floating-point operations of the training it reported
        (``progress.add_work``; None if it trained nothing).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    stage = layout.report / ".staging" / notebook.stem  # one per notebook: several may run at once
    staged_nb = stage / "executed" / notebook.name
    staged_artifacts = stage / "artifacts" / notebook.stem
    staged_reads = stage / "reads"
    shutil.rmtree(stage, ignore_errors=True)
    staged_nb.parent.mkdir(parents=True)
    staged_artifacts.mkdir(parents=True)
    staged_reads.mkdir()
    try:
        _stage_reads(list(reads), layout.artifacts, staged_reads, notebook.name)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    params = {**parameters, "profile": profile, "artifacts_dir": str(staged_reads), "output_dir": str(staged_artifacts)}
    reported = stage / "progress.json"
    cells = len(nbformat.read(notebook, as_version=4).cells) + 1  # + papermill's injected parameters

    def on_cell_start(cell, cell_index):
        if stop is not None and stop.is_set():  # not a KeyboardInterrupt: this runs in nbclient's event loop
            raise RuntimeError(f"{notebook.stem}: stopped before cell {cell_index}, the run was interrupted")
        if monitor is not None:
            monitor.cell(notebook.stem, cell_index, cells)

    shown = {"kernel_manager_class": _progress_kernels(reported, kernels, cores), "on_cell_start": on_cell_start}
    if monitor is not None:  # its line replaces papermill's bar, which shows nothing inside a cell
        monitor.started(notebook.stem, reported, expected)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(staged_nb),
            parameters=params,
            kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent),
            progress_bar=monitor is None and sys.stderr.isatty(),
            log_output=False,
            **shown,
        )
    except PapermillExecutionError as e:
        layout.failed.mkdir(parents=True, exist_ok=True)
        kept = layout.failed / notebook.name
        if staged_nb.exists():
            os.replace(staged_nb, kept)
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):
            stage.parent.rmdir()
        raise PipelineError(
            f"{notebook.name} failed in cell {e.cell_index} (execution count {e.exec_count}): "
            f"{e.ename}: {e.evalue}\n"
            f"The executed notebook with the traceback is {kept}. Earlier outputs in "
            f"{layout.report} are unchanged."
        ) from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if monitor is not None:
            monitor.finished(notebook.stem)
    seconds = time.perf_counter() - start
    flops = progress.read(reported).get("flops")
    _point_at_report(staged_nb, layout, notebook.stem)
    _promote(staged_artifacts, layout.artifacts / notebook.stem)
    _promote(staged_nb, layout.executed / notebook.name)
    shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):  # left in place while another notebook still runs
        stage.parent.rmdir()
    stale = layout.failed / notebook.name
    if stale.exists():
        stale.unlink()
    return seconds, flops


def path_parameters(layout: Layout, stem: str) -> dict[str, str]:
    """The runner's path parameters as an executed copy keeps them: the real artifacts folders,
    relative to the project when they are inside it (the notebook resolves them from there)."""
    root = project_root()

    def shown(path: Path) -> str:
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    return {"artifacts_dir": shown(layout.artifacts), "output_dir": shown(layout.artifacts / stem)}


def _point_at_report(executed: Path, layout: Layout, stem: str) -> None:
    """Make an executed copy's injected paths those of ``report/``, not of the staging folder it
    ran in, so it re-runs in place (JupyterLab's *Restart Kernel and Run All*)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    paths = path_parameters(layout, stem)
    record = nb.metadata.get("papermill", {})  # papermill's own record of the run, likewise
    record.get("parameters", {}).update(paths)
    if "output_path" in record:
        record["output_path"] = str(layout.executed / f"{stem}.ipynb")
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = re.sub(
                rf"^({'|'.join(paths)}) = .*$",
                lambda m: f"{m.group(1)} = {json.dumps(paths[m.group(1)])}",
                cell.source,
                flags=re.M,
            )
    nbformat.write(nb, executed)
