"""Allowed parameter values: declared once in the parameters cell, checked by the runner before a
run and by the notebook itself (papermill or JupyterLab) before any work."""

import json
from pathlib import Path

import pytest

from mnist_utils import pipeline, validation

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("value, rules, expected", [
    (3, "at least 1", []),
    (-3, "at least 1", ["x = -3: must be at least 1"]),
    (1.0, "more than 0; less than 1", ["x = 1.0: must be less than 1"]),
    ([], "non-empty; each at least 0", ["x = []: must not be empty"]),
    ([0, -1], "non-empty; each at least 0", ["x = [0, -1]: has -1, which must be at least 0"]),
    ("linear", "one of cosine, constant", ["x = 'linear': must be one of cosine, constant"]),
    (["relu", "swish"], "each one of relu, tanh", ["x = ['relu', 'swish']: has 'swish', which must be one of relu, tanh"]),
    ({"a": [0], "b": []}, "keys a, b; each non-empty", ["x = {'a': [0], 'b': []}: has [], which must not be empty"]),
    ({"a": 1}, "keys a, b", ["x = {'a': 1}: must have exactly the keys a, b"]),
    ({"sgd": [0.1], "lion": [0.1]}, "keys from sgd, adam", ["x = {'sgd': [0.1], 'lion': [0.1]}: has unknown keys lion (allowed: sgd, adam)"]),
    ([0.1], "length 2", ["x = [0.1]: must have 2 items (has 1)"]),
    ([0.0, 0.1], "length at least 2", []),
    (True, "at least 0", ["x = True: must be int, not bool"]),
])
def test_each_rule_says_what_is_allowed(value, rules, expected):
    type_name = {bool: "int", dict: "dict", list: "list", str: "str"}.get(type(value), "float")
    assert validation.problems("x", value, type_name, rules) == expected


def test_a_string_for_a_list_gets_papermill_s_hint():
    [message] = validation.problems("seeds", "[0]", "list[int]", "non-empty")
    assert message.startswith("seeds = '[0]': must be list[int], not str (papermill's -p passes text;")
    assert "-y 'name: [0, 1]'" in message


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_states_its_allowed_values_and_its_default_keeps_them(path):
    declared = pipeline.declared_parameters(path)
    for name, info in declared.items():
        if name in pipeline.RUNNER_PARAMETERS:
            continue
        assert info["rules"], f"{path.name}: {name} states no allowed values"
        assert validation.problems(name, info["default"], info["type"], info["rules"]) == []
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "validation.check(globals())" in "".join(code[1]["source"])  # right after the parameters cell


def test_the_runner_refuses_bad_values_before_anything_runs_naming_each():
    notebooks = pipeline.discover(pipeline.default_layout().notebooks)
    bad = {"02_mlp_baseline": {"epochs": -3, "seeds": []}, "03_optimizers_activations": {"activations": ["relu", "swish"]},
           "04_regularization": {"lr_schedule": "linear"}, "07_course_papers": {"seeds": "[0]"}}
    with pytest.raises(pipeline.PipelineError) as e:
        pipeline.resolve_parameters(notebooks, bad)
    message = str(e.value)
    for expected in ("02_mlp_baseline.ipynb: epochs = -3: must be at least 1 (allowed: at least 1)",
                     "02_mlp_baseline.ipynb: seeds = []: must not be empty (allowed: non-empty; each at least 0)",
                     "03_optimizers_activations.ipynb: activations = ['relu', 'swish']: has 'swish', which must "
                     "be one of sigmoid, tanh, relu, gelu",
                     "04_regularization.ipynb: lr_schedule = 'linear': must be one of cosine, constant",
                     "07_course_papers.ipynb: seeds = '[0]': must be list[int], not str"):
        assert expected in message, expected


def test_papermill_alone_stops_in_the_check_cell_with_the_same_message(tmp_path):
    """papermill's -p passes a list as text; the notebook says so, and that -3 epochs are not allowed,
    before it imports TensorFlow or trains anything."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    pipeline.ensure_kernel()
    with pytest.raises(PapermillExecutionError) as e:
        papermill.execute_notebook(str(ROOT / "notebooks" / "02_mlp_baseline.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"epochs": -3, "seeds": "[0]"}, kernel_name=pipeline.KERNEL_NAME,
                                   progress_bar=False, cwd=str(ROOT / "notebooks"))
    assert e.value.ename == "ParameterError"
    assert "epochs = -3: must be at least 1" in e.value.evalue
    assert "seeds = '[0]': must be list[int], not str (papermill's -p passes text" in e.value.evalue
    executed = json.loads((tmp_path / "out.ipynb").read_text())
    ran = [c for c in executed["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
    assert "validation.check(globals())" in "".join(ran[-1]["source"])  # nothing after it ran


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_with_its_rules(path):
    """papermill skips a parameter line with two '=' ('>='), so the rules are words: --help-notebook
    shows every parameter, its rules in its help."""
    import papermill

    inspected = papermill.inspect_notebook(str(path))
    declared = pipeline.declared_parameters(path)
    assert list(inspected) == list(declared)
    for name, info in declared.items():
        assert inspected[name]["help"] == info["help"]


def test_an_unknown_rule_is_an_error_naming_the_parameter(notebook_factory):
    from conftest import RUNNER_CELL

    path = notebook_factory("01_a.ipynb", RUNNER_CELL + "seconds: int = 3  # how long [>= 0]\n")
    with pytest.raises(pipeline.PipelineError, match="01_a.ipynb: parameters cell parameter 'seconds' states an "
                                                     "unknown rule '>= 0'; the rules are at least x"):
        pipeline.declared_parameters(path)
    with pytest.raises(validation.RuleError):
        validation.check({"In": ["", "seconds: int = 3  # how long [>= 0]"], "seconds": 3})
