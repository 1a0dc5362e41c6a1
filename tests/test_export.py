"""CNN builders' cost counts and the exports notebook 06 consumes: .keras, TFLite float32 and int8."""

import numpy as np
import pytest

from mnist_utils import backend, export, models


def test_multiply_adds_counted_by_hand():
    # conv 10@5x5 on 28x28 -> 24x24; conv 20@5x5x10 on 12x12 -> 8x8; dense 320-128-64-10.
    assert models.multiply_adds(models.build_paper001_cnn()) == (
        24 * 24 * 10 * 25 + 8 * 8 * 20 * 250 + 320 * 128 + 128 * 64 + 64 * 10
    )
    # conv 32@3x3 on 28x28 -> 26x26; conv 64@3x3x32 on 13x13 -> 11x11; dense 1600-128-10.
    assert models.multiply_adds(models.build_bn_cnn()) == (
        26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 1600 * 128 + 128 * 10
    )
    # Our CNN: 16@3x3 -> 26x26, 16@3x3x16 -> 24x24, pool; 32@3x3x16 -> 10x10, 32@3x3x32 -> 8x8, pool;
    # dense 512-128-10 (augmentation is free).
    assert models.multiply_adds(models.build_cnn(augment={})) == (
        26 * 26 * 16 * 9 + 24 * 24 * 16 * 144 + 10 * 10 * 32 * 144 + 8 * 8 * 32 * 288 + 512 * 128 + 128 * 10
    )


def test_paper001_s_proposals_change_only_what_they_name():
    keras = backend.keras()
    plain = models.build_paper001_cnn()
    # Its second convolution depthwise-separable: a 5x5 filter per input channel (10), then 1x1 to 20 channels.
    separable = models.build_paper001_cnn(separable=True)
    assert (
        models.multiply_adds(separable) == 24 * 24 * 10 * 25 + 8 * 8 * 10 * (25 + 20) + 320 * 128 + 128 * 64 + 64 * 10
    )
    assert plain.count_params() - separable.count_params() == (250 * 20 + 20) - (10 * 25 + 10 * 20 + 20)
    changed = models.build_paper001_cnn(normalize=(0.1307, 0.3081), dropout=0.5, l1=0.01)
    extra = [layer.name for layer in changed.layers if layer.name not in {x.name for x in plain.layers}]
    assert extra == ["normalize", "dropout_1"] and changed.count_params() == plain.count_params()
    assert changed.get_layer("dropout_1").rate == 0.5 and len(changed.losses) == 5  # one L1 term per kernel
    assert not plain.losses and not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)
    image = np.full((1, 28, 28), 0.1307 + 0.3081, dtype=np.float32)  # one standard deviation above the mean
    normalized = keras.Model(changed.input, changed.get_layer("normalize").output)(image)
    assert np.allclose(np.asarray(normalized), 1.0, atol=1e-5)


def test_a_depthwise_convolution_counts_one_kernel_per_channel():
    keras = backend.keras()
    inputs = keras.Input((10, 10, 4))
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(inputs)  # 8x8x8, 9 multiply-adds each
    pointwise = keras.layers.Conv2D(5, 1)(depthwise)  # 8x8x5, 8 each
    assert models.multiply_adds(keras.Model(inputs, pointwise)) == 8 * 8 * 8 * 9 + 8 * 8 * 5 * 8


def test_an_application_network_is_sized_without_a_download():
    size = models.application_size("MobileNetV2")
    # MobileNetV2 (alpha 1) has about 2.2 M weights at any input size; at 32x32, a few million multiply-adds.
    assert 2_200_000 < size["parameters"] < 2_300_000 and 4e6 < size["multiply_adds"] < 8e6
    assert (
        models.application_size("MobileNetV2", input_shape=(64, 64, 1))["multiply_adds"] > 3.5 * size["multiply_adds"]
    )


def test_our_cnn_has_batch_norm_only_when_asked_and_the_same_arithmetic_either_way():
    keras = backend.keras()

    def norms(model):
        return [layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]

    with_bn, without = models.build_cnn(augment={}), models.build_cnn(augment={}, batch_norm=False)
    assert norms(with_bn) == ["batch_norm_1a", "batch_norm_1b", "batch_norm_2a", "batch_norm_2b"]
    assert norms(without) == [] and norms(models.build_bn_cnn()) == ["batch_norm_1", "batch_norm_2"]
    assert models.multiply_adds(with_bn) == models.multiply_adds(without)
    # gamma, beta and the two moving averages per channel
    assert with_bn.count_params() - without.count_params() == 4 * (16 + 16 + 32 + 32)


@pytest.mark.parametrize(
    "build", [models.build_lenet5, models.build_bn_cnn, models.build_cnn, lambda: models.build_cnn(batch_norm=False)]
)
def test_cnns_map_images_to_probabilities(build):
    model = build()
    probs = np.asarray(model(np.zeros((2, 28, 28), np.float32), training=False))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Our CNN, augmented, fitted briefly to separable toy digits (class d lights up row 2d + 4).

    The classes' rows are 2 pixels apart, so the augmentation is kept below a pixel's shift.
    """
    keras = backend.keras()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 40)
    x = rng.random((400, 28, 28), dtype=np.float32) * 0.2
    x[np.arange(400), 2 * y + 4, 4:24] = 1.0
    model = models.build_cnn(
        dropout=0.0, augment={"rotation_degrees": 2.0, "shift": 0.02, "zoom": 0.02}, bn_momentum=0.5
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model, x, tmp_path_factory.mktemp("export")


def test_keras_round_trip_with_safe_mode_is_exact(trained):
    model, x, out = trained
    assert export.save_keras(model, out / "m.keras", x[:50]) == 0.0
    assert not list(out.glob(".*"))  # written atomically, no temporary file left


def test_tflite_float32_and_int8_agree_with_keras(trained):
    model, x, out = trained
    keras_probs = model.predict(x, verbose=0)
    size_float = export.to_tflite(model, out / "f.tflite")
    size_int8 = export.to_tflite(model, out / "q.tflite", calibration=x[:100])
    assert size_int8 < size_float
    # 400 images in batches of 128: the last, short batch must come back too.
    float_probs = export.tflite_predict(out / "f.tflite", x, batch_size=128)
    np.testing.assert_allclose(float_probs, keras_probs, atol=1e-5)
    int8_probs = export.tflite_predict(out / "q.tflite", x, batch_size=128)
    assert int8_probs.shape == (400, 10)
    assert np.mean(int8_probs.argmax(1) == keras_probs.argmax(1)) > 0.9
    one = export.tflite_single(out / "f.tflite")
    np.testing.assert_allclose(one(x[7]), keras_probs[7], atol=1e-5)
    assert export.latency(one, x[0], repeats=3) > 0 and export.throughput(lambda b: b, x, repeats=1) > 0
