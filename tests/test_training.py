"""Side-by-side seed training: independent branches, correct initialization, determinism."""

import functools

import numpy as np
import pytest

from mnist_utils import backend, data, evaluation, models, training


def _toy_mnist(noise: float = 0.0, seed: int = 0):
    """Separable toy digits (class d lights up row 2d); ``noise``: the share of training labels
    replaced by random ones."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10, dtype=np.uint8), 30)
    x = rng.integers(0, 40, (300, 28, 28)).astype(np.uint8)
    x[np.arange(300), y * 2, :] = 255
    labels = y.copy()
    flip = rng.random(300) < noise
    labels[flip] = rng.integers(0, 10, flip.sum())
    return data.Mnist(x, labels, x[:100], y[:100], "synthetic", {})


@pytest.fixture(scope="module")
def tiny_splits():
    return data.split(_toy_mnist(), validation_size=50, seed=0)


def test_each_branch_gets_exactly_its_own_gradient():
    tf = backend.tensorflow()
    keras = backend.keras()
    keras.utils.set_random_seed(1)
    model = models.build_mlp_branches(3, hidden=(8, 6))
    x = tf.constant(np.random.default_rng(1).random((16, 28, 28)), dtype="float32")
    y = np.random.default_rng(2).integers(0, 10, 16)
    with tf.GradientTape() as tape:
        summed = tf.reduce_mean(training.branch_loss(3)(np.repeat(y[:, None], 3, 1), model(x)))
    together = tape.gradient(summed, model.trainable_weights)
    with tf.GradientTape() as tape:
        alone = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x)[:, 1]))
    single = tape.gradient(alone, model.trainable_weights)
    for weight, g_all, g_one in zip(model.trainable_weights, together, single):
        # Every weight has a branch axis; branch 1's slice must match, the others get nothing from it.
        axis = list(weight.shape).index(3)
        np.testing.assert_allclose(np.take(g_all, 1, axis), np.take(g_one, 1, axis), rtol=1e-5, atol=1e-7)
        assert not np.any(np.take(g_one, 0, axis)) and not np.any(np.take(g_one, 2, axis))


@pytest.mark.parametrize("layer, fans", [("hidden_1", (784, 128)), ("hidden_2", (128, 64)), ("logits", (64, 10))])
def test_branch_initialization_matches_a_single_dense_layer(layer, fans):
    backend.keras().utils.set_random_seed(0)
    model = models.build_mlp_branches(4, hidden=(128, 64))
    kernel = model.get_layer(layer).kernel.numpy()  # (branches, fan_in, fan_out)
    glorot_std = np.sqrt(2 / sum(fans))  # Keras's default Glorot-uniform for a Dense layer
    assert kernel.shape == (4, *fans)
    for branch in kernel:
        assert branch.std() == pytest.approx(glorot_std, rel=0.05)
    assert not np.allclose(kernel[0], kernel[1])


def test_train_branches_is_deterministic_and_learns(tiny_splits):
    training.set_determinism()
    build = lambda k: models.build_mlp_branches(k, hidden=(16,))  # noqa: E731
    first, seconds = training.train_branches(
        build, tiny_splits, [0, 1], epochs=3, batch_size=32, optimizer="nesterov", learning_rate=0.05
    )
    again, _ = training.train_branches(
        build, tiny_splits, [0, 1], epochs=3, batch_size=32, optimizer="nesterov", learning_rate=0.05
    )
    assert [r.seed for r in first] == [0, 1] and len(seconds) == 3
    assert all(len(r.history["val_accuracy"]) == 3 for r in first)
    assert [r.history for r in first] == [r.history for r in again]
    assert first[0].history != first[1].history  # different initial weights
    assert min(r.history["val_accuracy"][-1] for r in first) > 0.5  # far above chance (0.1)
    probs = training.predict_branches(first, tiny_splits.x_test)
    assert len(probs) == 2 and probs[0].shape == (100, 10) and not np.allclose(probs[0], probs[1])
    frame = evaluation.summarize_branch_runs({("relu", "nesterov"): (first, seconds)}, ("activation", "optimizer"))
    assert list(frame["seed"]) == [0, 1] and set(frame["optimizer"]) == {"nesterov"}
    single = evaluation.summarize_branch_runs({"dropout 0.5": (first, seconds)}, ("setting",))
    assert set(single["setting"]) == {"dropout 0.5"}  # a plain string key is one value, not characters


def test_keras_array_pipelines_run_without_autotuning():
    """The pipeline Keras builds for arrays has tf.data's autotuning off, and wrapping it twice does not nest."""
    backend.keras()
    backend.keras()
    from keras.src.trainers.data_adapters import array_data_adapter, get_data_adapter

    x, y = np.zeros((10, 28, 28), "float32"), np.zeros(10, "uint8")
    for shuffle in (True, False):  # fit's pipeline; evaluate's and predict's
        dataset = get_data_adapter(x, y, batch_size=4, shuffle=shuffle).get_tf_dataset()
        assert dataset.options().autotune.enabled is False
    wrapped = array_data_adapter.ArrayDataAdapter.get_tf_dataset
    assert not hasattr(wrapped.autotuned, "autotuned")  # one wrap, not a wrap of a wrap
    autotuned = wrapped.autotuned(get_data_adapter(x, y, batch_size=4, shuffle=True))
    assert autotuned.options().autotune.enabled is not False  # the wrapped method itself still autotunes


