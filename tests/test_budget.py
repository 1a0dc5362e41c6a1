"""The full profile's training budget (DESIGN.md: at most 60 TFLOP), counted before anything runs."""

import pytest

from mnist_utils import budget, data, models
from mnist_utils.book import pipeline

LIMIT = 60e12  # DESIGN.md's budget, pinned here so that raising budget.LIMIT fails too


def _planned(profile: str, **changes) -> dict[str, float]:
    """Planned FLOPs per notebook of ``profile`` as the runner resolves it, with ``changes``
    ({notebook stem: {parameter: value}}) on top."""
    layout = pipeline.default_layout()
    notebooks = pipeline.discover(layout.notebooks)
    sections = pipeline.read_profile(layout.params, profile)["notebooks"]
    for stem, values in changes.items():
        sections[stem] = {**sections.get(stem, {}), **values}
    return budget.planned_flops(pipeline.resolve_parameters(notebooks, sections))


def test_the_full_profile_plans_at_most_60_tflop():
    assert budget.LIMIT == LIMIT
    planned = _planned("full")
    assert set(planned) == {
        "02_mlp_baseline",
        "03_optimizers_activations",
        "04_regularization",
        "05_cnn",
        "07_course_papers",
    }
    assert sum(planned.values()) <= LIMIT, {stem: round(f / 1e12, 2) for stem, f in planned.items()}


def test_an_edit_that_doubles_an_epoch_count_breaks_the_budget():
    """The bound has little slack: doubling our CNN's epochs, or notebook 03's grid, goes over it."""
    assert sum(_planned("full", **{"05_cnn": {"cnn_epochs": 20}}).values()) > LIMIT
    assert sum(_planned("full", **{"03_optimizers_activations": {"epochs": 10}}).values()) > LIMIT


def test_the_extended_profile_keeps_the_earlier_design_and_its_cost():
    """params/extended.yaml is the study before the budget: about three times the work."""
    assert sum(_planned("extended").values()) > 2.5 * LIMIT  # 179 TFLOP


def test_a_notebooks_plan_is_its_runs_counted_by_hand():
    """Notebook 02: seeds x (epochs over the training images, the validation set after each, the test set once)."""
    parameters = {"seeds": [0, 1, 2], "epochs": 10, "hidden_units": 128, "train_limit": 0}
    macs = 784 * 128 + 128 * 10
    by_hand = 3 * (6 * macs * 10 * 54_000 + 2 * macs * (10 * data.VALIDATION_SIZE + 10_000))
    assert budget.planned_flops({"02_mlp_baseline": parameters}) == {"02_mlp_baseline": by_hand}
    limited = budget.planned_flops({"02_mlp_baseline": {**parameters, "train_limit": 6000}})["02_mlp_baseline"]
    assert limited == 3 * (6 * macs * 10 * 6000 + 2 * macs * (10 * data.VALIDATION_SIZE + 10_000))


def test_the_ablation_trains_both_arms_only_on_a_subset():
    """On a subset both arms are new runs; on all images the augmented arm is our CNN's headline runs."""
    full = pipeline.resolve_parameters(pipeline.discover(pipeline.default_layout().notebooks), {})["05_cnn"]
    ours = models.build_cnn(widths=tuple(full["cnn_widths"]))

    def run(images):  # one run of our CNN on ``images`` training images
        return models.training_flops(
            ours, trained=full["cnn_epochs"] * images, evaluated=data.VALIDATION_SIZE + 10_000
        )  # validated after the last epoch only

    seeds = len(full["cnn_seeds"])
    subset = budget.planned_flops({"05_cnn": {**full, "ablation_train_limit": 4000}})["05_cnn"]
    whole = budget.planned_flops({"05_cnn": {**full, "ablation_train_limit": 0}})["05_cnn"]
    assert subset - whole == pytest.approx(2 * seeds * run(4000) - seeds * run(54_000))
    # A "subset" at least as large as the training set is the training set.
    assert budget.planned_flops({"05_cnn": {**full, "ablation_train_limit": 60_000}})["05_cnn"] == whole


def test_notebook_07_trains_paper_000s_regularized_mlp_as_notebook_02_trains_the_baseline():
    """07 compares its regularized MLP with 02's runs instead of training a baseline again, so the
    regularized MLP's work follows 02's parameters (seeds, epochs, training images), and 07's own
    parameters size only the activation comparison."""
    resolved = pipeline.resolve_parameters(pipeline.discover(pipeline.default_layout().notebooks), {})
    p07, p02 = resolved["07_course_papers"], resolved["02_mlp_baseline"]
    assert "epochs" not in p07  # the regularized MLP's budget is 02's
    mlp = models.build_mlp((128,))  # one branch

    def branches(runs, epochs, images):  # side by side: the training images are scored once more
        scored = epochs * data.VALIDATION_SIZE + 10_000 + images
        return runs * models.training_flops(mlp, trained=epochs * images, evaluated=scored)

    def plan(**changes02):
        return budget.planned_flops({"07_course_papers": p07, "02_mlp_baseline": {**p02, **changes02}})[
            "07_course_papers"
        ]

    activations = branches(3 * len(p07["seeds"]), p07["activation_epochs"], 54_000)
    # Paper 001's recipe, its five proposals and three other learning rates (a lower, a higher and a
    # decaying one), each seed on the same subset, validated after the last epoch.
    proposals = (9 * len(p07["proposal_seeds"])) * models.training_flops(
        models.build_paper001_cnn(),
        trained=p07["proposal_epochs"] * p07["proposal_train_limit"],
        evaluated=data.VALIDATION_SIZE + 10_000,
    )
    # Paper 003's LeNet-5 with and without its dropout layers, on the same subset and budget.
    proposals += (2 * len(p07["proposal_seeds"])) * models.training_flops(
        models.build_lenet5(),
        trained=p07["proposal_epochs"] * p07["proposal_train_limit"],
        evaluated=data.VALIDATION_SIZE + 10_000,
    )
    assert plan() == pytest.approx(activations + branches(3, 10, 54_000) + proposals)
    assert plan(epochs=20, seeds=[0], train_limit=6000) == pytest.approx(
        activations + branches(1, 20, 6000) + proposals
    )
