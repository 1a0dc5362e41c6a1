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
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mnist_utils import artifacts, cache, i18n, progress, validation

KERNEL_NAME = "mnist-study"
# Set in the kernel's environment so TensorFlow's C++ start-up lines never
# reach a notebook (they must be set before TensorFlow is imported).
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
# CRITICAL, not ERROR: jupyter_client interrupts a kernel before shutting it down, and a kernel
# that is still busy then logs "KeyboardInterrupt caught in kernel" as an error. Failures of the
# notebook itself still reach the runner through papermill.
KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"
# Parameters every notebook declares and only the runner sets.
RUNNER_PARAMETERS = ("profile", "artifacts_dir", "output_dir")
NOTEBOOK_PATTERN = re.compile(r"^(\d{2})_[A-Za-z0-9_]+\.ipynb$")
# The packages whose versions the reproducibility record lists.
RECORDED_PACKAGES = ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib",
                     "seaborn", "ai-edge-litert", "pillow", "papermill", "nbconvert", "ipykernel", "jupyterlab")
# The packages whose versions change results: a new version re-runs every notebook.
RESULT_PACKAGES = ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib",
                   "seaborn", "ai-edge-litert", "pillow")
# Why a notebook runs, for the log: the input names of ``cache.notebook_inputs``.
INPUT_NAMES = {"code": "its code", "markdown": "its text", "parameters": "its parameters",
               "modules": "the mnist_utils code it imports", "data": "the data",
               "environment": "package versions or GPUs", "reads": "the upstream artifacts it reads"}


class PipelineError(RuntimeError):
    """The run cannot start or did not finish; the message says why and what to do."""


@dataclass(frozen=True)
class Layout:
    """Where the runner reads notebooks and profiles and writes its outputs."""

    notebooks: Path
    params: Path
    report: Path

    @property
    def executed(self) -> Path:
        return self.report / "executed"

    @property
    def artifacts(self) -> Path:
        return self.report / "artifacts"

    def rendered(self, language: str) -> Path:
        """The executed notebooks as rendered in ``language``: ``executed/`` in English, ``executed/zh/``."""
        return self.executed if language == "en" else self.executed / language

    @property
    def failed(self) -> Path:
        return self.report / "failed"

    @property
    def run_record(self) -> Path:
        return self.artifacts / "run.json"


project_root = artifacts.project_root


def default_layout(report_dir: str | os.PathLike | None = None) -> Layout:
    root = project_root()
    return Layout(root / "notebooks", root / "params", Path(report_dir or root / "report").resolve())


def discover(notebooks_dir: Path) -> list[Path]:
    """The study's notebooks, ``NN_name.ipynb``, in numeric order; two with one number are refused."""
    found = sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))
    if not found:
        raise PipelineError(f"No notebooks named NN_*.ipynb in {notebooks_dir}.")
    numbers: dict[str, list[str]] = {}
    for path in found:
        numbers.setdefault(path.name[:2], []).append(path.name)
    twins = [names for names in numbers.values() if len(names) > 1]
    if twins:
        raise PipelineError("Each notebook needs a number of its own, but "
                            + "; ".join(" and ".join(names) for names in twins)
                            + f" share one in {notebooks_dir}. Rename or move the copy (a number no other "
                              f"notebook has makes it a new part of the study).")
    return found


def read_profile(params_dir: Path, name: str) -> dict:
    """Read ``params/<name>.yaml``: ``notebooks`` (``{"NN_name": {param: value}}``) and
    ``jobs`` (how many notebooks may run at once; 1 unless the profile says otherwise)."""
    import yaml

    path = Path(params_dir) / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(params_dir).glob("*.yaml") if p.stem != "report")
        raise PipelineError(f"Unknown profile {name!r}: {path} does not exist. Known: {', '.join(known)}.")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise PipelineError(f"Profile {path} is not valid YAML: {e}") from e
    unknown = set(doc) - {"description", "notebooks", "jobs"}
    if unknown:
        raise PipelineError(f"Profile {path}: unknown top-level key(s) {sorted(unknown)}; "
                            f"expected 'description', 'jobs' and 'notebooks'.")
    sections = doc.get("notebooks") or {}
    if not isinstance(sections, dict) or not all(isinstance(v, dict) or v is None for v in sections.values()):
        raise PipelineError(f"Profile {path}: 'notebooks' must map notebook names to parameter mappings.")
    jobs = doc.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise PipelineError(f"Profile {path}: 'jobs' must be a whole number of at least 1, got {jobs!r}.")
    return {"notebooks": {str(k): dict(v or {}) for k, v in sections.items()}, "jobs": jobs}