def test_autotuning_off_changes_no_batch_and_no_weight(tiny_splits, monkeypatch):
    """Trained with the autotuned pipeline, a CNN with augmentation, dropout and reshuffled
    batches ends with bitwise the same weights and history as without it."""
    from keras.src.trainers.data_adapters import array_data_adapter

    training.set_determinism()
    build = functools.partial(models.build_cnn, widths=(4, 8), batch_norm=False, augment={})
    kw = dict(epochs=2, batch_size=32, learning_rate=0.003, steps_per_execution=2)
    untuned = training.train(build, tiny_splits, 0, **kw)
    adapter = array_data_adapter.ArrayDataAdapter
    monkeypatch.setattr(adapter, "get_tf_dataset", adapter.get_tf_dataset.autotuned)
    autotuned = training.train(build, tiny_splits, 0, **kw)
    assert untuned.history == autotuned.history
    for a, b in zip(untuned.model.weights, autotuned.model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(untuned.test_probs, autotuned.test_probs)


def test_make_optimizer_study_names():
    cfg = training.make_optimizer("nesterov", 0.02).get_config()
    assert cfg["nesterov"] is True and cfg["momentum"] == pytest.approx(0.9)
    assert cfg["learning_rate"] == pytest.approx(0.02)
    assert training.make_optimizer("adam").get_config()["learning_rate"] == pytest.approx(0.001)


def test_run_seeds_returns_per_seed_histories_and_scores(tiny_splits, monkeypatch):
    from mnist_utils import progress

    training.set_determinism()
    build = lambda: models.build_mlp(hidden=(16,))  # noqa: E731
    said = []
    monkeypatch.setattr(progress, "report", said.append)
    runs = training.run_seeds(build, tiny_splits, [3, 4], epochs=2, batch_size=32, label="the tiny MLP")
    # The progress line says what trains and which of the seeds, in words.
    assert said[-1].startswith("training the tiny MLP, seed 2 of 2, epoch 2 of 2")
    said.clear()
    training.train(build, tiny_splits, 5, epochs=1, batch_size=32)
    assert said == ["training mlp, seed 5, epoch 1 of 1"]  # alone and unlabelled: the model's name and its seed
    again = training.run_seeds(build, tiny_splits, [3], epochs=2, batch_size=32)
    assert [r.seed for r in runs] == [3, 4]
    assert set(runs[0].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in runs[0].history.values()) and len(runs[0].epoch_seconds) == 2
    assert runs[0].history == again[0].history  # same seed, same run
    assert runs[0].history != runs[1].history
    assert runs[0].test_probs.shape == (100, 10)
    assert runs[0].test_accuracy == evaluation.accuracy(tiny_splits.y_test, runs[0].test_probs)


def _bits(variables):
    return [v.numpy().tobytes() for v in variables]


def _assert_same_runs(fresh, reused):
    """Bitwise the same runs: histories, predictions, final weights, seed states and optimizer state."""
    assert len(fresh) == len(reused)
    for a, b in zip(fresh, reused):
        assert a.seed == b.seed and a.history == b.history
        assert np.array_equal(a.test_probs, b.test_probs) and a.test_accuracy == b.test_accuracy
        assert (a.epoch_test_predictions is None) == (b.epoch_test_predictions is None)
        assert a.epoch_test_predictions is None or np.array_equal(a.epoch_test_predictions, b.epoch_test_predictions)
        assert _bits(a.model.variables) == _bits(b.model.variables)  # seed-generator states included
        assert _bits(a.model.optimizer.variables) == _bits(b.model.optimizer.variables)


def _dropout_mlp():
    keras = backend.keras()
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="dropout_mlp",
    )


