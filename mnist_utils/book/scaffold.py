"""``mnist-study new``: a working skeleton for a notebook of one's own, with its Chinese and its smoke settings.

The skeleton follows every convention the build checks (a parameters cell with typed values and
rules, the check cell, code that computes and publishes, prose with blanks, a captioned figure),
runs as it is in the smoke profile and appears in both editions of the report. Its Chinese entries
are written for the skeleton's own text; the title cell, which holds the question in English, is
left for its author to translate (``mnist-study translations`` lists it until then).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mnist_utils.book import translations
from mnist_utils.book.environment import KERNELSPEC
from mnist_utils.book.errors import PipelineError
from mnist_utils.book.notebooks import NOTEBOOK_PATTERN, Layout

NAME = re.compile(r"(\d\d)_([a-z][a-z0-9_]*)")

RUNNER = "from the project folder; set by the runner"
PARAMETERS = "\n".join(
    [
        'profile: str = "full"  # parameter profile name; set by the runner',
        f'artifacts_dir: str = "report/artifacts"  # root of every notebook\'s artifacts, {RUNNER}',
        'output_dir: str = "report/artifacts/{name}"  # where this notebook writes, ' + RUNNER,
        "seeds: list[int] = [0, 1, 2]  # one training run per seed [non-empty; each at least 0]",
        "epochs: int = 3  # passes over the training set [at least 1]",
        "batch_size: int = 128  # images per gradient step [at least 1]",
        "train_limit: int = 0  # training images to use, 0 for all; the smoke profile uses a stratified subset "
        "[at least 0]",
    ]
)

CHECK = """\
from mnist_utils import validation

validation.check(globals())  # stops here, before any work, naming each value its parameter does not allow"""

SETUP = """\
from mnist_utils import artifacts, data, display, evaluation, models, plots, training

plots.style()
training.set_determinism()
training.set_precision()  # mixed float16 on a GPU, float32 on a CPU
out = artifacts.resolve(output_dir)
splits = data.split(data.load_mnist(), train_limit=train_limit)"""

TRAIN = """\
runs = training.run_seeds(models.build_mlp, splits, seeds, epochs=epochs, batch_size=batch_size, label="the MLP")
test = evaluation.summary([r.test_accuracy for r in runs])
display.facts(test=test, epochs=epochs, batch_size=batch_size)"""

FIGURE = """\
fig = plots.learning_curves([r.history for r in runs])
artifacts.save_figure(fig, out / "learning_curves.png")
display.figure(fig, label="{number}-learning_curves")"""

SAVE = """\
artifacts.save_json(out / "metrics.json", {
    "seeds": seeds, "epochs": epochs, "batch_size": batch_size, "test_accuracy": test,
    "histories": {str(r.seed): r.history for r in runs},
})"""

TITLE = """\
# {title}

**Question.** {question}

- **Inputs.** The data split of notebook 01 (`mnist_utils.data.split`).
- **Outputs.** `report/artifacts/{name}/`: `metrics.json` and the figure below.

{## To use another notebook's results, list its file in this notebook's metadata (JupyterLab: the property
inspector), for example "mnist_study": {"reads": ["02_mlp_baseline/metrics.json"]}, and load it in a code cell:
artifacts.load_json(artifacts.resolve(artifacts_dir) / "02_mlp_baseline" / "metrics.json"). ##}"""

TITLE_ZH = """\
# {title}

**问题。** {question}

- **输入。** 笔记本 01 的数据划分（`mnist_utils.data.split`）。
- **输出。** `report/artifacts/{name}/`：`metrics.json` 和下面的图。"""

# The other markdown cells: (id, English, Chinese); the title's Chinese is left for its author.
PROSE = [
    (
        "cell-03",
        "## The experiment\n\nAs a start, the baseline MLP of notebook 02 (784 → 128 ReLU → 10, Adam) trains once\n"
        "per seed, at batch {{ batch_size }}.\n{## Replace it with the experiment that answers the question above. ##}",
        "## 实验\n\n作为起点，笔记本 02 的基线 MLP（784 → 128 ReLU → 10，Adam）对每个种子训练一次，\n"
        "批大小为 {{ batch_size }}。",
    ),
    (
        "cell-04-text",
        'Over {{ test.n | plural("seed") }} and {{ epochs | plural("epoch") }}, the MLP reaches a test accuracy of\n'
        "**{{ test | pm }}**.",
        "在 {{ test.n }} 个种子、{{ epochs }} 轮训练后，MLP 的测试准确率为 **{{ test | pm }}**。",
    ),
    (
        "cell-05-caption",
        "Figure: Learning curves: mean over {{ test.n }} seed(s), band = min–max {#fig:{number}-learning_curves}",
        "学习曲线：{{ test.n }} 个种子的均值，色带为最小值到最大值",
    ),
    (
        "cell-07",
        "**Takeaways.** At batch {{ batch_size }} the MLP classifies {{ test | pct }} of the test digits correctly\n"
        "([@fig:{number}-learning_curves]).",
        "**要点。** 批大小为 {{ batch_size }} 时，MLP 正确分类了 {{ test | pct }} 的测试数字"
        "（[@fig:{number}-learning_curves]）。",
    ),
]

