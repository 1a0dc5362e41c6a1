"""The classical baseline of notebook 02: HOG features and a linear classifier."""

import numpy as np
import pytest

from mnist_utils import classical, data


def test_hog_vectors_have_the_length_their_cells_and_blocks_give():
    images = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    features = classical.hog_features(images)
    # 7x7-pixel cells make a 4x4 grid; blocks of 2x2 cells fit 3x3 times; 9 bins per cell.
    assert features.shape == (3, classical.hog_length()) == (3, 3 * 3 * 2 * 2 * 9) and features.dtype == np.float32
    assert classical.hog_features(images, cell=4).shape == (3, classical.hog_length(cell=4)) == (3, 6 * 6 * 2 * 2 * 9)


def bars(orientation: str, n: int, seed: int) -> np.ndarray:
    """Images of one straight stroke, horizontal or vertical, at random positions and lengths."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.float32)
    for image in images:
        at, start = rng.integers(6, 22), rng.integers(2, 10)
        stroke = slice(start, start + rng.integers(10, 17))
        if orientation == "horizontal":
            image[at - 1 : at + 2, stroke] = 1.0
        else:
            image[stroke, at - 1 : at + 2] = 1.0
    return images


def test_a_linear_classifier_on_hog_tells_stroke_directions_apart():
    """Where a stroke lies varies, its direction does not: the gradient histograms carry it."""
    train = np.concatenate([bars("horizontal", 40, 0), bars("vertical", 40, 1)])
    test = np.concatenate([bars("horizontal", 20, 2), bars("vertical", 20, 3)])
    labels = np.repeat([0, 1], 40)
    fit = classical.fit_linear(classical.hog_features(train), labels)
    assert np.mean(fit.predict(classical.hog_features(test)) == np.repeat([0, 1], 20)) >= 0.95  # chance: 0.5


@pytest.mark.mnist
def test_the_hog_baseline_on_a_toy_subset_of_mnist_scores_well_above_chance():
    splits = data.split(data.load_mnist(download=False), train_limit=1000)
    fit = classical.fit_linear(classical.hog_features(splits.x_train), splits.y_train)
    accuracy = np.mean(fit.predict(classical.hog_features(splits.x_test[:1000])) == splits.y_test[:1000])
    assert accuracy > 0.85  # chance is 0.1; on all 54,000 training images it reaches about 0.97