def _batch_norm_mlp():
    keras = backend.keras()
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.Activation("relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="batch_norm_mlp",
    )


@pytest.mark.parametrize("case", ["dropout", "batch norm, plateau", "augmented cnn"])
def test_run_seeds_reusing_one_model_equals_fresh_training(tiny_splits, case):
    """run_seeds trains every seed on one compiled model; each run must still be bitwise the run
    a fresh model gives: dropout and augmentation draw from reset seed states, batch norm's
    statistics, the optimizer's moments and the learning rate that ReduceLROnPlateau lowers
    start over, and the mini-batch order is the seed's."""
    training.set_determinism()
    splits, seeds = tiny_splits, [0, 1]
    if case == "dropout":
        build, recipe = _dropout_mlp, {"epochs": 2, "batch_size": 32, "record_test": True}
    elif case == "batch norm, plateau":
        # Noisy labels: the validation loss soon rises, so the rate drops and training stops early.
        splits = data.split(_toy_mnist(noise=0.3), validation_size=50, seed=0)
        build, recipe = _batch_norm_mlp, {"epochs": 12, "batch_size": 32, "learning_rate": 0.1, "plateau_patience": 2}
    else:
        build = functools.partial(
            models.build_cnn, widths=(4, 8), convs_per_block=1, dense=16, augment={}, bn_momentum=0.5
        )
        recipe = {"epochs": 1, "batch_size": 64}
    fresh = [training.train(build, splits, seed, **recipe) for seed in seeds]
    _assert_same_runs(fresh, training.run_seeds(build, splits, seeds, **recipe))
    if case == "batch norm, plateau":  # both callbacks did act
        assert any(len(r.history["loss"]) < recipe["epochs"] for r in fresh)
        assert all(r.history["learning_rate"][-1] < 0.1 for r in fresh)


def test_reused_runs_keep_models_of_their_own(tiny_splits, tmp_path):
    """Each result's model holds its own run's weights: it predicts its recorded test
    probabilities, and saves and reloads."""
    training.set_determinism()
    keras = backend.keras()
    runs = training.run_seeds(_dropout_mlp, tiny_splits, [0, 1], epochs=2, batch_size=32)
    assert runs[0].model is not runs[1].model
    assert _bits(runs[0].model.weights) != _bits(runs[1].model.weights)
    for run in runs:
        assert np.array_equal(run.model.predict(tiny_splits.x_test, batch_size=2048, verbose=0), run.test_probs)
    runs[0].model.save(tmp_path / "first.keras")
    reloaded = keras.models.load_model(tmp_path / "first.keras")
    assert np.array_equal(reloaded.predict(tiny_splits.x_test, batch_size=2048, verbose=0), runs[0].test_probs)


def test_model_cache_reuses_across_train_calls(tiny_splits):
    """A ModelCache shared by train calls (cross-validation folds: other data, same recipe)
    builds its model once, and each call equals a fresh one."""
    training.set_determinism()
    builds = []

    def build():
        builds.append(1)
        return _dropout_mlp()

    # Two folds, then other settings, which replace the cached model.
    runs = [
        (tiny_splits, "adam"),
        (data.split(_toy_mnist(seed=1), validation_size=60, seed=1), "adam"),
        (tiny_splits, "sgd"),
    ]
    fresh = [training.train(build, fold, 5, epochs=2, batch_size=32, optimizer=opt) for fold, opt in runs]
    cache = training.ModelCache()
    del builds[:]
    reused = [training.train(build, fold, 5, epochs=2, batch_size=32, optimizer=opt, reuse=cache) for fold, opt in runs]
    assert len(builds) == 2 + len(runs)  # the cache's two models, and each run's own
    _assert_same_runs(fresh, reused)


