"""Allowed parameter values: declared once in the parameters cell, checked by the runner before a
run and by the notebook itself (papermill or JupyterLab) before any work."""

import json
from pathlib import Path

import pytest

from mnist_utils import validation
from mnist_utils.book import notebooks, pipeline
from mnist_utils.book.environment import KERNEL_NAME

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize(
    "value, rules, expected",
    [
        (3, "at least 1", []),
        (-3, "at least 1", ["x = -3: must be at least 1"]),
        (1.0, "more than 0; less than 1", ["x = 1.0: must be less than 1"]),
        ([], "non-empty; each at least 0", ["x = []: must not be empty"]),
        ([0, -1], "non-empty; each at least 0", ["x = [0, -1]: has -1, which must be at least 0"]),
        ("linear", "one of cosine, constant", ["x = 'linear': must be one of cosine, constant"]),
        (
            ["relu", "swish"],
            "each one of relu, tanh",
            ["x = ['relu', 'swish']: has 'swish', which must be one of relu, tanh"],
        ),
        (
            {"a": [0], "b": []},
            "keys a, b; each non-empty",
            ["x = {'a': [0], 'b': []}: has [], which must not be empty"],
        ),
        ({"a": 1}, "keys a, b", ["x = {'a': 1}: must have exactly the keys a, b"]),
        (
            {"sgd": [0.1], "lion": [0.1]},
            "keys from sgd, adam",
            ["x = {'sgd': [0.1], 'lion': [0.1]}: has unknown keys lion (allowed: sgd, adam)"],
        ),
        ([0.1], "length 2", ["x = [0.1]: must have 2 items (has 1)"]),
        ([0.0, 0.1], "length at least 2", []),
        (True, "at least 0", ["x = True: must be int, not bool"]),
    ],
)
def test_each_rule_says_what_is_allowed(value, rules, expected):
    type_name = {bool: "int", dict: "dict", list: "list", str: "str"}.get(type(value), "float")
    assert validation.problems("x", value, type_name, rules) == expected


def test_a_string_for_a_list_gets_papermill_s_hint():
    [message] = validation.problems("seeds", "[0]", "list[int]", "non-empty")
    assert message.startswith("seeds = '[0]': must be list[int], not str (papermill's -p passes text;")
    assert "-y 'name: [0, 1]'" in message


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_states_its_allowed_values_and_its_default_keeps_them(path):
    declared = notebooks.declared_parameters(path)
    for name, info in declared.items():
        if name in notebooks.RUNNER_PARAMETERS:
            continue
        assert info["rules"], f"{path.name}: {name} states no allowed values"
        assert validation.problems(name, info["default"], info["type"], info["rules"]) == []
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "validation.check(globals())" in "".join(code[1]["source"])  # right after the parameters cell


def test_the_runner_refuses_bad_values_before_anything_runs_naming_each():
    notebooks = pipeline.discover(pipeline.default_layout().notebooks)
    bad = {
        "02_mlp_baseline": {"epochs": -3, "seeds": []},
        "03_optimizers_activations": {"activations": ["relu", "swish"]},
        "04_regularization": {"lr_schedule": "linear"},
        "07_course_papers": {"seeds": "[0]"},
    }
    with pytest.raises(pipeline.PipelineError) as e:
        pipeline.resolve_parameters(notebooks, bad)
    message = str(e.value)
    for expected in (
        "02_mlp_baseline.ipynb: epochs = -3: must be at least 1 (allowed: at least 1)",
        "02_mlp_baseline.ipynb: seeds = []: must not be empty (allowed: non-empty; each at least 0)",
        "03_optimizers_activations.ipynb: activations = ['relu', 'swish']: has 'swish', which must "
        "be one of sigmoid, tanh, relu, gelu",
        "04_regularization.ipynb: lr_schedule = 'linear': must be one of cosine, constant",
        "07_course_papers.ipynb: seeds = '[0]': must be list[int], not str",
    ):
        assert expected in message, expected