def load_profile(params_dir: Path, name: str) -> dict[str, dict]:
    """The per-notebook parameter sections of ``params/<name>.yaml`` (see :func:`read_profile`)."""
    return read_profile(params_dir, name)["notebooks"]


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """The parameters a notebook declares in its ``parameters`` cell: name -> type, default, help.

    The cell must hold only lines ``name: type = literal  # comment``; anything else
    is an error here, because papermill would silently skip a line it cannot parse.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise PipelineError(f"{notebook.name}: no cell tagged 'parameters'. Tag the first code "
                            f"cell 'parameters' and declare each parameter as `name: type = value`.")
    try:
        return validation.declared(cells[0].source)
    except SyntaxError as e:
        raise PipelineError(f"{notebook.name}: parameters cell is not valid Python: {e}") from None
    except ValueError as e:
        raise PipelineError(f"{notebook.name}: parameters cell {e}") from None


def resolve_parameters(notebooks: list[Path], profile: dict[str, dict]) -> dict[str, dict]:
    """Merge profile values over each notebook's defaults, after checking every one.

    Raises PipelineError listing every problem: a section for a notebook that
    does not exist, an undeclared parameter, a runner-owned parameter, a wrong type.
    """
    by_name = {nb.stem: nb for nb in notebooks}
    problems = [f"profile section {name!r} matches no notebook (have: {', '.join(by_name)})"
                for name in profile if name not in by_name]
    resolved = {}
    for stem, path in by_name.items():
        declared = declared_parameters(path)
        missing = [p for p in RUNNER_PARAMETERS if p not in declared]
        if missing:
            problems.append(f"{path.name}: parameters cell must declare {', '.join(missing)}")
        values = {name: info["default"] for name, info in declared.items()
                  if name not in RUNNER_PARAMETERS}
        for name, value in profile.get(stem, {}).items():
            if name in RUNNER_PARAMETERS:
                problems.append(f"{path.name}: {name!r} is set by the runner, not by a profile")
            elif name not in declared:
                problems.append(f"{path.name}: unknown parameter {name!r} "
                                f"(declared: {', '.join(sorted(set(declared) - set(RUNNER_PARAMETERS)))})")
            elif wrong := validation.problems(name, value, declared[name]["type"], declared[name]["rules"]):
                allowed = f" (allowed: {declared[name]['rules']})" if declared[name]["rules"] else ""
                problems += [f"{path.name}: {p}{allowed}" for p in wrong]
            else:
                values[name] = value
        resolved[stem] = values
    if problems:
        raise PipelineError("The profile does not fit the notebooks:\n  - " + "\n  - ".join(problems))
    return resolved


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """Notebooks whose number or name is in ``only`` (all when ``only`` is empty)."""
    if not only:
        return notebooks
    wanted = {o.zfill(2) if o.isdigit() else o for o in only}
    chosen = [nb for nb in notebooks if nb.name[:2] in wanted or nb.stem in wanted]
    unknown = wanted - {nb.name[:2] for nb in chosen} - {nb.stem for nb in chosen}
    if unknown:
        raise PipelineError(f"{', '.join(sorted(unknown))}: no such notebook "
                            f"(have: {', '.join(nb.stem for nb in notebooks)}).")
    return chosen


def declared_reads(notebooks: list[Path]) -> dict[str, list[str]]:
    """Each notebook's declared upstream artifacts, checked to name files of earlier notebooks."""
    import nbformat

    stems = [nb.stem for nb in notebooks]
    reads, problems = {}, []
    for i, path in enumerate(notebooks):
        try:
            reads[path.stem] = cache.declared_reads(nbformat.read(path, as_version=4))
        except ValueError as e:
            problems.append(f"{path.name}: {e}")
            continue
        for rel in reads[path.stem]:
            if rel.split("/")[0] not in stems[:i]:
                problems.append(f"{path.name}: reads {rel!r}, which is not an artifact of an earlier notebook")
    if problems:
        raise PipelineError("Notebook metadata problems:\n  - " + "\n  - ".join(problems))
    return reads