def test_restore_best_puts_back_each_branchs_best_epoch(tiny_splits):
    training.set_determinism()
    build = lambda k: models.build_mlp_branches(k, hidden=(32,))  # noqa: E731
    # A large learning rate makes the validation loss bounce, so the best epoch is not always the last.
    runs, _ = training.train_branches(
        build, tiny_splits, [0, 1], epochs=6, batch_size=16, optimizer="sgd", learning_rate=0.5, keep_best=True
    )
    for r in runs:
        assert r.best_epoch == int(np.argmin(r.history["val_loss"])) + 1
    restored = training.restore_best(runs, tiny_splits)
    for r, probs in zip(restored, training.predict_branches(restored, tiny_splits.x_val)):
        # the model now holds the best weights
        loss = -np.mean(np.log(np.clip(probs[np.arange(len(tiny_splits.y_val)), tiny_splits.y_val], 1e-7, 1)))
        assert loss == pytest.approx(min(r.history["val_loss"]), rel=1e-5)
        assert len(r.history["val_loss"]) == r.best_epoch


def test_keep_best_refuses_batch_norm(tiny_splits):
    build = lambda k: models.build_mlp_branches(k, hidden=(8,), batch_norm=True)  # noqa: E731
    with pytest.raises(ValueError, match="batch normalization"):
        training.train_branches(build, tiny_splits, [0, 1], epochs=1, batch_size=32, keep_best=True)


@pytest.mark.parametrize("options", [{"dropout": 0.5}, {"batch_norm": True}, {"l2": 0.001}])
def test_regularized_branches_train(tiny_splits, options):
    build = lambda k: models.build_mlp_branches(k, hidden=(32,), **options)  # noqa: E731
    runs, _ = training.train_branches(build, tiny_splits, [0, 1], epochs=5, batch_size=16)
    assert all(r.history["val_accuracy"][-1] > 0.8 for r in runs)  # the toy task is easy


# Configurations that differ in rate, penalty, dropout and batch norm, side by side.
SIDE_BY_SIDE = {
    "plain": {},
    "l2": {"l2": 0.01},
    "dropout": {"dropout": 0.3},
    "batch norm": {"batch_norm": True},
}


def _side_by_side(splits, **kwargs):
    builds = {
        name: functools.partial(models.build_mlp_branches, hidden=(16,), **options)
        for name, options in SIDE_BY_SIDE.items()
    }
    return training.train_branches(builds, splits, [0, 1], epochs=3, batch_size=32, optimizer="adam", **kwargs)


def test_configurations_side_by_side_train_as_they_would_alone(tiny_splits):
    training.set_determinism()
    rates = {"plain": 0.001, "l2": 0.003, "dropout": 0.01, "batch norm": 0.002}
    together = _side_by_side(tiny_splits, learning_rate=rates)
    assert list(together) == list(SIDE_BY_SIDE)
    for name, options in SIDE_BY_SIDE.items():
        build = functools.partial(models.build_mlp_branches, hidden=(16,), **options)
        alone, _ = training.train_branches(
            build, tiny_splits, [0, 1], epochs=3, batch_size=32, optimizer="adam", learning_rate=rates[name]
        )
        results, seconds = together[name]
        assert [r.seed for r in results] == [0, 1] and len(seconds) == 3
        for a, b in zip(results, alone):
            # Same start, same mini-batches, same rate: the same run, up to float rounding.
            np.testing.assert_allclose(a.history["val_loss"], b.history["val_loss"], rtol=1e-4)
            # (atol: under batch norm the hidden bias gets no gradient at all, only Adam-scaled rounding noise)
            for wa, wb in zip(a.model.weights, b.model.weights, strict=True):
                np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-3, atol=2e-3, err_msg=f"{name} {wa.path}")
        # and each configuration's own model predicts its branches (predict_branches, restore_best)
        probs = training.predict_branches(results, tiny_splits.x_val)
        p = probs[1][np.arange(len(tiny_splits.y_val)), tiny_splits.y_val]
        assert float(-np.mean(np.log(np.clip(p, 1e-7, 1)))) == pytest.approx(
            results[1].history["val_loss"][-1], rel=1e-4
        )
    assert together["plain"][0][0].history != together["l2"][0][0].history


