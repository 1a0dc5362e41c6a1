"""The committed notebooks follow the conventions the runner and report rely on."""

import json
from pathlib import Path

import pytest

from mnist_utils.book import conventions, notebooks, pipeline

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
    # nbformat allows a cell's source as one string or as a list of lines.
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")


@pytest.mark.parametrize("profile", ["full", "smoke"])
def test_profiles_fit_the_notebooks(profile):
    layout = pipeline.default_layout()
    resolved = pipeline.resolve_parameters(
        pipeline.discover(layout.notebooks), notebooks.load_profile(layout.params, profile)
    )
    assert set(resolved) == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_computes_and_markdown_tells_in_one_language(path):
    """Code cells publish values and show figures and tables; sentences, captions and the Chinese
    live in markdown and in notebooks/zh/ (DESIGN.md: "Code computes, markdown tells"). The runner
    refuses a notebook that breaks these rules with the same check."""
    assert conventions.problems(path) == []


def test_the_cell_the_end_to_end_test_edits_leaves_room_for_its_line(tmp_path):
    """tests/test_e2e.py appends a line to notebook 02's last code cell; the edited notebook must still
    keep the house rules, or the runner refuses it and that slow test fails for a reason found here first."""
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "02_mlp_baseline.ipynb", as_version=4)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    last.source += "\n# x"
    edited = tmp_path / "02_mlp_baseline.ipynb"
    nbformat.write(nb, edited)
    assert conventions.problems(edited) == []
    last.source += "\n# y\n# z"  # the rule is still there: two more lines break it
    nbformat.write(nb, edited)
    assert [p.what.split(" (")[0] for p in conventions.problems(edited)] == ["a code cell of 17 lines"]


# A figure in the prose is computed (a template expression) or it is one of these, each with its reason.
ALLOWED_FIGURES = [
    (r"(?:[Cc]ourse )?[Pp]apers? \d{3}(?:(?:, | and | or )\d{3})*|paper-\d{3}|论文 ?\d{3}", "a course paper's number"),
    (r"\b[Nn]otebooks? \d\d(?:(?:, | and | or )\d\d)*|笔记本 ?\d\d(?:(?:、| 和 )\d\d)*", "a notebook's number"),
    (r"(?:[A-Z][\w'-]+|et al\.|等)[,，]? ?(?:19|20)\d\d|[(（](?:19|20)\d\d[)）]", "a citation's year"),
    (
        r"\b(?:micro-|macro-)?F1\b|\bL[12]\b|\bu?int8\b|\bb?float(?:16|32)\b|LeNet-5|MNIST|MobileNetV2|EfficientNet-?B0",
        "a name with a digit in it",
    ),
    (r"\d+ ?× ?\d+|\d+@\d+×\d+", "an image's or a kernel's shape"),
    (r"\b255\b|\[0, 1\]|exactly 0\b|恰为 0", "the IDX format's pixel values: 0 to 255, scaled to [0, 1]"),
    (r"\b100 %", "the ceiling of an accuracy"),
    (r"[<>]\s*1(?=[)）])", "a temperature against 1, which leaves the logits as they are"),
    (r"< 0\.001", "how a p-value below a thousandth is printed"),
    (r"about 99\.8 %|约 99\.8 %", "Northcutt et al. (2021)'s estimate of what MNIST's label errors allow, cited"),
]
# Cells that give a course paper's recipe, or published figures, as the source states them.
QUOTED_CELLS = {
    ("05_cnn", "cell-03"): "the three papers' recipes (notebook 05 builds them in models.py)",
    ("05_cnn", "cell-06"): "our CNN's architecture, as models.build_cnn builds it",
    ("05_cnn", "cell-16"): "paper 001's cross-validation recipe",
    ("06_error_analysis", "cell-20"): "published FGSM figures, cited",
    ("06_error_analysis", "cell-25"): "the UCI digits' documentation: writers and image size",
    ("07_course_papers", "cell-03"): "paper 000's recipe",
    ("07_course_papers", "cell-08"): "paper 001's recipe",
    ("07_course_papers", "cell-10"): "paper 002's recipe",
    ("07_course_papers", "cell-12"): "paper 003's recipe",
}


def typed_figures(text: str) -> list[str]:
    """The figures in ``text`` outside template expressions, code, maths, labels and the allowed forms."""
    import re

    text = re.sub(
        r"\{\{.*?\}\}|\{%.*?%\}|\{##.*?##\}|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\{#[^}]*\}|\[@[^\]]*\]|\]\([^)]*\)",
        " ",
        text,
        flags=re.S,
    )
    for pattern, _ in ALLOWED_FIGURES:
        text = re.sub(pattern, " ", text)
    return re.findall(r"\S*\d\S*", text)


