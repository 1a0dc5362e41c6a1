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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_english_markdown_cell_has_a_chinese_twin(path):
    """The narrative is kept in both languages: each lang-en cell is followed by its lang-zh
    twin, with headings at the same levels (so both editions number their sections alike)."""
    import re

    from mnist_utils import i18n

    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
    tags = [next((t for t in c["metadata"].get("tags", []) if t in i18n.CELL_TAGS), None) for c in cells]
    for i, (cell, tag) in enumerate(zip(cells, tags)):
        text = "".join(cell["source"])
        if tag is None:  # shown in both editions: nothing to translate in it
            assert not i18n.untranslated(re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)), text[:80]
        elif tag == "lang-en":
            assert i + 1 < len(cells) and tags[i + 1] == "lang-zh", f"no Chinese twin after: {text[:80]}"
            twin = "".join(cells[i + 1]["source"])
            levels = [len(m) for m in re.findall(r"^(#+) ", text, flags=re.M)]
            assert levels == [len(m) for m in re.findall(r"^(#+) ", twin, flags=re.M)], text[:80]
            assert i18n.has_chinese(twin) and text.count("[@") == twin.count("[@"), twin[:80]
        else:
            assert i > 0 and tags[i - 1] == "lang-en", f"a Chinese cell without its English one: {text[:80]}"
