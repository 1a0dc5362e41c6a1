"""environment.yml and pyproject.toml must name the same packages and ranges."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _requirements(specs):
    out = {}
    for spec in specs:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
        out[m.group(1).lower().replace("_", "-")] = m.group(2).replace(" ", "")
    return out


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirements(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = _requirements(p for p in pip if not p.startswith("-"))
    assert listed == wanted
    assert "-e .[dev]" in pip


def test_environment_python_fits_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    minor = int(python.split("=")[1].split(".")[1])
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low, high = re.findall(r"3\.(\d+)", requires)
    assert int(low) <= minor < int(high)


def test_the_packages_that_change_results_are_the_project_s_pinned_dependencies():
    """A package whose version can change a result (and so re-runs every notebook when it changes)
    must be a pinned dependency, and every dependency the notebooks compute with must be among them:
    scikit-image's HOG features are a result of notebook 02."""
    from mnist_utils.book import environment

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirements(project["dependencies"])
    assert set(environment.RESULT_PACKAGES) <= set(wanted)
    runners = {"papermill", "nbconvert", "nbformat", "jupyterlab", "ipykernel", "pyyaml"}  # run, not compute
    assert set(wanted) - set(environment.RESULT_PACKAGES) == runners
