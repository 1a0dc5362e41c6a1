"""Write and read a notebook's artifacts (JSON metrics, figures, models) atomically.

Every writer goes through a temporary file in the target directory and an
``os.replace``, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    # mkstemp creates the file private (0600); give the result the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def project_root() -> Path:
    """The project folder (the one holding ``notebooks/`` beside this package), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "notebooks").is_dir() else Path.cwd()


def resolve(path: str | os.PathLike) -> Path:
    """A path from a notebook's parameters: absolute as given, relative from the project folder,
    so a notebook run from any working directory reads and writes inside the project."""
    path = Path(path)
    return path if path.is_absolute() else project_root() / path


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON (stable bytes for equal content)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_to_builtin) + "\n")


def _require(path: Path) -> Path:
    if path.is_file():
        return path
    rel = f"{path.parent.name}/{path.name}"
    # Under the runner a notebook sees only the reads it declares, staged in
    # report/.staging/NN_name/reads/; the artifact may well exist in report/artifacts/.
    if len(path.parts) >= 5 and path.parts[-3] == "reads" and path.parts[-5] == ".staging":
        if (path.parents[4] / "artifacts" / rel).is_file():
            raise FileNotFoundError(
                f"Artifact {rel} exists, but this notebook does not declare that it reads it, so the runner "
                f'did not give it to the notebook. Add "{rel}" to the notebook\'s metadata '
                f'("mnist_study": {{"reads": [...]}}, in JupyterLab\'s property inspector), then run again.'
            )
    raise FileNotFoundError(
        f"Artifact {path} is missing. Run the notebook that writes it first "
        f"(`mnist-study run --only {path.parent.name[:2]}`)."
    )


def load_json(path: str | os.PathLike):
    """Read a JSON artifact, naming the file and the notebook that makes it if it is missing."""
    return json.loads(_require(Path(path)).read_text(encoding="utf-8"))


def load_array(path: str | os.PathLike):
    """Read a ``.npy`` artifact (never unpickling), with the same message if it is missing."""
    import numpy as np

    return np.load(_require(Path(path)), allow_pickle=False)


def save_figure(fig, path: str | os.PathLike, dpi: int = 150) -> None:
    """Save a matplotlib figure atomically (format from the suffix)."""
    with atomic_path(path) as tmp:
        fig.savefig(
            tmp,
            dpi=dpi,
            bbox_inches="tight",
            format=Path(path).suffix.lstrip("."),
            metadata={"Software": None} if Path(path).suffix == ".png" else None,
        )


def save_array(path: str | os.PathLike, array) -> None:
    """Save a numpy array as ``.npy`` atomically (load it with ``allow_pickle=False``)."""
    import numpy as np

    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)


def save_arrays(path: str | os.PathLike, arrays: dict) -> None:
    """Save named numpy arrays as one compressed ``.npz`` atomically (see :func:`load_arrays`)."""
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{name: np.asarray(a) for name, a in arrays.items()})


def load_arrays(path: str | os.PathLike) -> dict:
    """Read a ``.npz`` artifact into a dict of arrays (never unpickling)."""
    import numpy as np

    with np.load(_require(Path(path)), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_model(model, path: str | os.PathLike) -> None:
    """Save a Keras model as ``.keras`` atomically."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def _to_builtin(value):
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