def with_dependents(notebooks: list[Path], reads: dict[str, list[str]], chosen: list[Path]) -> list[Path]:
    """``chosen`` plus every notebook that reads their artifacts, directly or further down."""
    wanted = {nb.stem for nb in chosen}
    for nb in notebooks:  # in order, so a reader of a reader is found too
        if any(rel.split("/")[0] in wanted for rel in reads.get(nb.stem, [])):
            wanted.add(nb.stem)
    return [nb for nb in notebooks if nb.stem in wanted]


def ensure_kernel(log=None) -> None:
    """Register the ``mnist-study`` Jupyter kernel for this Python unless it is already current, and
    the environment's nbconvert configuration likewise."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    log = log or _say
    config = _previous_record(nbconvert_config_file())
    if any({**config.get(section, {}), **values} != config.get(section) for section, values in NBCONVERT_CONFIG.items()):
        install_nbconvert_config()
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if (Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
                and KERNEL_QUIET in spec.argv and spec.env == KERNEL_ENV):
            return
    except NoSuchKernel:
        pass
    install_kernel()
    log(f"Registered Jupyter kernel {KERNEL_NAME!r} for {sys.executable}")


# Plain `jupyter nbconvert --to pdf` in this environment uses the project's notebook template, which
# sets a notebook rendered in Chinese in the report's CJK fonts (templates/mnist_notebook).
NBCONVERT_CONFIG = {"LatexExporter": {"template_name": "mnist_notebook",
                                      "extra_template_basedirs": [str(Path(__file__).parent / "templates")]}}


def nbconvert_config_file(prefix: str | os.PathLike | None = None) -> Path:
    """The environment's nbconvert configuration, which plain ``jupyter nbconvert`` reads."""
    return Path(prefix or sys.prefix) / "etc" / "jupyter" / "jupyter_nbconvert_config.json"


def install_nbconvert_config(prefix: str | os.PathLike | None = None) -> Path:
    """Add :data:`NBCONVERT_CONFIG` to the environment's nbconvert configuration, keeping the rest."""
    path = nbconvert_config_file(prefix)
    config = _previous_record(path)
    for section, values in NBCONVERT_CONFIG.items():
        config[section] = {**config.get(section, {}), **values}
    artifacts.save_json(path, config)
    return path


def install_kernel(user: bool = False) -> str:
    """Install the ``mnist-study`` kernelspec (into this environment unless ``user``), and the
    environment's nbconvert configuration (:func:`install_nbconvert_config`)."""
    from ipykernel.kernelspec import install

    if not user:
        install_nbconvert_config()

    where = install(user=user, prefix=None if user else sys.prefix, kernel_name=KERNEL_NAME,
                    display_name="Python (mnist-study)", env=KERNEL_ENV)
    # The kernel's own start-up warnings (e.g. about TCP transport) would land in the
    # runner's terminal between the progress lines; errors still show.
    spec_file = Path(where) / "kernel.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    spec["argv"] = [a for a in spec["argv"] if not a.startswith("--IPKernelApp.log_level")]
    spec["argv"].append(KERNEL_QUIET)
    artifacts.save_json(spec_file, spec)
    return where