SMOKE = """\
  {name}:
    seeds: [0]
    epochs: 1
    train_limit: 3000
"""


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{key}`` of ``values`` replaced; every other brace (Jinja's, JSON's) stays."""
    for key, value in values.items():
        template = template.replace(f"{{{key}}}", value)
    return template


def _free_number(taken: set[str]) -> str:
    return next(f"{n:02d}" for n in range(1, 100) if f"{n:02d}" not in taken)


def skeleton(name: str, question: str) -> tuple[nbformat.NotebookNode, str]:
    """The notebook ``name`` asking ``question``, and its Chinese translations file (YAML text)."""
    number = name[:2]
    fill = {"name": name, "number": number, "title": name[3:].replace("_", " ").capitalize(), "question": question}
    prose = [(cid, _fill(en, fill), _fill(zh, fill)) for cid, en, zh in PROSE]
    md = {cid: new_markdown_cell(en, id=cid) for cid, en, _ in prose}
    cells = [
        new_markdown_cell(_fill(TITLE, fill), id="cell-00"),
        new_code_cell(_fill(PARAMETERS, fill), id="cell-01", metadata={"tags": ["parameters"]}),
        new_code_cell(CHECK, id="cell-01-check"),
        new_code_cell(SETUP, id="cell-02"),
        md["cell-03"],
        new_code_cell(TRAIN, id="cell-04"),
        md["cell-04-text"],
        new_code_cell(_fill(FIGURE, fill), id="cell-05"),
        md["cell-05-caption"],
        new_code_cell(SAVE, id="cell-06"),
        md["cell-07"],
    ]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "mnist_study": {"reads": []},
        },
    )
    # The title's entry records no English: it is out of date until its author translates the question.
    entries = {"cell-00": {"en": "", "text": _fill(TITLE_ZH, fill)}}
    entries |= {cid: {"en": translations.english_hash(en), "text": zh} for cid, en, zh in prose}
    return nb, translations.dump_translations(entries, "zh", f"{name}.ipynb")


def new(name: str, question: str, layout: Layout) -> list[Path]:
    """Write the skeleton of notebook ``name`` (``08_batch_size``) asking ``question``: the notebook,
    its Chinese file and a section of the smoke profile. Refuses a number or a name already taken,
    and writes nothing then; returns the paths written or changed."""
    if not NAME.fullmatch(name):
        raise PipelineError(
            f"Notebook name {name!r}: use two digits, an underscore and lower-case letters, digits or "
            "underscores, e.g. 08_batch_size."
        )
    question = " ".join(question.split())
    if not question:
        raise PipelineError("The question is empty: give the question the notebook answers, in quotes.")
    by_number = {p.stem[:2]: p.stem for p in layout.notebooks.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name)}
    if name[:2] in by_number:
        raise PipelineError(
            f"Number {name[:2]} is taken by {by_number[name[:2]]}.ipynb; choose a free one, "
            f"e.g. {_free_number(set(by_number))}_{name[3:]}."
        )
    path = layout.notebooks / f"{name}.ipynb"
    zh_path = translations.translations_path(path, "zh")
    smoke = layout.params / "smoke.yaml"
    if zh_path.exists():
        raise PipelineError(f"{zh_path} already exists; remove it or choose another name.")
    smoke_text = smoke.read_text(encoding="utf-8") if smoke.exists() else None
    if smoke_text is not None and name in (yaml.safe_load(smoke_text) or {}).get("notebooks", {}):
        raise PipelineError(f"{smoke} already has a section for {name}; remove it or choose another name.")

    nb, zh_text = skeleton(name, question)
    written = []
    try:
        nbformat.write(nb, path)
        written.append(path)
        zh_path.parent.mkdir(exist_ok=True)
        zh_path.write_text(zh_text, encoding="utf-8")
        written.append(zh_path)
        if smoke_text is not None:
            text = smoke_text + ("" if smoke_text.endswith("\n") else "\n") + _fill(SMOKE, {"name": name})
            if name not in (yaml.safe_load(text) or {}).get("notebooks", {}):
                raise PipelineError(
                    f"{smoke} does not end inside its 'notebooks:' section; add a section for {name} by hand."
                )
            smoke.write_text(text, encoding="utf-8")
            written.append(smoke)
    except BaseException:
        for p in written[:2]:
            p.unlink(missing_ok=True)
        raise
    return written
