"""The training work a profile plans, counted from its parameters before anything runs.

The study has a budget (DESIGN.md: at most 60 TFLOP of training in the full profile).
:func:`planned_flops` counts, notebook by notebook, the floating-point operations that
the notebooks' training runs will do with the given parameters, from the same model
builders and the same :func:`models.training_flops` that the runs record in ``run.json``.
It is an upper bound: a run that stops early (the BN-CNN) is counted at its most epochs,
and runs that a notebook reuses instead of training again are counted again.
"""

from __future__ import annotations

import functools

from mnist_utils import data, models

TRAIN_IMAGES = 60_000 - data.VALIDATION_SIZE  # the training split of data.split
TEST_IMAGES = 10_000
LIMIT = 60e12  # the full profile's training budget in FLOPs (DESIGN.md, "Experiment budget")
# Notebook 07 trains paper 001's recipe and eight variants of it (three of them its learning rate), once per seed.
PAPER001_VARIANTS = 9


def _images(train_limit: int) -> int:
    """Training images of a split made with ``train_limit`` (0: all)."""
    return min(train_limit, TRAIN_IMAGES) if train_limit else TRAIN_IMAGES


def _runs(
    model,
    runs: int,
    epochs: int,
    images: int,
    validation: int = data.VALIDATION_SIZE,
    tested_every_epoch: bool = False,
    side_by_side: bool = False,
    validated_last_only: bool = False,
) -> float:
    """FLOPs of ``runs`` trainings of ``model``: ``epochs`` over ``images``, the validation set
    after every epoch (or after the last only), the test set once (or after every epoch too) and,
    for configurations trained side by side (``training.train_branches``), the training images
    once more, which they score in inference mode."""
    tests = epochs + 1 if tested_every_epoch else 1
    validated = 1 if validated_last_only else epochs
    scored = validated * validation + tests * TEST_IMAGES + (images if side_by_side else 0)
    return runs * models.training_flops(model, trained=epochs * images, evaluated=scored)


@functools.cache
def _mlp(hidden: tuple[int, ...]):
    return models.build_mlp(hidden)


def _branches(model, runs: int, epochs: int, images: int) -> float:
    """:func:`_runs` of MLPs trained side by side."""
    return _runs(model, runs, epochs, images, side_by_side=True)


@functools.cache
def _cnn(name: str, widths: tuple[int, ...] = ()):
    builds = {
        "paper001": models.build_paper001_cnn,
        "lenet5": models.build_lenet5,
        "bn_cnn": models.build_bn_cnn,
        "ours": functools.partial(models.build_cnn, widths=widths),
    }
    return builds[name]()


def _baseline(p: dict) -> float:
    return _runs(_mlp((p["hidden_units"],)), len(p["seeds"]), p["epochs"], _images(p["train_limit"]))


def _optimizers(p: dict) -> float:
    mlp, images = _mlp((p["hidden_units"],)), _images(p["train_limit"])
    rates = sum(len(r) for r in p["learning_rates"].values())
    cells = len(p["activations"]) * len(p["learning_rates"])
    return _branches(mlp, rates * len(p["sweep_seeds"]), p["sweep_epochs"], images) + _branches(
        mlp, cells * len(p["seeds"]), p["epochs"], images
    )


def _regularization(p: dict) -> float:
    capacity = sum(
        _branches(
            _mlp((width,) * depth), len(p["capacity_seeds"]), p["capacity_epochs"], _images(p["capacity_train_limit"])
        )
        for depth in p["capacity_depths"]
        for width in p["capacity_widths"]
    )
    # none, each L2, each dropout, the combination, batch norm (early stopping reuses "none")
    settings = 3 + len(p["l2_values"]) + len(p["dropout_values"])
    return capacity + _branches(
        _mlp(tuple(p["hidden"])), settings * len(p["seeds"]), p["epochs"], _images(p["train_limit"])
    )


def _cnns(p: dict) -> float:
    images = _images(p["train_limit"])
    recipes = sum(
        _runs(_cnn(name), len(p["recipe_seeds"][name]), p["recipe_epochs"][name], images, tested_every_epoch=True)
        for name in ("paper001", "lenet5", "bn_cnn")
    )
    ours = _cnn("ours", tuple(p["cnn_widths"]))
    headline = _runs(ours, len(p["cnn_seeds"]), p["cnn_epochs"], images)
    # On a subset both arms train; on the whole training set the augmented arm is the headline's runs.
    subset = _images(p["ablation_train_limit"]) < images
    ablation = _runs(
        ours,
        (2 if subset else 1) * len(p["cnn_seeds"]),
        p["cnn_epochs"],
        _images(p["ablation_train_limit"]),
        validated_last_only=True,
    )
    # Each fold trains on the other folds of the training and validation images together.
    pooled = images + data.VALIDATION_SIZE
    held_out = pooled // p["cv_folds"]
    folds = _runs(
        _cnn("paper001"),
        p["cv_folds"] + len(p["cv_seeds"]) - 1,
        p["cv_epochs"],
        pooled - held_out,
        validation=held_out,
        validated_last_only=True,
    )
    return recipes + headline + ablation + folds


def _course_papers(p: dict, baseline: dict) -> float:
    activations = _branches(
        _mlp((p["hidden_units"],)), 3 * len(p["seeds"]), p["activation_epochs"], _images(p["train_limit"])
    )
    # Paper 000's regularized MLP, trained as notebook 02 trains the baseline that it is compared with.
    regularized = _branches(
        _mlp((baseline["hidden_units"],)), len(baseline["seeds"]), baseline["epochs"], _images(baseline["train_limit"])
    )
    # Paper 001's recipe and its variants, and paper 003's LeNet-5 with and without its dropout, each seed
    # on the same subset and budget (the separable variant, counted as the recipe, is cheaper).
    short = functools.partial(
        _runs, epochs=p["proposal_epochs"], images=_images(p["proposal_train_limit"]), validated_last_only=True
    )
    proposals = short(_cnn("paper001"), PAPER001_VARIANTS * len(p["proposal_seeds"]))
    lenet = short(_cnn("lenet5"), 2 * len(p["proposal_seeds"]))
    return activations + regularized + proposals + lenet


PLANNERS = {
    "02_mlp_baseline": _baseline,
    "03_optimizers_activations": _optimizers,
    "04_regularization": _regularization,
    "05_cnn": _cnns,
    "07_course_papers": _course_papers,
}
READS = {"07_course_papers": ("02_mlp_baseline",)}  # notebooks whose parameters a plan also needs


def planned_flops(parameters: dict[str, dict]) -> dict[str, float]:
    """Training FLOPs each notebook plans with ``parameters`` ({notebook stem: its resolved
    parameters}, as ``pipeline.resolve_parameters`` gives them); notebooks that train nothing are left out."""
    return {
        stem: plan(parameters[stem], *(parameters[other] for other in READS.get(stem, ())))
        for stem, plan in PLANNERS.items()
        if stem in parameters
    }