def environment_record(root: Path) -> dict:
    """Python, packages, CPU, GPU and git state, for the reproducibility appendix."""
    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
            return out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = []
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        gpus = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    versions = {}
    for pkg in RECORDED_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    status = git("status", "--porcelain")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "packages": versions,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


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
        raise PipelineError(f"{reader} reads {', '.join(missing)}, which {'does' if len(missing) == 1 else 'do'} "
                            f"not exist in {source}. Run {first} first (`mnist-study run --only {first[:2]}`).")
    for rel in reads:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source / rel, target / rel)
        except OSError:
            shutil.copy2(source / rel, target / rel)


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM; the message says what was kept."""


def _progress_kernels(progress_file: Path, kernels: list | None = None):
    """A kernel manager class whose kernels report their progress to ``progress_file``
    (the kernel's ``MNIST_STUDY_PROGRESS``; see ``progress``). One class per notebook,
    so notebooks executing at once each get their own file. Each kernel's process is
    added to ``kernels``, so an interrupted run can stop them."""
    from jupyter_client import AsyncKernelManager

    class ProgressKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), progress.ENV: str(progress_file)}
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


def execute(notebook: Path, parameters: dict, layout: Layout, profile: str, reads: list[str] = (),
            monitor=None, expected: float | None = None, kernels: list | None = None,
            stop=None) -> tuple[float, float | None]:
    """Run one notebook through papermill into staging, then promote its outputs.

    The notebook's ``artifacts_dir`` holds only the upstream artifacts in ``reads``,
    so reading an undeclared one fails instead of going unnoticed by the cache.
    With a ``progress.Monitor``, the notebook's cell and its training progress are
    shown while it runs (``expected``: its seconds last time, for the estimate).
    ``kernels`` collects its kernel's process and ``stop`` (a ``threading.Event``), once
    set, stops it before its next cell: how an interrupted run ends the others quickly.

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
    params = {**parameters, "profile": profile, "artifacts_dir": str(staged_reads),
              "output_dir": str(staged_artifacts)}
    reported = stage / "progress.json"
    cells = len(nbformat.read(notebook, as_version=4).cells) + 1  # + papermill's injected parameters

    def on_cell_start(cell, cell_index):
        if stop is not None and stop.is_set():  # not a KeyboardInterrupt: this runs in nbclient's event loop
            raise RuntimeError(f"{notebook.stem}: stopped before cell {cell_index}, the run was interrupted")
        if monitor is not None:
            monitor.cell(notebook.stem, cell_index, cells)

    shown = {"kernel_manager_class": _progress_kernels(reported, kernels), "on_cell_start": on_cell_start}
    if monitor is not None:  # its line replaces papermill's bar, which shows nothing inside a cell
        monitor.started(notebook.stem, reported, expected)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook), str(staged_nb), parameters=params, kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent), progress_bar=monitor is None and sys.stderr.isatty(), log_output=False,
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
            cell.source = re.sub(rf"^({'|'.join(paths)}) = .*$", lambda m: f"{m.group(1)} = {json.dumps(paths[m.group(1)])}",
                                 cell.source, flags=re.M)
    nbformat.write(nb, executed)


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

    from mnist_utils import prose

    whole = _previous_record(layout.run_record)
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
            raise PipelineError(f"{e}\nThe executed notebooks and their artifacts are kept: fix the text, then run "
                                f"again (a text edit executes nothing).") from None
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
    folders = ([layout.executed] + [p for p in layout.executed.iterdir() if p.is_dir() and not p.name.startswith(".")]
               if layout.executed.is_dir() else [])
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
        except Exception:  # noqa: BLE001 - an unreadable copy is simply not up to date
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