def test_side_by_side_under_xla_is_deterministic(tiny_splits):
    """Keras turns XLA off under op determinism; train_branches turns it back on for these MLPs,
    so every layer they use (L2, dropout, batch norm, per-configuration rates) must give
    identical weights run after run."""
    training.set_determinism()
    rates = {"plain": 0.001, "l2": 0.003, "dropout": 0.01, "batch norm": 0.002}
    first, again = (_side_by_side(tiny_splits, learning_rate=rates, xla=True) for _ in range(2))
    assert first["plain"][0][0].model is not again["plain"][0][0].model
    for name in SIDE_BY_SIDE:
        for a, b in zip(first[name][0][0].model.weights, again[name][0][0].model.weights, strict=True):
            assert a.numpy().tobytes() == b.numpy().tobytes()
    assert (
        first["plain"][0][0].model.weights[0].numpy().tobytes() != first["l2"][0][0].model.weights[0].numpy().tobytes()
    )


def test_xla_runs_when_asked_and_auto_leaves_short_runs_without(tiny_splits, monkeypatch):
    """Whether the training step was compiled with XLA, seen by the call that compiles it (whether
    XLA's kernels round differently from the default ones depends on the machine)."""
    training.set_determinism()
    build = functools.partial(models.build_mlp_branches, hidden=(16,))
    compiled = []
    monkeypatch.setattr(training, "_use_xla", lambda model, use=training._use_xla: (compiled.append(model), use(model)))

    def xla_used(**kwargs) -> bool:
        compiled.clear()
        results, _ = training.train_branches(build, tiny_splits, [0], epochs=2, batch_size=32, **kwargs)
        assert np.isfinite(results[0].history["val_loss"]).all()
        return compiled == [results[0].model]

    assert xla_used(xla=True) and not xla_used(xla=False)
    monkeypatch.setattr(training, "XLA_MIN_BRANCHES", 1)
    assert not xla_used()  # "auto": 2 epochs of 8 steps are far below XLA_MIN_STEPS
    monkeypatch.setattr(training, "XLA_MIN_STEPS", 16)
    assert xla_used()  # and at the threshold it compiles
    monkeypatch.setattr(training, "XLA_MIN_BRANCHES", 2)
    assert not xla_used()  # but not a model of fewer branches than XLA_MIN_BRANCHES


def test_side_by_side_keeps_best_weights_only_where_asked(tiny_splits):
    runs = _side_by_side(tiny_splits, keep_best=["plain"])  # batch norm beside it is fine
    assert all(r.best_weights is not None for r in runs["plain"][0])
    assert all(r.best_weights is None for r in runs["batch norm"][0])
    with pytest.raises(ValueError, match="batch normalization"):
        _side_by_side(tiny_splits, keep_best=True)
    with pytest.raises(ValueError, match="one rate per configuration"):
        _side_by_side(tiny_splits, learning_rate={"plain": 0.001})


def test_learning_rate_schedule_constant_cosine_and_unknown():
    assert training.learning_rate_schedule("constant", 0.01, 5, 10) == 0.01
    cosine = training.learning_rate_schedule("cosine", 0.01, 5, 10)
    # Full rate at the first step, half at the midpoint, zero after the last of 5 x 10 steps.
    np.testing.assert_allclose([float(cosine(s)) for s in (0, 25, 50)], [0.01, 0.005, 0.0], atol=1e-9)
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        training.learning_rate_schedule("step", 0.01, 5, 10)


def test_cosine_schedule_with_warmup_rises_then_decays_to_zero():
    rate = training.learning_rate_schedule("cosine", 0.01, 5, 10, warmup_epochs=1)
    # Linear warm-up over the first epoch's 10 steps, then half a cosine over the other 40.
    np.testing.assert_allclose([float(rate(s)) for s in (0, 5, 10, 30, 50)], [0.0, 0.005, 0.01, 0.005, 0.0], atol=1e-9)


@pytest.mark.parametrize("options", [{"dropout": 0.2}, {"batch_norm": True}])
def test_single_branch_predicts_like_its_branch(tiny_splits, options):
    build = functools.partial(models.build_mlp_branches, hidden=(16, 8), **options)
    results, _ = training.train_branches(build, tiny_splits, [0, 1, 2], epochs=2, batch_size=32)
    multi = results[0].model.predict(tiny_splits.x_test, verbose=0)
    alone = models.single_branch(results[0].model, 2, build)
    np.testing.assert_allclose(alone.predict(tiny_splits.x_test, verbose=0), multi[:, 2], atol=1e-6)


