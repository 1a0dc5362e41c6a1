"""Cache keys: what a notebook's results (and the report) depend on, as digests.

The runner compares a notebook's current inputs with those recorded at its last
successful run and executes it only when one differs. The inputs are:

- ``code``: its code cells (source and tags); ``markdown``: its other cells;
- ``parameters``: the values it receives and the profile's name;
- ``modules``: the ``mnist_utils`` modules it imports, followed through their
  own imports (editing the report builder re-runs no notebook), with a module's
  data file of the same name (``papers.yaml`` beside ``papers.py``);
- ``data``: the verified MNIST checksums; ``environment``: Python, the package
  versions and the GPUs, which all change the numbers;
- ``reads``: the content of the upstream artifacts it declares in its metadata
  (``mnist_study.reads``), so a rerun upstream that produces the same files
  re-runs nothing downstream.

A change to ``markdown`` alone needs no execution: the new text is spliced into
the executed notebook (see ``pipeline``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import zipfile
from pathlib import Path

# The science wing, whose modules the notebooks import; the book wing (this subpackage) is never
# among a notebook's inputs, so editing it re-runs nothing.
PACKAGE = Path(__file__).resolve().parents[1]
PACKAGE_NAME = PACKAGE.name
# Keras writes these into a .keras file on every save; they say nothing about the model.
KERAS_VOLATILE = re.compile(rb'"shared_object_id": \d+|"date_saved": "[^"]*"')


def digest(value) -> str:
    """SHA-256 of a JSON-able value, independent of dict order."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    from mnist_utils import data

    return data.file_digest(path, "sha256")


def content_digest(path: Path) -> str:
    """A file's digest for comparing results: a ``.keras`` file by its weights and
    configuration, ignoring the save date and object ids Keras writes each time."""
    path = Path(path)
    if path.suffix != ".keras":
        return file_digest(path)
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                h.update(name.encode() + b"\0" + KERAS_VOLATILE.sub(b"", z.read(name)) + b"\0")
    except zipfile.BadZipFile:
        return file_digest(path)
    return h.hexdigest()


def tree_digest(folder: Path) -> str | None:
    """Digest of every file under ``folder`` (names and bytes), hidden ones (such as JupyterLab's
    .ipynb_checkpoints/) left out; None when it does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    return digest({p.relative_to(folder).as_posix(): file_digest(p) for p in files})


def cells_digest(nb, code: bool) -> str:
    """Digest of a notebook's code cells (``code=True``) or of its other cells.

    Only source, type and tags count: outputs, execution counts and ids do not.
    """
    chosen = [c for c in nb.cells if (c.cell_type == "code") == code]
    return digest([[c.cell_type, c.source, sorted(c.get("metadata", {}).get("tags", []))] for c in chosen])


def code_source(nb) -> str:
    """The notebook's code as one Python text (IPython ``%``/``!`` lines blanked)."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines += ["" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()]
    return "\n".join(lines)


def imported_modules(source: str, package: Path = PACKAGE) -> set[str]:
    """The modules of the package that ``source`` imports, followed through their own imports.

    Returns file names relative to the package (``"plots.py"``); ``__init__.py`` is
    always included. Unparsable source counts as importing everything.
    """
    every = {p.name for p in package.glob("*.py")}
    found, todo = {"__init__.py"}, [source]
    while todo:
        try:
            tree = ast.parse(todo.pop())
        except SyntaxError:
            return every
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".") for a in node.names if a.name.split(".")[0] == PACKAGE_NAME]
                if any(len(n) == 1 for n in names):
                    return every
                names = [n[1] for n in names]
            elif isinstance(node, ast.ImportFrom):
                module = (node.module or "").split(".")
                if node.level == 0 and module[0] != PACKAGE_NAME:
                    continue
                inner = module[1:] if node.level == 0 else [m for m in module if m]
                names = [inner[0]] if inner else [a.name for a in node.names]
                if "*" in names:
                    return every
            for name in names:
                file = f"{name}.py"
                if file in every and file not in found:
                    found.add(file)
                    todo.append((package / file).read_text(encoding="utf-8"))
    return found


def modules_digest(source: str, package: Path = PACKAGE) -> str:
    """Digest of the package modules ``source`` depends on, and of their data files (same stem, ``.yaml``)."""
    files = sorted(imported_modules(source, package))
    files += [data for name in files if (package / (data := name.removesuffix(".py") + ".yaml")).is_file()]
    return digest({name: file_digest(package / name) for name in files})


def declared_reads(nb) -> list[str]:
    """The upstream artifacts a notebook reads: ``metadata.mnist_study.reads``, paths
    relative to the artifacts root such as ``"02_mlp_baseline/metrics.json"``."""
    reads = nb.metadata.get("mnist_study", {}).get("reads", [])
    if not isinstance(reads, list) or not all(isinstance(r, str) and r.count("/") == 1 for r in reads):
        raise ValueError("metadata mnist_study.reads must be a list of 'NN_notebook/file' paths")
    return list(reads)


def reads_digest(artifacts_dir: Path, reads: list[str]) -> dict[str, str | None]:
    """Content digest of each declared upstream artifact; None for a missing one."""
    out = {}
    for rel in reads:
        path = Path(artifacts_dir) / rel
        out[rel] = content_digest(path) if path.is_file() else None
    return out


def notebook_inputs(
    nb, parameters: dict, profile: str, shared: dict, artifacts_dir: Path, package: Path = PACKAGE
) -> dict[str, str]:
    """Every input of one notebook, each as a digest (see the module docstring).

    Args:
        nb: the notebook (an ``nbformat`` node) as it is on disk now.
        parameters: the resolved values it receives (without the runner's paths).
        profile: the profile's name, which the notebook also receives.
        shared: the inputs common to all notebooks: ``data`` and ``environment`` digests.
        artifacts_dir: where the upstream artifacts are.
    """
    return {
        "code": cells_digest(nb, code=True),
        "markdown": cells_digest(nb, code=False),
        "parameters": digest({"profile": profile, "values": parameters}),
        "modules": modules_digest(code_source(nb), package),
        "data": shared["data"],
        "environment": shared["environment"],
        "reads": digest(reads_digest(artifacts_dir, declared_reads(nb))),
    }


def changed(previous: dict | None, current: dict) -> list[str]:
    """Names of the inputs that differ between two ``notebook_inputs`` results."""
    if not previous:
        return sorted(current)
    return sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