def test_papermill_alone_stops_in_the_check_cell_with_the_same_message(tmp_path):
    """papermill's -p passes a list as text; the notebook says so, and that -3 epochs are not allowed,
    before it imports TensorFlow or trains anything."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    pipeline.ensure_kernel()
    with pytest.raises(PapermillExecutionError) as e:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "02_mlp_baseline.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"epochs": -3, "seeds": "[0]"},
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            cwd=str(ROOT / "notebooks"),
        )
    assert e.value.ename == "ParameterError"
    assert "epochs = -3: must be at least 1" in e.value.evalue
    assert "seeds = '[0]': must be list[int], not str (papermill's -p passes text" in e.value.evalue
    # The message alone, without the stack of the check cell and validation.py above it.
    assert e.value.traceback == [f"ParameterError: {e.value.evalue}"]
    assert "Traceback" not in str(e.value) and "File " not in str(e.value)
    executed = json.loads((tmp_path / "out.ipynb").read_text())
    ran = [c for c in executed["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
    assert "validation.check(globals())" in "".join(ran[-1]["source"])  # nothing after it ran


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_with_its_rules(path):
    """papermill skips a parameter line with two '=' ('>='), so the rules are words: --help-notebook
    shows every parameter, its rules in its help."""
    import papermill

    inspected = papermill.inspect_notebook(str(path))
    declared = notebooks.declared_parameters(path)
    assert list(inspected) == list(declared)
    for name, info in declared.items():
        assert inspected[name]["help"] == info["help"]


def test_an_unknown_rule_is_an_error_naming_the_parameter(notebook_factory):
    from conftest import RUNNER_CELL

    path = notebook_factory("01_a.ipynb", RUNNER_CELL + "seconds: int = 3  # how long [>= 0]\n")
    with pytest.raises(
        pipeline.PipelineError,
        match="01_a.ipynb: parameters cell parameter 'seconds' states an unknown rule '>= 0'; the rules are at least x",
    ):
        notebooks.declared_parameters(path)
    with pytest.raises(validation.RuleError):
        validation.check({"In": ["", "seconds: int = 3  # how long [>= 0]"], "seconds": 3})


@pytest.mark.parametrize(
    "rule, allowed, refused",
    [
        ("at least 1", [1, 1.5], [0.999]),
        ("more than 1", [1.001, 2], [1, 0]),
        ("at most 1", [1, -3], [1.001]),
        ("less than 1", [0.999, -3], [1, 2]),
        ("at least -0.5", [-0.5], [-0.51]),
        ("less than 1e-3", [0.0009], [0.001]),
    ],
)
def test_each_comparison_at_its_boundary_and_either_side(rule, allowed, refused):
    for value in allowed:
        assert validation.problems("x", value, "float", rule) == [], (rule, value)
    for value in refused:
        assert validation.problems("x", value, "float", rule) == [f"x = {value!r}: must be {rule}"], (rule, value)


@pytest.mark.parametrize(
    "value, rules, expected",
    [
        ([1, 2], "length 2", []),
        ([1, 2, 3], "length 2", ["x = [1, 2, 3]: must have 2 items (has 3)"]),
        ([1], "length at least 2", ["x = [1]: must have at least 2 items (has 1)"]),
        ([1, 2, 3], "length at least 2", []),
        ({"a": 1}, "keys from a, b", []),
        ({"c": 1, "d": 2}, "keys from a", ["x = {'c': 1, 'd': 2}: has unknown keys c, d (allowed: a)"]),
        ({"b": 1, "a": 2}, "keys a, b", []),
        ("cosine", "one of cosine, constant", []),
        ("a", "at least 1", ["x = 'a': must be a number"]),
        (True, "at most 1", ["x = True: must be a number"]),
        (3, "each at least 0", ["x = 3: must be a list or mapping"]),
        ({"a": -1}, "each at least 0", ["x = {'a': -1}: has -1, which must be at least 0"]),
        ([[1], []], "each each at least 2", ["x = [[1], []]: has [1], which has 1, which must be at least 2"]),
        ("abc", "each at least 0", ["x = 'abc': must be a list or mapping"]),
    ],
)
def test_rules_on_both_sides(value, rules, expected):
    assert validation.problems("x", value, "object", rules) == expected


def test_a_value_a_rule_cannot_judge_is_named_and_an_unknown_rule_is_an_error():
    assert validation.problems("x", [1], "object", "at least 1") == ["x = [1]: must be a number"]
    assert validation.problems("x", 3, "object", "non-empty") == ["x = 3: does not fit the rule non-empty"]
    with pytest.raises(ValueError, match="unknown rule 'sometimes'"):
        validation.problems("x", 3, "object", "sometimes")


@pytest.mark.parametrize(
    "value, type_name, fits",
    [
        (1, "int", True),
        (1.5, "int", False),
        (1, "float", True),
        (True, "int", False),
        (True, "bool", True),
        (1, "bool", False),
        ([1], "list[int]", True),
        ([1], " list [int]", True),
        ((1,), "tuple[int, int]", True),
        ({"a": 1}, "dict[str, list[int]]", True),
        ([1], "dict[str, int]", False),
        ([1], "dict[str, list[int]]", False),
        ("x", "str", True),
        ("x", "Path", True),  # a type papermill cannot check: neither do we
    ],
)
def test_declared_types(value, type_name, fits):
    assert validation.check_type(value, type_name) is fits


@pytest.mark.parametrize(
    "value, type_name, hinted",
    [
        ("[0]", "list[int]", True),
        ("{a: 1}", "dict", True),
        (" [0]", "list", True),
        ("0", "list[int]", False),
        ("X", "list", False),
        ("[0]", "str", False),
        ("[0]", "tuple", False),
    ],
)
def test_papermill_s_hint_only_for_a_list_or_mapping_given_as_text(value, type_name, hinted):
    if type_name == "str":
        assert validation.problems("x", value, type_name, "") == []
        return
    [message] = validation.problems("x", value, type_name, "")
    assert message.startswith(f"x = {value!r}: must be {type_name}, not str")
    hint = (
        " (papermill's -p passes text; give lists and mappings as YAML: -y 'name: [0, 1]', "
        "or mnist-study run -p 'NN.name=[0, 1]')"
    )
    assert message.endswith(hint) is hinted


def test_a_parameters_cell_is_read_line_by_line():
    found = validation.declared("epochs: int = 10  # passes # over the data [at least 1]\nname: str = 'a'\n")
    assert found == {
        "epochs": {"type": "int", "default": 10, "help": "passes # over the data [at least 1]", "rules": "at least 1"},
        "name": {"type": "str", "default": "a", "help": "", "rules": ""},
    }
    with pytest.raises(ValueError, match=r"^line 1 is not `name: type = value  # comment`: x = 1$"):
        validation.declared("x = 1")
    with pytest.raises(ValueError, match=r"^line 1 is not `name: type = value  # comment`: x: int$"):
        validation.declared("x: int")
    with pytest.raises(ValueError, match=r"^line 1 is not `name: type = value  # comment`: a.b: int = 1$"):
        validation.declared("a.b: int = 1")
    with pytest.raises(ValueError, match=r"^parameter 'x' has a default that is not a plain value: x: int = f\(\)$"):
        validation.declared("x: int = f()")


def test_the_check_cell_reads_the_latest_parameters_cell_it_ran():
    """validation.check(globals()) in a kernel: the declarations come from IPython's input history."""
    cell = "epochs: int = 10  # passes [at least 1]\nseeds: list = [0]  # seeds [non-empty]\n"
    validation.check({"In": ["", cell], "epochs": 3, "seeds": [0]})  # allowed: no error
    validation.check({"epochs": -1})  # not in IPython: nothing to check against
    validation.check({"In": ["import os", "x = 1"], "epochs": -1})  # no parameters cell run yet
    with pytest.raises(validation.ParameterError) as e:
        validation.check({"In": ["", cell, "print(1)", "1 +"], "epochs": 0, "seeds": []})
    assert str(e.value) == (
        "Parameter values this notebook does not allow:\n  - epochs = 0: must be at least 1\n"
        "  - seeds = []: must not be empty"
    )
    older = "epochs: int = 10  # passes [at least 5]\n"
    with pytest.raises(validation.ParameterError, match="epochs = 3: must be at least 5"):
        validation.check({"In": [cell, older], "epochs": 3})  # the latest one counts
    validation.check({"In": [older, cell], "epochs": 3})
    validation.check({"In": ["", cell], "epochs": 3})  # a parameter the namespace lacks is not checked
    with pytest.raises(validation.RuleError, match="parameter 'x' states an unknown rule 'often'"):
        validation.check({"In": ["x: int = 1  # [often]"], "x": 1})


def test_ipython_shows_a_parameter_error_as_its_message_alone():
    error = validation.ParameterError(
        "Parameter values this notebook does not allow:\n  - epochs = 0: must be at least 1"
    )
    assert error._render_traceback_() == [f"ParameterError: {error}"]