@pytest.mark.parametrize("policy, half", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_precision_is_float32_on_cpu_and_outputs_and_exports_stay_float32_under_mixed(
    tiny_splits, tmp_path, policy, half
):
    """On a GPU the study trains in mixed float16, and our CNN on a CPU with bfloat16 instructions in
    mixed bfloat16; the probabilities must stay float32 there, and the exports must be float32."""
    from mnist_utils import export

    keras = backend.keras()
    tf = backend.tensorflow()
    assert training.set_precision() == ("mixed_float16" if tf.config.list_physical_devices("GPU") else "float32")
    keras.mixed_precision.set_global_policy(policy)  # what a GPU or a bfloat16 CPU gets, emulated where it is not one
    try:
        builders = [
            functools.partial(models.build_mlp, hidden=(8,)),
            models.build_paper001_cnn,
            models.build_lenet5,
            models.build_bn_cnn,
            functools.partial(models.build_cnn, augment={}),
            lambda: models.single_branch(
                models.build_mlp_branches(2, hidden=(8,)), 1, functools.partial(models.build_mlp_branches, hidden=(8,))
            ),
        ]
        for build in builders:
            model = build()
            assert model(np.zeros((2, 28, 28), "float32")).dtype == "float32", model.name
            assert any(layer.compute_dtype == half for layer in model.layers), model.name
        run = training.train(models.build_lenet5, tiny_splits, seed=0, epochs=1, batch_size=64)
        assert run.test_probs.dtype == np.float32 and np.allclose(run.test_probs.sum(axis=1), 1, atol=1e-3)
        export.to_tflite(run.model, tmp_path / "m.tflite")
        probs = export.tflite_predict(tmp_path / "m.tflite", tiny_splits.x_test[:50], batch_size=50)
        assert np.mean(probs.argmax(1) == run.test_probs[:50].argmax(1)) > 0.9
        export.save_keras(run.model, tmp_path / "m.keras", tiny_splits.x_test[:50])
        assert f'"{policy}"' not in (tmp_path / "m.keras").read_bytes().decode("latin-1")
        copy = models.float32_copy(run.model)  # what notebook 05 saves, exports and times
        assert copy is not run.model and {layer.compute_dtype for layer in copy.layers} == {"float32"}
        assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), run.model.get_weights(), strict=True))
        assert export.save_keras(copy, tmp_path / "copy.keras", tiny_splits.x_test[:50]) == 0.0  # exact round trip
        assert models.float32_copy(copy) is copy  # a float32 model is its own copy
    finally:
        keras.mixed_precision.set_global_policy("float32")


CPUINFO = "processor\t: 0\nmodel name\t: AMD EPYC avx512_bf16 edition\nflags\t\t: fpu sse2 avx2 {}\n\nprocessor\t: 1\n"


@pytest.mark.parametrize(
    "flags, has",
    [
        ("avx512f avx512bw avx512_bf16", True),  # AMD Zen 4 and later, Intel Cooper Lake
        ("amx_tile amx_bf16", True),  # Intel Sapphire Rapids and later
        ("avx512f avx512bw avx512_vnni", False),  # AVX-512 alone: oneDNN would emulate bfloat16
        ("avx512_bf16x", False),  # a whole flag, not a prefix
        ("", False),
    ],
)
def test_cpu_has_bfloat16_reads_the_flags_line(flags, has):
    assert training.cpu_has_bfloat16(CPUINFO.format(flags)) is has  # the model name's words are not flags


def test_cpu_has_bfloat16_is_false_where_there_is_no_cpuinfo(monkeypatch):
    def unreadable(self, *args, **kwargs):
        raise FileNotFoundError(self)

    monkeypatch.setattr(training.Path, "read_text", unreadable)
    assert training.cpu_has_bfloat16() is False


@pytest.mark.parametrize(
    "asked, cpu, expected",
    [
        (True, True, "mixed_bfloat16"),
        (True, False, "float32"),
        (False, True, "float32"),
        (False, False, "float32"),
    ],
)
def test_reduced_precision_is_bfloat16_only_where_asked_and_the_cpu_has_it(monkeypatch, asked, cpu, expected):
    tf = backend.tensorflow()
    monkeypatch.setattr(training, "cpu_has_bfloat16", lambda: cpu)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert training.reduced_precision(asked) == ("mixed_float16" if gpu else expected)


