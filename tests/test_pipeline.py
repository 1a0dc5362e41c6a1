"""Notebook discovery and the profile checks that run before any notebook executes."""

import pytest

from conftest import RUNNER_CELL
from mnist_utils import pipeline


def test_discover_orders_by_prefix_and_ignores_others(notebook_factory):
    for name in ("10_later.ipynb", "02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "3_bad.ipynb"):
        notebook_factory(name)
    assert [p.name for p in pipeline.discover(notebook_factory.folder)] == [
        "01_a.ipynb", "02_b.ipynb", "10_later.ipynb"]


def test_declared_parameters_reads_types_defaults_and_help(notebook_factory):
    nb = notebook_factory("01_a.ipynb", RUNNER_CELL + "seeds: list[int] = [0, 1]  # runs\nlr: float = 0.1  # step\n")
    declared = pipeline.declared_parameters(nb)
    assert declared["seeds"] == {"type": "list[int]", "default": [0, 1], "help": "runs"}
    assert declared["lr"]["default"] == 0.1


def test_missing_parameters_cell_is_an_error(notebook_factory):
    nb = notebook_factory("01_a.ipynb", "x: int = 1  # a", tag="not-parameters")
    with pytest.raises(pipeline.PipelineError, match=r"01_a.ipynb: no cell tagged 'parameters'"):
        pipeline.declared_parameters(nb)


@pytest.mark.parametrize("line", ["x = 1  # no type", "x: int = len('a')  # computed", "print(1)"])
def test_parameters_cell_holds_only_typed_plain_values(notebook_factory, line):
    nb = notebook_factory("01_a.ipynb", RUNNER_CELL + line + "\n")
    with pytest.raises(pipeline.PipelineError, match="01_a.ipynb"):
        pipeline.declared_parameters(nb)


def _resolve(notebook_factory, profile):
    notebook_factory("01_a.ipynb", RUNNER_CELL + "epochs: int = 10  # passes\nlr: float = 0.1  # step\n")
    notebook_factory("02_b.ipynb")
    return pipeline.resolve_parameters(pipeline.discover(notebook_factory.folder), profile)


def test_profile_overrides_defaults(notebook_factory):
    resolved = _resolve(notebook_factory, {"01_a": {"epochs": 2, "lr": 1}})
    assert resolved["01_a"] == {"epochs": 2, "lr": 1}
    assert resolved["02_b"] == {}


def test_undeclared_parameter_names_notebook_and_parameter(notebook_factory):
    with pytest.raises(pipeline.PipelineError, match=r"01_a.ipynb: unknown parameter 'epoch'"):
        _resolve(notebook_factory, {"01_a": {"epoch": 2}})


@pytest.mark.parametrize("value", ["2", 2.5, True, None])
def test_wrong_type_names_notebook_parameter_and_type(notebook_factory, value):
    with pytest.raises(pipeline.PipelineError, match=r"01_a.ipynb: parameter 'epochs' must be int"):
        _resolve(notebook_factory, {"01_a": {"epochs": value}})


def test_runner_parameters_cannot_come_from_a_profile(notebook_factory):
    with pytest.raises(pipeline.PipelineError, match="'output_dir' is set by the runner"):
        _resolve(notebook_factory, {"01_a": {"output_dir": "/tmp"}})


def test_profile_section_for_unknown_notebook(notebook_factory):
    with pytest.raises(pipeline.PipelineError, match="'03_c' matches no notebook"):
        _resolve(notebook_factory, {"03_c": {}})


def test_all_problems_are_listed_at_once(notebook_factory):
    with pytest.raises(pipeline.PipelineError) as err:
        _resolve(notebook_factory, {"01_a": {"epochs": "x", "nope": 1}, "02_b": {"lr": 1.0}})
    assert str(err.value).count("\n  - ") == 3


def test_notebook_must_declare_runner_parameters(notebook_factory):
    notebook_factory("01_a.ipynb", "epochs: int = 1  # passes\n")
    with pytest.raises(pipeline.PipelineError, match="must declare profile, artifacts_dir, output_dir"):
        pipeline.resolve_parameters(pipeline.discover(notebook_factory.folder), {})


def test_check_type_accepts_int_for_float_and_generic_lists():
    assert pipeline.check_type(1, "float") and pipeline.check_type([1], "list[int]")
    assert not pipeline.check_type(True, "int") and not pipeline.check_type(1.0, "int")


def test_select_by_number_or_name(notebook_factory):
    for name in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb"):
        notebook_factory(name)
    found = pipeline.discover(notebook_factory.folder)
    assert [p.stem for p in pipeline.select(found, ["2", "03_c"])] == ["02_b", "03_c"]
    assert pipeline.select(found, None) == found
    with pytest.raises(pipeline.PipelineError, match="--only 07: no such notebook"):
        pipeline.select(found, ["07"])


def test_load_profile_errors(tmp_path):
    (tmp_path / "full.yaml").write_text("notebooks: {}\n")
    (tmp_path / "bad.yaml").write_text("notebook: {}\n")
    (tmp_path / "broken.yaml").write_text("notebooks: [\n")
    assert pipeline.load_profile(tmp_path, "full") == {}
    with pytest.raises(pipeline.PipelineError, match="Unknown profile 'fast'.*Known: bad, broken, full"):
        pipeline.load_profile(tmp_path, "fast")
    with pytest.raises(pipeline.PipelineError, match="unknown top-level key"):
        pipeline.load_profile(tmp_path, "bad")
    with pytest.raises(pipeline.PipelineError, match="not valid YAML"):
        pipeline.load_profile(tmp_path, "broken")
