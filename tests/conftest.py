"""Shared fixtures: small synthetic notebooks and IDX bytes."""

import os

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test that needs the real MNIST fails at once, before its fixtures, when the data cache
    lacks it: `make test` fetches and verifies it first (`make data`); no test downloads it."""
    if item.get_closest_marker("mnist") or item.get_closest_marker("e2e"):
        from mnist_utils import data

        if not data.is_cached():
            pytest.fail(
                f"this test needs the real MNIST in {data.cache_dir()}: run `make data` (or `mnist-study data`) first",
                pytrace=False,
            )


def wait_for(condition, what: str, timeout: float = 120.0):
    """Wait until ``condition()`` holds; fail naming ``what`` if it does not within ``timeout`` seconds
    (a test waits for what it needs, never for a number of seconds a loaded machine can miss)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


RUNNER_CELL = (
    'profile: str = "full"  # set by the runner\n'
    'artifacts_dir: str = "."  # set by the runner\n'
    'output_dir: str = "."  # set by the runner\n'
)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 2049 for 1-D, 2051 for 3-D)."""
    magic = 2049 if array.ndim == 1 else 2051
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_notebook(path, parameters: str | None, body: list[str] = (), tag: str = "parameters"):
    """A notebook with an optional tagged parameters cell followed by code cells."""
    cells = [new_markdown_cell(f"# {path.stem}")]
    if parameters is not None:
        cell = new_code_cell(parameters)
        cell.metadata["tags"] = [tag]
        cells.append(cell)
    cells += [new_code_cell(src) for src in body]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "mnist-study", "display_name": "Python (mnist-study)", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebook_factory(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()

    def make(name, parameters=RUNNER_CELL, body=(), tag="parameters"):
        return write_notebook(folder / name, parameters, list(body), tag)

    make.folder = folder
    return make
