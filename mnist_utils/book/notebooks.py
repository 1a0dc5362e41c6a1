"""The study's notebooks and what sets them: found in ``notebooks/`` by their ``NN_`` prefix, each
with a ``parameters`` cell whose typed values a profile (``params/NAME.yaml``) or ``-p`` may change,
and the upstream artifacts each declares it reads (``metadata.mnist_study.reads``). Everything here
is checked before anything runs, and every problem is listed at once."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mnist_utils import artifacts, validation
from mnist_utils.book import cache
from mnist_utils.book.errors import PipelineError

# Parameters every notebook declares and only the runner sets.
RUNNER_PARAMETERS = ("profile", "artifacts_dir", "output_dir")
NOTEBOOK_PATTERN = re.compile(r"^(\d{2})_[A-Za-z0-9_]+\.ipynb$")


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
        raise PipelineError(
            "Each notebook needs a number of its own, but "
            + "; ".join(" and ".join(names) for names in twins)
            + f" share one in {notebooks_dir}. Rename or move the copy (a number no other "
            f"notebook has makes it a new part of the study)."
        )
    return found


def read_profile(params_dir: Path, name: str) -> dict:
    """Read ``params/<name>.yaml``: ``notebooks`` (``{"NN_name": {param: value}}``),
    ``jobs`` (how many notebooks may run at once; 1 unless the profile says otherwise) and
    ``alone`` (notebooks, by name or number, that run with every core and nothing beside them
    when ``jobs`` is more than 1; the others then run on cores of their own)."""
    import yaml

    path = Path(params_dir) / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(params_dir).glob("*.yaml") if p.stem != "report")
        raise PipelineError(f"Unknown profile {name!r}: {path} does not exist. Known: {', '.join(known)}.")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise PipelineError(f"Profile {path} is not valid YAML: {e}") from e
    unknown = set(doc) - {"description", "notebooks", "jobs", "alone"}
    if unknown:
        raise PipelineError(
            f"Profile {path}: unknown top-level key(s) {sorted(unknown)}; "
            f"expected 'description', 'jobs', 'alone' and 'notebooks'."
        )
    sections = doc.get("notebooks") or {}
    if not isinstance(sections, dict) or not all(isinstance(v, dict) or v is None for v in sections.values()):
        raise PipelineError(f"Profile {path}: 'notebooks' must map notebook names to parameter mappings.")
    jobs = doc.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise PipelineError(f"Profile {path}: 'jobs' must be a whole number of at least 1, got {jobs!r}.")
    alone = doc.get("alone") or []
    if not isinstance(alone, list) or not all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in alone):
        raise PipelineError(f"Profile {path}: 'alone' must be a list of notebook names or numbers, got {alone!r}.")
    return {
        "notebooks": {str(k): dict(v or {}) for k, v in sections.items()},
        "jobs": jobs,
        "alone": [str(a) for a in alone],
    }


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
        raise PipelineError(
            f"{notebook.name}: no cell tagged 'parameters'. Tag the first code "
            f"cell 'parameters' and declare each parameter as `name: type = value`."
        )
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
    problems = [
        f"profile section {name!r} matches no notebook (have: {', '.join(by_name)})"
        for name in profile
        if name not in by_name
    ]
    resolved = {}
    for stem, path in by_name.items():
        declared = declared_parameters(path)
        missing = [p for p in RUNNER_PARAMETERS if p not in declared]
        if missing:
            problems.append(f"{path.name}: parameters cell must declare {', '.join(missing)}")
        values = {name: info["default"] for name, info in declared.items() if name not in RUNNER_PARAMETERS}
        for name, value in profile.get(stem, {}).items():
            if name in RUNNER_PARAMETERS:
                problems.append(f"{path.name}: {name!r} is set by the runner, not by a profile")
            elif name not in declared:
                problems.append(
                    f"{path.name}: unknown parameter {name!r} "
                    f"(declared: {', '.join(sorted(set(declared) - set(RUNNER_PARAMETERS)))})"
                )
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
        raise PipelineError(
            f"{', '.join(sorted(unknown))}: no such notebook (have: {', '.join(nb.stem for nb in notebooks)})."
        )
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
            problems.append(
                f"-p {text}: the value is not YAML ({str(e).splitlines()[0]}); quote it for the shell, "
                f"e.g. -p '02.seeds=[0, 1]'"
            )
    if problems:
        raise PipelineError("Bad -p settings:\n  - " + "\n  - ".join(problems))
    return found
