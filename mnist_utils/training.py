"""Seeded, timed training runs and multi-seed repetitions."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_utils import backend, evaluation, models, progress


def set_determinism() -> None:
    """Make TensorFlow ops deterministic (call once per process, before training)."""
    tf = backend.tensorflow()

    tf.config.experimental.enable_op_determinism()


def set_precision() -> str:
    """Use mixed float16 on a GPU and float32 on a CPU; returns the Keras policy's name.

    A GPU runs float16 matrix products on its Tensor Cores several times faster; a
    CPU emulates float16 slowly, and float32 there keeps the recorded results as
    they are. The models' output layers are float32 under either policy, so the
    softmax and the losses are computed in full precision.
    """
    keras = backend.keras()

    policy = reduced_precision(cpu_bfloat16=False)  # mixed float16 on a GPU, else float32
    keras.mixed_precision.set_global_policy(policy)
    return policy


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX), from the flags Linux lists
    in ``/proc/cpuinfo`` (or in ``cpuinfo``, the text of such a file). False where there is no such
    file: without those instructions oneDNN emulates bfloat16, more slowly than float32."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    lines = [line.split(":", 1)[-1] for line in cpuinfo.splitlines() if line.startswith("flags")]
    flags = {flag for line in lines for flag in line.split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def reduced_precision(cpu_bfloat16: bool) -> str:
    """The Keras dtype policy for a model allowed to compute in reduced precision: mixed float16 on a
    GPU (as :func:`set_precision`), mixed bfloat16 on a CPU with bfloat16 instructions if
    ``cpu_bfloat16``, float32 otherwise. Under either mixed policy the weights and the output layer
    stay float32; the convolutions and dense layers compute in 16 bits. Build and train such a model
    inside ``models.precision(policy)``."""
    tf = backend.tensorflow()

    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_bfloat16 and cpu_has_bfloat16() else "float32"


def cores() -> int:
    """CPU cores this process runs on: those the OS lets it use, or the threads the runner
    gave it where the OS has no such setting (a notebook beside another, ``pipeline.core_slots``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return int(os.environ.get("TF_NUM_INTRAOP_THREADS") or os.cpu_count() or 1)


def device_info() -> dict:
    """CPU count, the cores this process runs on, TensorFlow's thread settings and visible GPUs, for the record."""
    tf = backend.tensorflow()

    return {
        "cpu_count": os.cpu_count(),
        "cores": cores(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


@dataclass
class RunResult:
    """One seeded training run: its model, history, timings and test-set predictions."""

    seed: int
    model: object
    history: dict[str, list[float]]
    epoch_seconds: list[float]
    test_probs: np.ndarray
    test_accuracy: float
    # (epochs, test images) predicted labels after each epoch, if recorded (``record_test``)
    epoch_test_predictions: np.ndarray | None = None
    # (epochs, executions) mean training loss of each compiled step's images, if recorded
    # (``record_loss``); with ``steps_per_execution=1``, the loss of every mini-batch
    step_losses: np.ndarray | None = None


def _epoch_timer():
    keras = backend.keras()

    class EpochTimer(keras.callbacks.Callback):
        """Wall-clock seconds of each epoch, validation included."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def _test_recorder(x_test, batch_size: int):
    keras = backend.keras()

    class TestRecorder(keras.callbacks.Callback):
        """The test set's predicted labels after every epoch, for the record only."""

        def __init__(self):
            super().__init__()
            self.predictions = []

        def on_epoch_end(self, epoch, logs=None):
            probs = self.model.predict(x_test, batch_size=batch_size, verbose=0)
            self.predictions.append(probs.argmax(axis=1).astype(np.uint8))

    return TestRecorder()


def _loss_recorder(images: int, batch_size: int):
    keras = backend.keras()

    class LossRecorder(keras.callbacks.Callback):
        """The training loss of each execution's mini-batches, from Keras's running mean.

        Keras reports, after each execution of the compiled step, the loss averaged over
        the epoch's images so far (each batch weighted by its size, the last one smaller).
        The difference of two consecutive running totals is the loss of the images between them.
        """

        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append([])
            self._seen, self._total = 0, 0.0

        def on_train_batch_end(self, batch, logs=None):
            seen = min((batch + 1) * batch_size, images)  # ``batch``: the execution's last step in the epoch
            total = float(logs["loss"]) * seen
            self.epochs[-1].append((total - self._total) / (seen - self._seen))
            self._seen, self._total = seen, total

    return LossRecorder()


# The optimizers the study compares, as Keras class names and settings.
OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
}


def make_optimizer(name: str, learning_rate: float | None = None):
    """A Keras optimizer by study name (see OPTIMIZERS) or Keras name.

    ``learning_rate`` is a number, a Keras schedule (see :func:`learning_rate_schedule`)
    or ``None`` for the optimizer's default.
    """
    keras = backend.keras()

    class_name, config = OPTIMIZERS.get(name, (name, {}))
    config = dict(config) if learning_rate is None else {**config, "learning_rate": learning_rate}
    return keras.optimizers.get({"class_name": class_name, "config": config})


def learning_rate_schedule(kind: str, learning_rate: float, epochs: int, steps_per_epoch: int, warmup_epochs: int = 0):
    """The learning rate to hand an optimizer: ``"constant"`` or ``"cosine"``.

    ``"cosine"`` decays the rate from ``learning_rate`` to zero along half a cosine
    over the budget (Loshchilov and Hutter, 2017), so the last epochs take small,
    careful steps instead of hopping around the minimum at full rate. With
    ``warmup_epochs`` it first rises linearly from zero, which keeps the first
    steps of a freshly initialized batch-normalized network from overshooting.
    """
    keras = backend.keras()

    if kind == "constant":
        return learning_rate
    if kind == "cosine":
        if warmup_epochs:
            return keras.optimizers.schedules.CosineDecay(
                0.0,
                decay_steps=(epochs - warmup_epochs) * steps_per_epoch,
                warmup_target=learning_rate,
                warmup_steps=warmup_epochs * steps_per_epoch,
            )
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch)
    raise ValueError(f"unknown learning-rate schedule {kind!r}; use 'constant' or 'cosine'")


def train(
    build,
    splits,
    seed: int,
    epochs: int,
    batch_size: int,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    steps_per_execution: int = 32,
    jit_compile: bool | str = "auto",
    eval_batch_size: int = 2048,
    plateau_patience: int = 0,
    record_test: bool = False,
    record_loss: bool = False,
    validate_last_only: bool = False,
    shuffle: bool = True,
    position: str = "",
    label: str = "",
    reuse: ModelCache | None = None,
) -> RunResult:
    """Build, compile and fit one model with a fixed seed; score it on the test set.

    The validation set is the only data used during training (for the curves);
    the test set is predicted once, after training.

    Args:
        build: zero-argument function returning an uncompiled Keras model.
        splits: a ``data.Splits``.
        steps_per_execution: batches per compiled step; >1 cuts Python overhead
            (0.39 s instead of 0.65 s per epoch for the baseline MLP on 2 CPU cores).
        jit_compile: "auto" lets Keras decide; it turns XLA off while op determinism
            is enabled, since not every XLA op is deterministic.
        plateau_patience: if > 0, paper 002's recipe: halve the learning rate after
            ``plateau_patience // 2`` epochs without a lower validation loss, stop
            after ``plateau_patience`` and restore the best epoch's weights.
        record_test: also predict the test set after every epoch
            (``RunResult.epoch_test_predictions``). Nothing in training looks at
            them; they exist to measure what choosing an epoch by its test score,
            as course paper 003 does, would add.
        record_loss: also keep the training loss of each execution's mini-batches
            (``RunResult.step_losses``); with ``steps_per_execution=1``, of every step, for
            how much the loss moves from one step to the next. Recording changes no result.
        validate_last_only: score the validation set after the last epoch only, for runs
            that use nothing but their final score (the history's validation lists then
            hold one value). On a small training subset, scoring the validation set after
            every epoch costs more than the training.
        shuffle: reshuffle the training images before every epoch (Keras's default); without
            it every epoch sees the same batches in the same order (course paper 001's question).
        position: where this run stands among its siblings ("2 of 3"), for the
            runner's progress line.
        label: what trains, for that line ("our CNN with augmentation"); the model's name if empty.
        reuse: a :class:`ModelCache` whose compiled model trains instead, so that
            runs of the same build and settings trace their functions once. The
            result is bitwise the same and ``RunResult.model`` is still a model of
            its own; only the epoch seconds differ (the first run's first epoch
            includes the tracing, the other runs' do not).
    """
    keras = backend.keras()
    if validate_last_only and plateau_patience:
        raise ValueError("plateau_patience watches the validation loss after every epoch; validate_last_only skips it")

    def compile_model(m):
        m.compile(
            optimizer=make_optimizer(optimizer, learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )

    # Fetched before seeding: building the cached model draws random numbers. The dtype
    # policy is part of the key, since the same build computes in float16 under mixed precision.
    settings = (build, keras.config.dtype_policy().name, optimizer, learning_rate, steps_per_execution, jit_compile)
    trained = reuse.start(settings, build, compile_model) if reuse is not None else None
    keras.utils.set_random_seed(seed)
    model = build()
    compile_model(model)
    if trained is None:
        trained = model
    else:
        # The fresh model's initial weights and seed-generator states, drawn under this seed.
        _copy_variables(model.variables, trained.variables)
    timer = _epoch_timer()
    label = f"{label or model.name}, seed {position or seed}"  # "our CNN with augmentation, seed 2 of 3"
    callbacks = [timer, progress.keras_callback(label)]
    if plateau_patience:
        callbacks += [
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, plateau_patience // 2)),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=plateau_patience, restore_best_weights=True),
        ]
    recorder = _test_recorder(splits.x_test, eval_batch_size) if record_test else None
    callbacks += [recorder] if recorder else []
    losses = _loss_recorder(len(splits.y_train), batch_size) if record_loss else None
    callbacks += [losses] if losses else []
    fit = trained.fit(
        splits.x_train,
        splits.y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=shuffle,
        validation_data=(splits.x_val, splits.y_val),
        validation_batch_size=eval_batch_size,
        validation_freq=[epochs] if validate_last_only else 1,
        callbacks=callbacks,
        verbose=0,
    )
    probs = trained.predict(splits.x_test, batch_size=eval_batch_size, verbose=0)
    if trained is not model:
        # The result keeps a model of its own: the trained weights and optimizer state.
        _copy_variables(trained.variables, model.variables)
        model.optimizer.build(model.trainable_variables)
        _copy_variables(trained.optimizer.variables, model.optimizer.variables)
        model.history = fit  # as fit sets it on the model it trains
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    ran = len(history["loss"])  # fewer than ``epochs`` if it stopped early
    progress.add_work(
        models.training_flops(
            model,
            trained=ran * len(splits.y_train),
            evaluated=len(history["val_loss"]) * len(splits.y_val)
            + len(splits.y_test) * (1 + (ran if record_test else 0)),
        )
    )
    accuracy = float(np.mean(probs.argmax(axis=1) == splits.y_test))
    epochs_seen = np.stack(recorder.predictions) if recorder else None
    step_losses = np.array(losses.epochs) if losses else None
    return RunResult(seed, model, history, timer.seconds, probs, accuracy, epochs_seen, step_losses)


def _copy_variables(sources, targets) -> None:
    """Assign each source variable's value to the target variable in the same place."""
    for source, target in zip(sources, targets, strict=True):
        if source.shape != target.shape:
            raise ValueError(
                f"{source.path} has shape {source.shape} but {target.path} has {target.shape}; "
                "a build must make the same model every time"
            )
        target.assign(source.value)


class ModelCache:
    """One compiled model whose traced train, test and predict functions :func:`train` reuses.

    Tracing them costs several seconds per run for a CNN on small data. A run that
    reuses the model loads its own fresh initial weights, seed-generator states
    and optimizer state into it, so it trains bitwise as a fresh model would.
    Holds one model at a time: a run with another build or compile settings
    replaces it. Use one for runs of the same recipe, e.g. cross-validation folds::

        cache = training.ModelCache()
        runs = [training.train(build, fold, seed, reuse=cache, **recipe) for fold in folds]
    """

    def __init__(self):
        self._key = None
        self._model = None
        self._optimizer_start = None

    def start(self, key, build, compile_model):
        """The model for settings ``key``, its optimizer back at its initial state."""
        if self._model is None or key != self._key:
            self._key, self._model = key, build()
            compile_model(self._model)
            # Built now rather than by the first fit, to keep its initial values.
            self._model.optimizer.build(self._model.trainable_variables)
            self._optimizer_start = [v.numpy() for v in self._model.optimizer.variables]
        # Iterations, moments and the learning rate (which ReduceLROnPlateau lowers).
        for variable, value in zip(self._model.optimizer.variables, self._optimizer_start, strict=True):
            variable.assign(value)
        return self._model


def train_accuracy(runs: list[RunResult], x_train, y_train) -> list[float]:
    """Each run's training accuracy on its final weights in inference mode (dropout off). Keras's
    own figure is averaged over the last epoch while the weights change, with dropout active."""
    return [evaluation.accuracy(y_train, r.model.predict(x_train, batch_size=2048, verbose=0)) for r in runs]


def train_val_gap(runs: list[RunResult], x_train, y_train) -> float:
    """Training accuracy (:func:`train_accuracy`) minus final validation accuracy, averaged over ``runs``."""
    return float(
        np.mean(np.subtract(train_accuracy(runs, x_train, y_train), [r.history["val_accuracy"][-1] for r in runs]))
    )


def run_seeds(build, splits, seeds, reuse: ModelCache | None = None, **train_kwargs) -> list[RunResult]:
    """Repeat :func:`train` for each seed; returns one RunResult per seed.

    The runs share one compiled model (``reuse``, a new :class:`ModelCache` if
    None), so its functions are traced once; the results are bitwise those of
    separate :func:`train` calls, but only the first run's first epoch seconds
    include the tracing.
    """
    reuse = reuse if reuse is not None else ModelCache()
    return [
        train(build, splits, seed, position=f"{i} of {len(seeds)}", reuse=reuse, **train_kwargs)
        for i, seed in enumerate(seeds, start=1)
    ]


def branch_loss(branches: int):
    """Sum over branches of each branch's mean cross-entropy.

    Keras averages a (batch, branches) loss over both axes; multiplying by the
    number of branches turns that into a sum over branches, so each branch's
    gradient equals the one it would get trained alone (this matters for SGD,
    whose step scales with the gradient).
    """
    keras = backend.keras()

    def summed_cross_entropy(y, p):
        return branches * keras.losses.sparse_categorical_crossentropy(y, p)

    return summed_cross_entropy


@dataclass
class BranchResult:
    """One branch (one seed) of a side-by-side run: validation history and final scores."""

    seed: int
    history: dict[str, list[float]]  # val_loss, val_accuracy per epoch
    train_accuracy: float
    model: object  # the shared multi-branch model
    branch: int
    best_epoch: int | None = None  # 1-based epoch of the lowest validation loss (keep_best only)
    best_weights: list | None = None  # this branch's slice of every weight at that epoch


def predict_branches(results: list[BranchResult], x, batch_size: int = 2048) -> list[np.ndarray]:
    """Each branch's class probabilities for ``x``, from one pass of their shared model."""
    probs = results[0].model.predict(x, batch_size=batch_size, verbose=0)
    return [probs[:, r.branch] for r in results]


def _branch_validation(x_val, y_val, parts: list, seeds: int, batch_size: int, keep_best: list[bool]):
    keras = backend.keras()
    branches = len(parts) * seeds

    class BranchValidation(keras.callbacks.Callback):
        """Per-branch validation loss and accuracy after every epoch; optionally each
        branch's weights at its lowest validation loss.

        ``parts`` are the configurations' models, side by side in the trained model:
        its output column g * seeds + i is branch i of ``parts[g]``; ``keep_best[g]``
        says whether to keep that configuration's best weights.
        """

        def __init__(self):
            super().__init__()
            self.history = [{"val_loss": [], "val_accuracy": []} for _ in range(branches)]
            self.best = [(np.inf, None, None)] * branches  # (loss, epoch, weight slices)

        def on_epoch_end(self, epoch, logs=None):
            probs = self.model.predict(x_val, batch_size=batch_size, verbose=0)
            weights = [[w.numpy() for w in part.weights] if keep else None for part, keep in zip(parts, keep_best)]
            for column, hist in enumerate(self.history):
                p = probs[:, column]
                loss = float(-np.mean(np.log(np.clip(p[np.arange(len(y_val)), y_val], 1e-7, 1))))
                hist["val_loss"].append(loss)
                hist["val_accuracy"].append(float(np.mean(p.argmax(axis=1) == y_val)))
                group, branch = divmod(column, seeds)
                if keep_best[group] and loss < self.best[column][0]:
                    self.best[column] = (loss, epoch + 1, [w[branch].copy() for w in weights[group]])

    return BranchValidation()


def _group_rates_optimizer(name: str, rates: list[float]):
    """A Keras optimizer (see :func:`make_optimizer`) with one learning rate per trainable variable.

    ``rates`` follows the order of the model's ``trainable_variables``. SGD, momentum,
    RMSprop and Adam all multiply their step by the learning rate, so each variable
    moves exactly as it would under an optimizer of its own rate.
    """
    keras = backend.keras()

    plain = make_optimizer(name, 1.0)

    class GroupRates(type(plain)):
        def update_step(self, gradient, variable, learning_rate):
            rate = rates[self._get_variable_index(variable)]
            return super().update_step(gradient, variable, keras.ops.cast(learning_rate, variable.dtype) * rate)

    return GroupRates.from_config(plain.get_config())


# When train_branches compiles with XLA by default: runs of at least this many steps
# (compiling takes a second or two) of models of at least this many branches. Measured
# in full runs on 2 CPU cores: 03's grid (12 branches per model) took 89 s with XLA and
# 103 s without, 04's regularizers (24 branches) 82 s and 100 s; but 03's rate search
# (4 branches) took 43 s with it and 41 s without, and 07's 3-branch MLP with dropout
# 8 s an epoch with it and 1.3 s without.
XLA_MIN_STEPS = 1000
XLA_MIN_BRANCHES = 12


def _use_xla(model) -> None:
    """Compile ``model``'s training step with XLA.

    Keras never uses XLA while op determinism is on, because some XLA kernels
    (max-pooling's gradient, for one) have no deterministic version. The
    side-by-side MLPs use none of them: tests/test_training.py trains each kind
    (dropout, L2, batch norm, per-configuration rates) twice under XLA and requires
    identical weights.
    """
    # The public setter refuses whenever determinism is on. Only the training step is
    # compiled: predicting is a small part of the time and compiles as slowly.
    model._jit_compile = True
    model.make_train_function()
    model._jit_compile = False


def train_branches(
    build,
    splits,
    seeds,
    epochs: int,
    batch_size: int,
    optimizer: str = "adam",
    learning_rate=None,
    steps_per_execution: int = 32,
    eval_batch_size: int = 2048,
    keep_best=False,
    xla: bool | str = "auto",
):
    """Train one branch per seed side by side in one model (see models.build_mlp_branches).

    The weights are drawn under ``keras.utils.set_random_seed(seeds[0])``, so each
    branch starts from different weights; all branches share the mini-batch order.
    The loss is the sum over branches of each branch's mean cross-entropy, so each
    branch gets exactly the gradient it would get alone.

    Several configurations can train side by side too (``build`` a dict): each is
    built on its own under the same seed, so it starts from the weights it would
    start from alone, and they train as one model on the same mini-batches. One
    step of the whole model costs far less than one step of each (about half on
    2 CPU cores for four 784-128-10 configurations), since most of a small MLP's
    step is fixed cost.

    Args:
        build: function of the number of branches returning an uncompiled model,
            or a dict {key: such a function} of configurations to train side by side.
        learning_rate: a rate, a schedule (see :func:`learning_rate_schedule`), None
            for the optimizer's default, or, with a dict of builds, a dict of rates
            with the same keys.
        keep_best: also keep each branch's weights from its epoch of lowest
            validation loss, for :func:`restore_best` (early stopping); True for
            every configuration or a list of the keys of those to keep.
        xla: compile the training step with XLA (see :func:`_use_xla`); "auto" does
            so for runs of at least ``XLA_MIN_STEPS`` steps of at least ``XLA_MIN_BRANCHES``
            branches: compiling takes a second or two, and only wide models gain.

    Returns:
        (list of BranchResult, list of epoch seconds); with a dict of builds, a dict
        {key: (list of BranchResult, list of epoch seconds)} in which each
        configuration's seconds are its share: the whole model's divided by the
        number of configurations.
    """
    keras = backend.keras()

    builds = build if isinstance(build, dict) else {None: build}
    k = len(seeds)
    parts = {}
    for i, (key, make) in enumerate(builds.items()):
        keras.utils.set_random_seed(seeds[0])
        parts[key] = make(k)
        if len(builds) > 1:
            parts[key].name = f"{parts[key].name}_{i + 1}"  # names must be unique within the whole model
    if len(parts) == 1:
        model = parts[next(iter(parts))]
    else:
        inputs = keras.Input(shape=splits.x_train.shape[1:], name="image")
        # float32 like every part's output, also under a GPU's mixed-precision policy
        outputs = keras.layers.Concatenate(axis=1, name="configurations", dtype="float32")(
            [part(inputs) for part in parts.values()]
        )
        model = keras.Model(inputs, outputs, name="side_by_side")
    branches = k * len(parts)

    if isinstance(learning_rate, dict):
        if set(learning_rate) != set(builds):
            raise ValueError(
                f"learning rates for {sorted(map(str, learning_rate))} but builds for "
                f"{sorted(map(str, builds))}; give one rate per configuration"
            )
        rate_of = {id(v): learning_rate[key] for key, part in parts.items() for v in part.trainable_variables}
        opt = _group_rates_optimizer(optimizer, [rate_of[id(v)] for v in model.trainable_variables])
    else:
        opt = make_optimizer(optimizer, learning_rate)
    model.compile(optimizer=opt, loss=branch_loss(branches), steps_per_execution=steps_per_execution)
    steps = epochs * int(np.ceil(len(splits.y_train) / batch_size))
    if xla is True or (xla == "auto" and steps >= XLA_MIN_STEPS and branches >= XLA_MIN_BRANCHES):
        _use_xla(model)
    keep = [keep_best is True or (keep_best is not False and key in keep_best) for key in parts]
    if any(w.shape[0] != k for part, kept in zip(parts.values(), keep) if kept for w in part.weights):
        raise ValueError(
            "keep_best needs every weight to have the branch axis first (batch normalization's statistics do not)"
        )
    timer = _epoch_timer()
    validation = _branch_validation(splits.x_val, splits.y_val, list(parts.values()), k, eval_batch_size, keep)
    y_train = np.repeat(splits.y_train[:, None], branches, axis=1)
    if isinstance(learning_rate, (int, float)):
        rate = f", rate {learning_rate:g}"
    elif isinstance(learning_rate, dict):
        rate = ", rates " + ", ".join(f"{r:g}" for r in learning_rate.values())
    else:
        rate = ""
    seeds_shown = f"{k} seed{'s' * (k > 1)}"
    what = seeds_shown if len(parts) == 1 else f"{len(parts)} configurations x {seeds_shown}"
    shown = progress.keras_callback(f"{model.name} ({what} side by side, {optimizer}{rate})")
    model.fit(
        splits.x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        callbacks=[timer, shown, validation],
        verbose=0,
    )
    train_probs = model.predict(splits.x_train, batch_size=eval_batch_size, verbose=0)
    progress.add_work(
        models.training_flops(
            model, trained=epochs * len(splits.y_train), evaluated=epochs * len(splits.y_val) + len(splits.y_train)
        )
    )
    # Column g * k + i of the whole model's output is branch i of configuration g.
    share = [seconds / len(parts) for seconds in timer.seconds]
    runs = {}
    for g, (key, part) in enumerate(parts.items()):
        runs[key] = (
            [
                BranchResult(
                    seed=seed,
                    history=validation.history[g * k + i],
                    model=part,
                    branch=i,
                    train_accuracy=float(np.mean(train_probs[:, g * k + i].argmax(axis=1) == splits.y_train)),
                    best_epoch=validation.best[g * k + i][1],
                    best_weights=validation.best[g * k + i][2],
                )
                for i, seed in enumerate(seeds)
            ],
            share,
        )
    return runs if isinstance(build, dict) else runs[None]


def restore_best(results, splits, eval_batch_size: int = 2048) -> list[BranchResult]:
    """Early stopping: put each branch's lowest-validation-loss weights back into the model.

    Returns new BranchResults whose history ends at that epoch and whose train
    accuracy is recomputed; the shared model now predicts with the restored weights.
    """
    model = results[0].model
    for j, weight in enumerate(model.weights):
        values = weight.numpy()
        for r in results:
            values[r.branch] = r.best_weights[j]
        weight.assign(values)
    train_probs = model.predict(splits.x_train, batch_size=eval_batch_size, verbose=0)
    return [
        BranchResult(
            seed=r.seed,
            model=model,
            branch=r.branch,
            best_epoch=r.best_epoch,
            history={key: vals[: r.best_epoch] for key, vals in r.history.items()},
            train_accuracy=float(np.mean(train_probs[:, r.branch].argmax(axis=1) == splits.y_train)),
        )
        for r in results
    ]