@contextlib.contextmanager
def report_lock(report_dir: Path, command: str, log=None):
    """Hold ``report_dir/.lock`` while ``command`` runs: one run or report build per report folder.

    The lock is the kernel's (``fcntl.flock`` on the file), so it is held exactly as long as its
    process lives: a second run is refused at once, naming the holder's process id, command and
    start (written in the file), and a lock whose process is gone (killed with -9, a crashed
    machine) is taken over with a note. Content never decides: an empty or half-written file is
    free only if no process holds it, and of two runs taking over a dead lock, one wins.
    """
    import fcntl

    path = Path(report_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = {"pid": os.getpid(), "command": command,
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _lock_holder(path, wait=1.0)  # its holder may be writing its name this instant
            raise PipelineError(
                f"{path.parent} is in use by process {holder.get('pid', '?')} "
                f"(`{holder.get('command', '?')}`, started {holder.get('started', '?')}). Wait for it to "
                f"finish, stop it, or use another --report-dir.") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # its holder removed the file between our open and our lock: start again
            os.close(fd)
            continue
        break
    try:
        left = _lock_holder(path)
        if left:
            (log or _say)(f"note: taking over {path}, left by process {left.get('pid', '?')} "
                          f"(`{left.get('command', '?')}`, started {left.get('started', '?')}), which no longer runs")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(mine).encode("utf-8"), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked, so no one locks the file we remove
        os.close(fd)


def _lock_holder(path: Path, wait: float = 0.0) -> dict:
    """What a lock file says of its holder ({} if empty or unreadable), waiting up to ``wait``
    seconds for it to be written."""
    deadline = time.monotonic() + wait
    while True:
        try:
            holder = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(holder, dict):
                return holder
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return {}
        time.sleep(0.05)


def parse_overrides(notebooks: list[Path], overrides: list[str]) -> dict[str, dict]:
    """``-p NOTEBOOK.PARAMETER=VALUE`` settings (the notebook by number or name, the value in YAML),
    by notebook stem. Every malformed one is reported at once; types are checked with the profile's."""
    import yaml

    found, problems = {}, []
    for text in overrides or []:
        key, sep, value = text.partition("=")
        notebook, dot, name = key.partition(".")
        if not (sep and dot and notebook and name):
            problems.append(f"-p {text}: expected NOTEBOOK.PARAMETER=VALUE, e.g. -p 02.epochs=3")
            continue
        try:
            stem = select(notebooks, [notebook])[0].stem
            found.setdefault(stem, {})[name.strip()] = yaml.safe_load(value)
        except PipelineError as e:
            problems.append(f"-p {text}: {e}")
        except yaml.YAMLError as e:
            problems.append(f"-p {text}: the value is not YAML ({str(e).splitlines()[0]}); quote it for the shell, "
                            f"e.g. -p '02.seeds=[0, 1]'")
    if problems:
        raise PipelineError("Bad -p settings:\n  - " + "\n  - ".join(problems))
    return found


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
    previous = last_profile(_previous_record(layout.run_record))
    folder = os.path.relpath(layout.report) if layout.report.is_relative_to(Path.cwd()) else str(layout.report)
    if requested is None and previous:
        return previous, (f"Profile: {previous}, the one the last run in {folder}/ used "
                          f"(--profile NAME for another).")
    if requested is None:
        return "full", ("Profile: full, the study as reported: tens of minutes on a laptop's CPU. "
                        "`mnist-study run --profile smoke` runs every notebook in a few minutes instead, "
                        "with numbers that are not results.")
    if previous and requested != previous:
        return requested, (f"Profile: {requested}; the last run in {folder}/ used {previous}, "
                           f"whose results the notebooks that run now replace.")
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
        except Exception:  # noqa: BLE001 - an unreadable copy: nothing to compare, the build names it
            continue
        now = cache.reads_digest(layout.artifacts, reads)
        if cache.digest(now) != recorded:
            before = entry.get("read_digests")  # which ones changed (records from before it: all are named)
            upstream = sorted({rel.split("/")[0] for rel in reads if before is None or before.get(rel) != now[rel]})
            problems.append(f"{stem} ran before the artifacts it reads from {', '.join(upstream)} last changed, "
                            f"so its text and figures cite their old values")
    profiles: dict[str, list[str]] = {}
    for stem, entry in runs.items():
        profiles.setdefault(entry.get("profile", "?"), []).append(stem)
    if len(profiles) > 1:
        problems.append("the notebooks ran with different profiles ("
                        + "; ".join(f"{p}: {', '.join(stems)}" for p, stems in profiles.items()) + ")")
    return problems


def run(profile: str | None = "full", only: list[str] | None = None, layout: Layout | None = None,
        log=None, force: bool = False, jobs: int | None = None, monitor=None,
        overrides: list[str] | None = None) -> dict:
    """Validate the profile, fetch the data, then bring the notebooks up to date in order.

    Args:
        profile: a profile's name in the params folder; None for the one the report
            folder's last run used (:func:`choose_profile`), said on the first line.
        only: notebook numbers or names to re-run, with every notebook that reads
            their artifacts; the others are left as they are.
        force: re-run every notebook (or every one ``only`` selects) even if up to date.
        jobs: how many notebooks may execute at once (default: the profile's ``jobs``,
            else 1). A notebook starts only after those whose artifacts it reads.
            More than one makes the timings the notebooks report include waiting
            for the CPU, so the full profile runs one at a time.
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


def _run_locked(profile: str, only: list[str] | None, layout: Layout, log, force: bool, jobs: int | None,
                monitor, overrides: list[str] | None) -> dict:
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
    reads = declared_reads(notebooks)
    chosen = with_dependents(notebooks, reads, select(notebooks, only)) if only else notebooks
    forced = "--only" if only else "--force" if force else None
    ensure_kernel(log)
    for key, value in KERNEL_ENV.items():
        os.environ.setdefault(key, value)
    mnist = data.load_mnist()  # fetch and verify up front: a data problem stops the run here
    env = environment_record(project_root())
    shared = {"data": cache.digest(mnist.checksums),
              "environment": cache.digest({"python": env["python"], "gpus": env["gpus"],
                                           "packages": {p: env["packages"][p] for p in RESULT_PACKAGES}})}
    record = _previous_record(layout.run_record)
    record.setdefault("notebooks", {})
    record["this_run"] = {}
    forgot = _forget_removed(layout, notebooks, record, log)
    if forgot or record.get("notebooks_dir") != str(layout.notebooks):
        record["notebooks_dir"] = str(layout.notebooks)
        artifacts.save_json(layout.run_record, record)
    others = [stem for stem, entry in record["notebooks"].items()
              if entry.get("profile") != profile and stem not in {nb.stem for nb in chosen}]
    if others:
        log(f"note: {', '.join(others)} ran with another profile, and --only leaves them so; `mnist-study report` "
            f"builds only from notebooks of one profile: run without --only to bring them all to {profile}")
    shutil.rmtree(layout.report / ".staging", ignore_errors=True)  # left by a killed run
    total = time.perf_counter()
    waiting = {nb.stem for nb in chosen}

    def settle(nb: Path):
        """Skip or refresh ``nb`` if it needs no execution; else return why it must run."""
        inputs = cache.notebook_inputs(nbformat.read(nb, as_version=4), resolved[nb.stem], profile, shared,
                                       layout.artifacts)
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

    def finish(nb: Path, inputs: dict, executed: tuple[float, float | None]) -> None:
        seconds, flops = executed
        log(f"{nb.stem}: done in {seconds:.1f} s (elapsed {time.perf_counter() - total:.1f} s)")
        # The machine and data of the latest execution; earlier notebooks' runs shared them
        # unless the environment digest changed, which would have re-run them too.
        record.update({"environment": env, "data": {"source": mnist.source, "checksums": mnist.checksums,
                                                     "cache_dir": str(data.cache_dir())}})
        record["notebooks"][nb.stem] = {
            "profile": profile, "parameters": resolved[nb.stem], "seconds": round(seconds, 2), "jobs": jobs,
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "inputs": inputs, "outputs": outputs_digest(layout, nb.stem),
            "training_flops": flops, "read_digests": cache.reads_digest(layout.artifacts, reads[nb.stem]),
            **({"overrides": changed[nb.stem]} if changed.get(nb.stem) else {}),
        }
        record["this_run"][nb.stem] = "executed"
        record["profile"] = profile  # the default of the next run without --profile
        record["notebooks"] = dict(sorted(record["notebooks"].items()))  # in notebook order, however they ran
        artifacts.save_json(layout.run_record, record)
        waiting.discard(nb.stem)

    # With one job, the notebooks run in order. With more, a notebook that others read starts
    # first (most readers first), so the long chains get going early; then in order.
    readers = {nb.stem: len(with_dependents(notebooks, reads, [nb])) - 1 for nb in chosen}
    pending, running, failure = list(chosen), {}, None
    kernels, stop = [], threading.Event()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while pending or running:
                ready = list(pending) if jobs == 1 else sorted(pending, key=lambda nb: -readers[nb.stem])  # stable
                for nb in ready:
                    if failure or len(running) >= jobs:
                        break
                    if any(rel.split("/")[0] in waiting for rel in reads[nb.stem]):
                        continue  # an upstream notebook is still to run
                    pending.remove(nb)
                    inputs = settle(nb)
                    if inputs is None:
                        continue
                    shown = {"monitor": monitor, "expected": expected(nb.stem), "kernels": kernels, "stop": stop}
                    if jobs == 1:  # in this thread, so Ctrl-C interrupts it directly
                        finish(nb, inputs, execute(nb, resolved[nb.stem], layout, profile, reads[nb.stem], **shown))
                    else:
                        running[pool.submit(execute, nb, resolved[nb.stem], layout, profile, reads[nb.stem], **shown)] = (nb, inputs)
                if not running:
                    if failure:
                        break
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    nb, inputs = running.pop(future)
                    try:
                        finish(nb, inputs, future.result())
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
            raise Interrupted((f"kept {', '.join(kept)}, which finished; " if kept else "no notebook finished; ")
                              + f"{', '.join(stopped)}: stopped or not started, earlier outputs unchanged") from None
    try:
        problems = render(layout)
    except PipelineError:
        if failure:  # the notebook's own failure is the news
            raise failure from None
        raise
    if failure:
        raise failure
    if problems:
        log(f"warning: {len(problems)} text(s) have no translation or are out of date:\n  - "
            + "\n  - ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    states = list(record["this_run"].values())
    log(", ".join(f"{states.count(s)} {s}" for s in ("executed", "refreshed", "up to date"))
        + f" ({time.perf_counter() - total:.1f} s)")
    return record


def _say(message: str) -> None:
    print(message, flush=True)


def _previous_record(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
