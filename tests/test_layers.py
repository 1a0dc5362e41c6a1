"""The fused random affine augmentation layer."""

import numpy as np

from mnist_utils import artifacts, models, predict


def _digits():
    x = np.zeros((8, 28, 28, 1), dtype="float32")
    x[:, 6:22, 12:16, 0] = 1.0  # a vertical bar, like a 1
    return x


def test_random_affine_passes_images_through_at_inference_and_moves_them_in_training():
    from mnist_utils import backend, layers

    keras = backend.keras()
    keras.utils.set_random_seed(0)
    layer = layers.RandomAffine(10.0, 0.1, 0.1)
    x = _digits()
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    moved = np.asarray(layer(x, training=True))
    assert moved.shape == x.shape and not np.allclose(moved, x)
    assert not np.allclose(moved[0], moved[1])  # a transform per image
    # Small transforms keep the digit in the frame: most of its ink survives, none appears from nowhere.
    assert 0.7 < moved.sum() / x.sum() < 1.3 and moved.min() >= 0 and moved.max() <= 1.0 + 1e-6


def test_random_affine_is_reproducible_from_the_global_seed():
    from mnist_utils import backend, layers

    keras = backend.keras()
    draws = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        draws.append(np.asarray(layers.RandomAffine()(_digits(), training=True)))
    np.testing.assert_array_equal(*draws)


def test_a_cnn_with_augmentation_saves_and_loads_in_safe_mode(tmp_path):
    model = models.build_cnn(augment={"rotation_degrees": 5.0, "shift": 0.05, "zoom": 0.05})
    path = tmp_path / "cnn.keras"
    artifacts.save_model(model, path)
    reloaded = predict.load_model(path)
    x = _digits()[..., 0]
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert reloaded.get_layer("augment").get_config()["rotation_degrees"] == 5.0
