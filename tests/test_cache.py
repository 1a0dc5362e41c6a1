"""Cache keys: a change to each input invalidates exactly the notebooks it should."""

import shutil

import nbformat
import numpy as np
import pytest

from mnist_utils import artifacts
from mnist_utils.book import cache, pipeline
from mnist_utils.book.notebooks import load_profile

SHARED = {"data": "d0", "environment": "e0"}


@pytest.fixture
def study(tmp_path):
    """The real notebooks, a copy of the package and fake upstream artifacts, in tmp_path."""
    layout = pipeline.default_layout()
    package = tmp_path / "mnist_utils"
    shutil.copytree(cache.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    art = tmp_path / "artifacts"
    artifacts.save_json(art / "02_mlp_baseline" / "metrics.json", {"test_accuracy": 0.97})
    artifacts.save_json(art / "02_mlp_baseline" / "timings.json", {"seconds": 30.1})
    artifacts.save_array(art / "02_mlp_baseline" / "test_predictions.npy", np.arange(10) % 10)
    artifacts.save_json(art / "05_cnn" / "metrics.json", {"best": {"keras": "best_cnn.keras"}})
    notebooks = {p.stem: nbformat.read(p, as_version=4) for p in pipeline.discover(layout.notebooks)}
    profile = load_profile(layout.params, "smoke")
    params = pipeline.resolve_parameters(pipeline.discover(layout.notebooks), profile)

    def keys(shared=SHARED, params=params, profile="smoke"):
        return {
            stem: cache.notebook_inputs(nb, params[stem], profile, shared, art, package)
            for stem, nb in notebooks.items()
        }

    return notebooks, package, art, params, keys


def invalidated(before, after) -> dict[str, list[str]]:
    """notebook -> changed inputs, for the notebooks whose key changed."""
    return {
        stem: cache.changed(before[stem], after[stem]) for stem in before if cache.changed(before[stem], after[stem])
    }


def test_keys_are_stable(study):
    *_, keys = study
    assert keys() == keys()
    assert cache.changed(None, keys()["01_data"]) == sorted(keys()["01_data"])


@pytest.mark.parametrize(
    "module, expected",
    [
        # The book wing: what runs the notebooks and builds the report is no notebook's input.
        ("book/report.py", set()),
        ("book/cli.py", set()),
        ("book/pipeline.py", set()),
        ("book/cache.py", set()),
        ("book/prose.py", set()),
        ("book/notebooks.py", set()),
        ("book/errors.py", set()),
        ("export.py", {"05_cnn"}),
        ("analysis.py", {"05_cnn", "06_error_analysis"}),  # 05 prepares scikit-learn's digits for 07
        (
            "models.py",
            {"02_mlp_baseline", "03_optimizers_activations", "04_regularization", "05_cnn", "07_course_papers"},
        ),
        (
            "data.py",
            {
                "01_data",
                "02_mlp_baseline",
                "03_optimizers_activations",
                "04_regularization",
                "05_cnn",
                "06_error_analysis",
                "07_course_papers",
            },
        ),
        ("papers.py", {"07_course_papers"}),
        # A module's data file (same stem) counts as the module: editing the claims re-runs 07 only.
        ("papers.yaml", {"07_course_papers"}),
    ],
)
def test_editing_a_module_invalidates_the_notebooks_that_import_it(study, module, expected):
    _, package, _, _, keys = study
    before = keys()
    with open(package / module, "a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    changes = invalidated(before, keys())
    assert set(changes) == expected
    assert all(c == ["modules"] for c in changes.values())


def test_predict_imports_are_followed_into_backend(study):
    """06 imports predict, which imports backend: editing backend must reach 06."""
    _, package, _, _, keys = study
    before = keys()
    with open(package / "backend.py", "a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    assert "06_error_analysis" in invalidated(before, keys())
    assert "01_data" not in invalidated(before, keys())


def test_a_parameter_invalidates_only_its_notebook(study):
    _, _, _, params, keys = study
    before = keys()
    changed = {**params, "04_regularization": {**params["04_regularization"], "epochs": 3}}
    assert invalidated(before, keys(params=changed)) == {"04_regularization": ["parameters"]}


def test_the_profile_name_invalidates_every_notebook(study):
    *_, keys = study
    changes = invalidated(keys(), keys(profile="full"))
    assert len(changes) == len(keys()) and all(c == ["parameters"] for c in changes.values())


@pytest.mark.parametrize("shared", [{"data": "d1", "environment": "e0"}, {"data": "d0", "environment": "e1"}])
def test_data_and_environment_invalidate_every_notebook(study, shared):
    *_, keys = study
    changes = invalidated(keys(), keys(shared=shared))
    assert len(changes) == len(keys()) and len({tuple(c) for c in changes.values()}) == 1


def test_code_and_markdown_edits_are_told_apart(study):
    notebooks, *_, keys = study
    before = keys()
    md = next(c for c in notebooks["05_cnn"].cells if c.cell_type == "markdown")
    md.source += "\nOne more sentence."
    assert invalidated(before, keys()) == {"05_cnn": ["markdown"]}
    code = [c for c in notebooks["02_mlp_baseline"].cells if c.cell_type == "code"][-1]
    code.source += "\n# a comment"
    assert invalidated(before, keys()) == {"05_cnn": ["markdown"], "02_mlp_baseline": ["code"]}


def test_outputs_and_execution_counts_do_not_count(study):
    notebooks, *_, keys = study
    before = keys()
    for cell in notebooks["01_data"].cells:
        if cell.cell_type == "code":
            cell.execution_count = 7
            cell.outputs = [nbformat.v4.new_output("stream", text="hello")]
    assert invalidated(before, keys()) == {}


def test_upstream_artifacts_invalidate_exactly_their_readers(study):
    _, _, art, _, keys = study
    before = keys()
    artifacts.save_json(art / "02_mlp_baseline" / "timings.json", {"seconds": 31.7})  # read by no one
    assert invalidated(before, keys()) == {}
    artifacts.save_json(art / "02_mlp_baseline" / "metrics.json", {"test_accuracy": 0.98})  # read by 03 and 07
    assert invalidated(before, keys()) == {"03_optimizers_activations": ["reads"], "07_course_papers": ["reads"]}
    artifacts.save_array(art / "02_mlp_baseline" / "test_predictions.npy", np.zeros(10))  # 03, 06 and 07
    assert invalidated(before, keys()) == {
        "03_optimizers_activations": ["reads"],
        "06_error_analysis": ["reads"],
        "07_course_papers": ["reads"],
    }


def test_a_resaved_keras_model_with_the_same_weights_is_the_same_artifact(tmp_path):
    import zipfile

    from mnist_utils import backend

    keras = backend.keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(tmp_path / "saved.keras")
    # What a save in another process and another second changes: the date and object ids.
    for name, date, ident in (("a", b"2026-", b"111"), ("b", b"1999-", b"222")):
        with zipfile.ZipFile(tmp_path / "saved.keras") as src, zipfile.ZipFile(tmp_path / f"{name}.keras", "w") as dst:
            for member in src.namelist():
                blob = src.read(member)
                if member == "metadata.json":
                    blob = blob.replace(b'"date_saved": "', b'"date_saved": "' + date)
                if member == "config.json":
                    blob = blob.replace(b'"dtype": "float32"', b'"dtype": "float32", "shared_object_id": ' + ident)
                dst.writestr(member, blob)
    assert cache.file_digest(tmp_path / "a.keras") != cache.file_digest(tmp_path / "b.keras")
    assert cache.content_digest(tmp_path / "a.keras") == cache.content_digest(tmp_path / "b.keras")
    model.set_weights([w + 1 for w in model.get_weights()])
    model.save(tmp_path / "c.keras")
    assert cache.content_digest(tmp_path / "saved.keras") != cache.content_digest(tmp_path / "c.keras")


def test_imported_modules_follow_every_import_form(tmp_path):
    for name, text in {
        "__init__.py": "",
        "a.py": "from . import b\n",
        "b.py": "from .c import x\n",
        "c.py": "x = 1\n",
        "d.py": "",
        "e.py": "import json\n",
    }.items():
        (tmp_path / name).write_text(text)
    name = cache.PACKAGE_NAME
    assert cache.imported_modules(f"from {name} import a", tmp_path) == {"__init__.py", "a.py", "b.py", "c.py"}
    assert cache.imported_modules(f"import {name}.d as d", tmp_path) == {"__init__.py", "d.py"}
    assert cache.imported_modules(f"def f():\n    from {name}.e import y", tmp_path) == {"__init__.py", "e.py"}
    assert cache.imported_modules(f"import {name}", tmp_path) == {p.name for p in tmp_path.glob("*.py")}
    assert cache.imported_modules("import numpy", tmp_path) == {"__init__.py"}


def test_why_run_reasons():
    inputs = {"code": "c", "markdown": "m", "reads": "r"}
    done = {"inputs": inputs, "outputs": "o"}
    assert pipeline.why_run(inputs, done, "o", None) is None
    assert pipeline.why_run(inputs, done, "o", "--force") == "--force"
    assert pipeline.why_run(inputs, {}, "o", None) == "no successful run on record"
    assert "missing or were changed" in pipeline.why_run(inputs, done, "other", None)
    assert pipeline.why_run({**inputs, "markdown": "m2"}, done, "o", None) == "text"
    assert pipeline.why_run({**inputs, "markdown": "m2", "reads": "r2"}, done, "o", None) == (
        "changed: its text, the upstream artifacts it reads"
    )


def test_the_study_declares_what_it_reads():
    notebooks = pipeline.discover(pipeline.default_layout().notebooks)
    reads = pipeline.declared_reads(notebooks)
    assert reads["03_optimizers_activations"] == [
        "02_mlp_baseline/metrics.json",
        "02_mlp_baseline/test_predictions.npy",
    ]
    assert {r.split("/")[0] for r in reads["06_error_analysis"]} == {"02_mlp_baseline", "04_regularization", "05_cnn"}
    assert {r.split("/")[0] for r in reads["07_course_papers"]} == {
        "01_data",
        "02_mlp_baseline",
        "03_optimizers_activations",
        "04_regularization",
        "05_cnn",
    }
    chosen = pipeline.with_dependents(notebooks, reads, pipeline.select(notebooks, ["02"]))
    assert [p.stem for p in chosen] == [
        "02_mlp_baseline",
        "03_optimizers_activations",
        "06_error_analysis",
        "07_course_papers",
    ]
    chosen = pipeline.with_dependents(notebooks, reads, pipeline.select(notebooks, ["01"]))
    assert [p.stem for p in chosen] == ["01_data", "07_course_papers"]  # 07 reads 01's class counts