def test_models_precision_sets_the_policy_inside_the_block_and_restores_it_after_an_error():
    keras = backend.keras()
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError, match="inside"):
        with models.precision("mixed_bfloat16") as policy:
            assert policy == keras.config.dtype_policy().name == "mixed_bfloat16"
            assert models.build_lenet5().layers[1].compute_dtype == "bfloat16"
            raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == "float32"
    assert models.build_lenet5().layers[1].compute_dtype == "float32"


def test_recorded_test_predictions_are_the_model_s_after_each_epoch(tiny_splits):
    """record_test keeps each epoch's test labels; without early stopping the last row is the final
    prediction, and recording changes nothing about the training."""
    plain = training.train(
        functools.partial(models.build_mlp, hidden=(16,)), tiny_splits, seed=3, epochs=3, batch_size=32
    )
    run = training.train(
        functools.partial(models.build_mlp, hidden=(16,)),
        tiny_splits,
        seed=3,
        epochs=3,
        batch_size=32,
        record_test=True,
    )
    assert plain.epoch_test_predictions is None
    assert (
        run.epoch_test_predictions.shape == (3, len(tiny_splits.y_test))
        and run.epoch_test_predictions.dtype == np.uint8
    )
    assert np.array_equal(run.epoch_test_predictions[-1], run.test_probs.argmax(axis=1))
    assert np.array_equal(run.test_probs, plain.test_probs) and run.history == plain.history


def test_l2_can_spare_the_output_layer():
    """Course paper 000 penalizes only its hidden kernel; notebook 04 penalizes every kernel."""
    every = models.build_mlp_branches(2, hidden=(8,), l2=0.01)
    hidden_only = models.build_mlp_branches(2, hidden=(8,), l2=0.01, l2_output=False)
    assert len(every.losses) == 2 and len(hidden_only.losses) == 1


def test_training_flops_count_the_layers_by_hand(tiny_splits):
    """6 FLOPs per multiply-add and image trained (forward 2, backward 4), 2 per image predicted."""
    from mnist_utils import progress

    mlp = models.build_mlp(hidden=(128,))
    assert models.multiply_adds(mlp) == 784 * 128 + 128 * 10
    assert models.training_flops(mlp, trained=1000, evaluated=10) == (6 * 1000 + 2 * 10) * (784 * 128 + 128 * 10)
    # Three branches side by side cost three MLPs.
    assert models.multiply_adds(models.build_mlp_branches(3, hidden=(128,))) == 3 * (784 * 128 + 128 * 10)
    # Configurations side by side cost the sum of theirs, and their training reports it.
    build = functools.partial(models.build_mlp_branches, hidden=(16,))
    before = progress._state["flops"]
    training.train_branches(
        {"a": build, "b": functools.partial(build, l2=0.01)}, tiny_splits, [0, 1], epochs=2, batch_size=32
    )
    macs = 2 * models.multiply_adds(build(2))
    n_train, n_val = len(tiny_splits.y_train), len(tiny_splits.y_val)
    assert progress._state["flops"] - before == pytest.approx(6 * macs * 2 * n_train + 2 * macs * (2 * n_val + n_train))
    # LeNet-5 as paper 003 builds it: 24x24x6 outputs of 5x5x1, 8x8x16 of 5x5x6, dense 256-120-10.
    assert models.multiply_adds(models.build_lenet5()) == 24 * 24 * 6 * 25 + 8 * 8 * 16 * 150 + 256 * 120 + 120 * 10


def test_validating_after_the_last_epoch_only_keeps_the_final_score_and_the_training(tiny_splits):
    """validate_last_only scores the validation set once, at the end: the same final score and the
    same training as scoring it after every epoch (validation changes no weight), and it refuses
    early stopping, which needs a score after every epoch."""
    training.set_determinism()
    build = functools.partial(models.build_mlp, hidden=(16,))
    every = training.train(build, tiny_splits, seed=3, epochs=3, batch_size=32)
    last = training.train(build, tiny_splits, seed=3, epochs=3, batch_size=32, validate_last_only=True)
    assert len(every.history["val_accuracy"]) == 3 and len(last.history["val_accuracy"]) == 1
    assert last.history["val_accuracy"][-1] == every.history["val_accuracy"][-1]
    assert last.history["val_loss"][-1] == pytest.approx(every.history["val_loss"][-1])
    assert last.history["loss"] == every.history["loss"] and np.array_equal(last.test_probs, every.test_probs)
    with pytest.raises(ValueError, match="plateau_patience"):
        training.train(build, tiny_splits, seed=3, epochs=3, batch_size=32, validate_last_only=True, plateau_patience=2)


