"""The committed notebooks follow the conventions the runner and report rely on."""

import json
from pathlib import Path

import pytest

from mnist_utils import pipeline

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["01", "02"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterized(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be 'parameters'"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "commit without outputs"
    for c in code:
        for line in "".join(c["source"]).splitlines():
            assert not line.lstrip().startswith(("def ", "class ")), f"move into mnist_utils: {line}"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")


@pytest.mark.parametrize("profile", ["full", "smoke"])
def test_profiles_fit_the_notebooks(profile):
    layout = pipeline.default_layout()
    resolved = pipeline.resolve_parameters(
        pipeline.discover(layout.notebooks), pipeline.load_profile(layout.params, profile))
    assert set(resolved) == {p.stem for p in NOTEBOOKS}
