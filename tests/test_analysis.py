"""Error-analysis helpers against answers worked out by hand."""

import numpy as np
import pytest

from mnist_utils import analysis, backend, models


def test_per_class_report_agrees_with_accuracy():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 2])
    report = analysis.per_class_report(y_true, y_pred)
    assert report.loc["0", "precision"] == pytest.approx(2 / 3) and report.loc["0", "recall"] == pytest.approx(2 / 3)
    assert report.loc["1", "precision"] == pytest.approx(2 / 3) and report.loc["1", "recall"] == 1.0
    assert report.loc["2", "recall"] == pytest.approx(0.8) and report.loc["2", "support"] == 5
    # The support-weighted recall is the accuracy.
    assert report.loc["weighted average", "recall"] == pytest.approx(np.mean(y_true == y_pred))


def test_top_confusions_counts_off_diagonal_pairs():
    y_true = np.array([4, 4, 4, 9, 7, 7, 1])
    y_pred = np.array([9, 9, 4, 4, 1, 1, 1])
    pairs = analysis.top_confusions(y_true, y_pred, n=5)
    assert pairs.values.tolist() == [[4, 9, 2], [7, 1, 2], [9, 4, 1]]


def test_expected_calibration_error_known_values():
    y = np.array([0, 1, 2, 3])
    sure = np.eye(10)[[0, 1, 2, 0]]  # confidence 1.0 everywhere, 3 of 4 right
    assert analysis.expected_calibration_error(y, sure) == pytest.approx(0.25)
    half = np.full((4, 10), 0.5 / 9)
    half[np.arange(4), [0, 1, 5, 5]] = 0.5  # confidence 0.5, half right: perfectly calibrated
    assert analysis.expected_calibration_error(y, half) == pytest.approx(0.0)


def test_fit_temperature_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (20_000, 10))
    truth = analysis.scale(logits, 1.0)
    labels = np.array([rng.choice(10, p=p) for p in truth])
    overconfident = analysis.scale(logits, 0.5)  # logits doubled
    t = analysis.fit_temperature(labels, overconfident)
    assert t == pytest.approx(2.0, rel=0.05)
    np.testing.assert_allclose(analysis.temperature_scaled(overconfident, t).argmax(1), overconfident.argmax(1))


def test_geometric_perturbations():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 14, 4:24] = 1.0  # a horizontal bar through the centre row
    moved = analysis.shift(image, 3)
    assert moved[0, 17, 7:27].min() == 1.0 and moved.sum() == image.sum()
    upright = analysis.rotate(image, 90)
    assert upright[0, 6:22, 13:15].mean() > 0.4 and upright[0, 14, 4:8].max() < 0.1
    noisy = analysis.gaussian_noise(image, 0.3)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.array_equal(noisy, image)
    with pytest.raises(ValueError, match="unknown perturbation 'blur'"):
        analysis.perturb("blur", None, image, np.zeros(1), 1.0)


@pytest.fixture(scope="module")
def linear_model():
    keras = backend.keras()
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )


def test_fgsm_moves_each_pixel_by_epsilon_and_raises_the_loss(linear_model):
    keras = backend.keras()
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, (64, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    adv = analysis.fgsm(linear_model, x, y, 0.1, batch_size=20)
    np.testing.assert_allclose(np.abs(adv - x), 0.1, atol=1e-6)  # no clipping needed inside [0.2, 0.8]
    loss = lambda images: float(np.mean(keras.losses.sparse_categorical_crossentropy(y, linear_model(images))))  # noqa: E731
    assert loss(adv) > loss(x)
    assert analysis.fgsm(linear_model, x, y, 0.0) is x


def test_saliency_is_per_image_normalized(linear_model):
    x = np.random.default_rng(1).random((3, 28, 28)).astype(np.float32)
    maps = analysis.saliency(linear_model, x, np.array([0, 3, 9]), samples=4)
    assert maps.shape == x.shape and maps.min() >= 0
    np.testing.assert_allclose(maps.reshape(3, -1).max(axis=1), 1.0)


def test_sklearn_digits_prepared_like_mnist():
    images, labels = analysis.sklearn_digits_as_mnist()
    assert images.shape == (1797, 28, 28) and labels.shape == (1797,)
    assert images.min() == 0.0 and images.max() == 1.0
    # Light ink on black, fitted into the central 20x20 box or near it.
    assert images[:, :2].max() == 0.0 or np.mean(images[:, :2] > 0) < 0.01


@pytest.mark.parametrize("kind", ["dense softmax", "softmax layer", "sequential"])
def test_logits_model_recovers_the_scores_and_fgsm_moves_saturated_digits(kind):
    keras = backend.keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(inputs)
    if kind == "softmax layer":
        outputs = keras.layers.Softmax()(keras.layers.Dense(10)(x))
    else:
        outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = (
        keras.Model(inputs, outputs)
        if kind != "sequential"
        else keras.Sequential(
            [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
        )
    )
    layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    layer.bias.assign(np.eye(10)[0] * 30)  # saturate: class 0's probability rounds to exactly 1.0
    images = np.random.default_rng(0).uniform(0.2, 0.8, (8, 28, 28)).astype(np.float32)
    probs = model.predict(images, verbose=0)
    assert np.all(probs.max(axis=1) == 1.0)
    np.testing.assert_allclose(
        analysis.scale(analysis.logits_model(model).predict(images, verbose=0), 1.0), probs, atol=1e-6
    )
    adv = analysis.fgsm(model, images, probs.argmax(axis=1), 0.05)
    np.testing.assert_allclose(np.abs(adv - images), 0.05, atol=1e-6)  # every pixel moved, no masking


def test_logits_model_of_a_batch_norm_mlp_saved_by_another_process(tmp_path):
    """Notebook 06 loads 04's best MLP in a new kernel: the layers both add must not share a name.

    Keras names an unnamed layer from a process-wide counter ("reshape", "reshape_1", ...), which
    starts again in every process; two unnamed Reshapes, one saved and one added, then collide.
    """
    import functools

    keras = backend.keras()
    build = functools.partial(models.build_mlp_branches, hidden=(8, 8), batch_norm=True)
    keras.backend.clear_session()  # the process that trains and saves
    keras.utils.set_random_seed(0)
    best = models.single_branch(build(2), 1, build)
    best.save(tmp_path / "best_mlp.keras")
    keras.backend.clear_session()  # the process that loads it
    loaded = keras.models.load_model(tmp_path / "best_mlp.keras")
    images = np.random.default_rng(0).uniform(0, 1, (4, 28, 28)).astype(np.float32)
    for _ in range(10):  # as its counter climbs, an unnamed layer would reach each saved one's name
        scores = analysis.logits_model(loaded).predict(images, verbose=0)
    np.testing.assert_allclose(analysis.scale(scores, 1.0), loaded.predict(images, verbose=0), atol=1e-5)