def test_without_reshuffling_every_epoch_sees_the_same_batches(tiny_splits):
    """shuffle=False (course paper 001's question) feeds the training images in one fixed order:
    with small batches that changes the training; with one batch holding every image it cannot."""
    training.set_determinism()
    build = functools.partial(models.build_mlp, hidden=(16,))
    small = dict(seed=3, epochs=2, batch_size=32)
    assert (
        training.train(build, tiny_splits, shuffle=False, **small).history["loss"]
        != training.train(build, tiny_splits, **small).history["loss"]
    )
    whole = dict(seed=3, epochs=2, batch_size=len(tiny_splits.y_train))
    fixed, shuffled = (training.train(build, tiny_splits, shuffle=s, **whole) for s in (False, True))
    assert fixed.history["loss"] == pytest.approx(shuffled.history["loss"], rel=1e-5)


def test_the_recorded_step_losses_are_each_mini_batchs_loss(tiny_splits):
    """record_loss turns Keras's running mean into the loss of each step's images: each epoch's
    losses, weighted by batch size, average to the epoch's loss; the first is the untrained
    model's loss on the first batch; with two steps per execution, each value is the mean of two
    steps' losses; and recording changes nothing else."""
    training.set_determinism()
    keras = backend.keras()
    build = functools.partial(models.build_mlp, hidden=(16,))
    n, batch = len(tiny_splits.y_train), 64  # 250 images: steps of 64, 64, 64 and 58
    run = dict(seed=3, epochs=2, batch_size=batch, shuffle=False)
    plain = training.train(build, tiny_splits, **run)
    every = training.train(build, tiny_splits, record_loss=True, steps_per_execution=1, **run)
    pairs = training.train(build, tiny_splits, record_loss=True, steps_per_execution=2, **run)
    assert plain.step_losses is None and every.step_losses.shape == (2, 4) and pairs.step_losses.shape == (2, 2)
    sizes = np.diff(np.minimum(np.arange(0, n + batch, batch), n))
    assert list(sizes) == [64, 64, 64, 58]
    for epoch in range(2):
        assert np.average(every.step_losses[epoch], weights=sizes) == pytest.approx(
            every.history["loss"][epoch], rel=1e-5
        )
        halves = [np.average(every.step_losses[epoch][i : i + 2], weights=sizes[i : i + 2]) for i in (0, 2)]
        np.testing.assert_allclose(pairs.step_losses[epoch], halves, rtol=1e-5)
    keras.utils.set_random_seed(3)
    untrained = build()
    first = keras.losses.sparse_categorical_crossentropy(
        tiny_splits.y_train[:batch], untrained(tiny_splits.x_train[:batch])
    )
    assert every.step_losses[0][0] == pytest.approx(float(np.mean(first)), rel=1e-5)
    assert every.step_losses[0][0] > every.step_losses[1][-1]  # it learns
    assert plain.history == every.history == pairs.history and np.array_equal(plain.test_probs, every.test_probs)


def test_training_accuracy_is_measured_on_the_final_weights_in_inference_mode(tiny_splits):
    """train_accuracy scores the training images with dropout off; train_val_gap subtracts each
    run's final validation accuracy. A dropout of 0.9 makes Keras's running figure, measured
    with dropout on while the weights change, far from it."""
    training.set_determinism()
    build = functools.partial(models.build_cnn, widths=(4, 8), dense=32, dropout=0.9, batch_norm=False)
    runs = training.run_seeds(build, tiny_splits, [0, 1], epochs=3, batch_size=32)
    by_hand = [
        float(np.mean(r.model(tiny_splits.x_train, training=False).numpy().argmax(axis=1) == tiny_splits.y_train))
        for r in runs
    ]
    assert training.train_accuracy(runs, tiny_splits.x_train, tiny_splits.y_train) == pytest.approx(by_hand)
    gaps = [a - r.history["val_accuracy"][-1] for a, r in zip(by_hand, runs)]
    assert training.train_val_gap(runs, tiny_splits.x_train, tiny_splits.y_train) == pytest.approx(np.mean(gaps))
    assert any(abs(a - r.history["accuracy"][-1]) > 0.05 for a, r in zip(by_hand, runs))