def test_the_prose_types_no_figure_it_could_compute():
    """Every digit in the notebooks' markdown (English and Chinese) and the report's templates is
    computed, or allowed above with its reason."""
    import yaml

    found = []
    for path in NOTEBOOKS:
        chinese = yaml.safe_load((path.parent / "zh" / f"{path.stem}.yaml").read_text(encoding="utf-8"))
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "markdown" or (path.stem, cell["id"]) in QUOTED_CELLS:
                continue
            for text in ("".join(cell["source"]), chinese[cell["id"]]["zh"]):
                found += [f"{path.stem} {cell['id']}: {f}" for f in typed_figures(text)]
    for path in sorted((ROOT / "mnist_utils" / "templates" / "sections").glob("*.md")):
        found += [f"{path.name}: {f}" for f in typed_figures(path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize(
    "text, figures",
    [
        ("stably above 97 %", ["97"]),
        ("after {{ epochs }} epochs", []),
        ("paper 001's 98.89 %", ["98.89"]),
        ("notebook 02 (LeNet-5, 28 × 28, Ioffe and Szegedy 2015)", []),
        ("$\\epsilon = 0.3$ and `x = 2`", []),
        ("论文 000 的 600 步", ["600"]),
    ],
)
def test_the_figure_scan_finds_a_typed_figure_and_passes_the_allowed_ones(text, figures):
    assert typed_figures(text) == figures


def control_statements(text: str) -> tuple[int, int]:
    """The ``{% if %}`` and ``{% for %}`` statements of a template (``elif`` and inline ``x if c else y``
    not counted), the loops only outside a markdown table, whose rows a loop may build."""
    import re

    ifs = len(re.findall(r"\{%-?\s*if\b", text))
    table = re.search(r"^\s*\|", text, re.M) is not None
    fors = 0 if table else len(re.findall(r"\{%-?\s*for\b", text))
    return ifs, fors


def test_the_control_statement_count_sees_what_it_limits():
    assert control_statements("{% if a %}x{% elif b %}y{% endif %} {{ 'p' if c else 'q' }}") == (1, 0)
    assert control_statements("{%- if a %}x{% endif %}{% if b %}y{% endif %}") == (2, 0)
    assert control_statements("We saw {% for d in ds %}{{ d }}{% endfor %}.") == (0, 1)
    assert control_statements("| a | b |\n|--|--|\n{% for r in rows %}| {{ r }} | x |\n{% endfor %}") == (0, 0)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_prose_reads_as_sentences_with_blanks(path):
    """A markdown cell holds at most one {% if %} and no {% for %} in its sentences (a table built row
    by row is fine); more logic goes into a named macro (templates/sections/macros.en.md)."""
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        ifs, fors = control_statements("".join(cell["source"]))
        assert ifs <= 1 and fors == 0, f"{path.stem} {cell['id']}: {ifs} ifs, {fors} loops; move the logic into a macro"


def _notebook(tmp_path, *cells):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    made = [new_markdown_cell("# A student's notebook", id="title")]
    made += [
        new_code_cell(c, id=f"c{i}") if isinstance(c, str) else new_markdown_cell(c[0], id=f"m{i}")
        for i, c in enumerate(cells)
    ]
    path = tmp_path / "08_mine.ipynb"
    nbformat.write(new_notebook(cells=made), path)
    return path


def test_the_house_rules_name_the_cell_the_line_and_what_to_do(tmp_path):
    """Each rule on both sides of its line: what a notebook may do passes, what it may not is named."""
    fine = _notebook(
        tmp_path,
        'display.facts(test=test)\nlabel = f"seed {s}"',  # a short label, not a sentence
        "\n".join(f"x{i} = {i}" for i in range(15)),  # 15 lines: the limit itself
        'ax.set_title(f"validation accuracy per epoch, {n} seeds")',  # five words: a label, not yet a sentence
        ("A sentence in **markdown** with {{ test | pm }}.",),
    )
    assert conventions.problems(fine) == []
    bad = _notebook(
        tmp_path,
        'x = 1\nprint(f"the MLP reaches {acc:.2%} on test digits")',  # six words: a sentence
        "\n".join(f"x{i} = {i}" for i in range(16)),
        "def helper(x):\n    return x",
        "class Thing:\n    pass",
        "word = f\"{'better' if a > b else 'worse'}\"",
        "print('准确率')",
        ("测试准确率",),
    )
    found = [(p.cell, p.line, p.what.split(" (")[0].split(":")[0]) for p in conventions.problems(bad)]
    assert found == [
        ("c0", 2, "a sentence built in code"),
        ("c1", 16, "a code cell of 16 lines"),
        ("c2", 1, "`def helper` in a notebook"),
        ("c3", 1, "`class Thing` in a notebook"),
        ("c4", 1, "wording chosen in code"),
        ("c5", 1, "Chinese in the notebook"),
        ("m6", 1, "Chinese in the notebook"),
    ]
    assert str(conventions.problems(bad)[0]).startswith("08_mine.ipynb, cell c0, line 2: a sentence built in code")
