"""Model builders. Each returns an uncompiled Keras model; training.py compiles it."""

from __future__ import annotations

import contextlib
import string

import numpy as np

from mnist_utils import backend


def build_mlp(hidden: tuple[int, ...] = (128,), activation: str = "relu", num_classes: int = 10, name: str = "mlp"):
    """A multilayer perceptron on flattened 28x28 images: 784 -> hidden... -> softmax."""
    keras = backend.keras()

    layers = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden, start=1):
        layers.append(keras.layers.Dense(units, activation=activation, name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="output", dtype="float32"))
    return keras.Sequential(layers, name=name)


def build_mlp_branches(
    branches: int,
    hidden: tuple[int, ...] = (128,),
    activation: str = "relu",
    l2: float = 0.0,
    dropout: float = 0.0,
    batch_norm: bool = False,
    l2_output: bool = True,
    num_classes: int = 10,
    name: str = "mlp_branches",
):
    """``branches`` independent MLPs side by side in one model; output shape (batch, branches, classes).

    Each branch has its own weights (einsum over a branch axis), so with the summed
    loss of :func:`training.train_branches` every branch trains exactly as it would
    alone, except that all branches see the same mini-batch order. Running them
    as one model keeps both CPU cores busy where one small MLP cannot.

    Args:
        l2: L2 penalty on every kernel (summed over branches, so each branch's
            gradient gets exactly its own 2·l2·w).
        l2_output: also penalize the output layer's kernel (course paper 000 penalizes
            only its hidden layer).
        dropout: rate of a Dropout layer after each hidden layer (masks are per branch).
        batch_norm: BatchNormalization between each hidden layer and its activation,
            with statistics per branch and unit.
    """
    keras = backend.keras()

    def dense(equation, units, name, l2=l2):
        # Every kernel here is (branch, in, out). Naming the fan axes keeps the branch
        # axis out of the fans, so each branch gets Keras's default Glorot-uniform
        # initialization of a plain Dense layer of its own.
        init = keras.initializers.VarianceScaling(
            scale=1.0, mode="fan_avg", distribution="uniform", input_axes=[1], output_axes=[2]
        )
        return keras.layers.EinsumDense(
            equation,
            output_shape=(k, units),
            bias_axes=equation[-2:],
            kernel_initializer=init,
            kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            name=name,
        )

    k = branches
    inputs = keras.Input(shape=(28, 28), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = dense("bi,kih->bkh" if i == 1 else "bkh,khj->bkj", units, f"hidden_{i}")(x)
        if batch_norm:
            # Flatten (branch, unit) so each branch and unit has its own statistics.
            # Named, not left to Keras's process-wide counter: a model that adds an unnamed
            # Reshape to this one (analysis.logits_model) could otherwise repeat a name.
            x = keras.layers.Reshape((k * units,), name=f"flatten_branches_{i}")(x)
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Reshape((k, units), name=f"split_branches_{i}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    x = dense("bkh,khc->bkc", num_classes, "logits", l2=l2 if l2_output else 0.0)(x)
    outputs = keras.layers.Softmax(name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


@contextlib.contextmanager
def precision(policy: str):
    """Build (and train) under the Keras dtype policy ``policy`` inside the ``with`` block, and go
    back to the policy before it afterwards, also on an error. A model keeps the policy it was built
    under; see ``training.reduced_precision`` for the one a model may use on this machine."""
    keras = backend.keras()

    before = keras.config.dtype_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(before)


def float32_copy(model):
    """``model`` itself if it computes in float32, else a float32 copy with the same weights.

    Models trained under mixed precision (float16 on a GPU, see ``training.set_precision``;
    bfloat16 on a CPU that has it, see ``training.reduced_precision``) are saved and exported
    through this: TensorFlow Lite has no 16-bit kernels for most operations, and a CPU without
    them runs 16-bit arithmetic slowly. Mixed precision keeps the weights in float32, so the
    copy holds exactly the trained weights and computes with them in full precision.
    """
    import json

    keras = backend.keras()

    config = json.dumps(keras.saving.serialize_keras_object(model))
    mixed = ('"mixed_float16"', '"mixed_bfloat16"')
    if not any(name in config for name in mixed):
        return model
    for name in mixed:
        config = config.replace(name, '"float32"')
    with precision("float32"):  # a layer whose config names no policy takes the global one
        copy = keras.saving.deserialize_keras_object(json.loads(config))
    copy.set_weights(model.get_weights())
    return copy


def single_branch(model, branch: int, build):
    """One branch of a side-by-side model (see :func:`build_mlp_branches`) as a model of its own.

    Args:
        model: the trained multi-branch model.
        branch: which branch to take.
        build: the function of the number of branches that built ``model``.

    Returns:
        A model mapping (batch, 28, 28) images to (batch, 10) probabilities,
        identical in its predictions to that branch.
    """
    keras = backend.keras()

    single = build(1)
    for target, source in zip(single.weights, model.weights, strict=True):
        value = source.numpy()
        # Kernels and biases carry the branch axis first; batch norm's per-unit vectors
        # are laid out branch by branch along their only axis.
        width = target.shape[0]
        target.assign(value[branch : branch + 1] if value.ndim > 1 else value[branch * width : (branch + 1) * width])
    outputs = keras.layers.Reshape((single.output.shape[-1],), name="probabilities", dtype="float32")(single.output)
    return keras.Model(single.input, outputs, name=f"{model.name}_branch_{branch}")


def augmentation(rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1, name: str = "augment"):
    """Random small rotations, shifts and zooms, active only in training: one affine
    transform per image (``layers.RandomAffine``: one interpolation instead of three)."""
    from mnist_utils import layers

    return layers.RandomAffine(rotation_degrees, shift, zoom, name=name)


def _image_input(augment: dict | None):
    """28x28 input reshaped to one channel, followed by :func:`augmentation` (``augment``: its settings) if given."""
    keras = backend.keras()

    inputs = keras.Input(shape=(28, 28), name="image")
    x = keras.layers.Reshape((28, 28, 1), name="channel")(inputs)
    if augment is not None:
        x = augmentation(**augment)(x)
    return inputs, x


# Course paper 001's training settings, which notebooks 05 (its recipe) and 07 (its proposals) train with.
PAPER001_TRAINING = {"batch_size": 64, "optimizer": "sgd", "learning_rate": 0.14}


def build_paper001_cnn(
    normalize: tuple[float, float] | None = None,
    dropout: float = 0.0,
    l1: float = 0.0,
    separable: bool = False,
    name: str = "paper001_cnn",
):
    """Paper 001's small CNN: conv 10@5x5, pool, ReLU, conv 20@5x5, pool, ReLU, dense 320-128-64-10.

    The options are the changes the paper proposes without running them, all off by default:
    ``normalize`` (mean, std) standardizes the pixels, ``dropout`` follows the first dense layer,
    ``l1`` penalizes every kernel's absolute weights, and ``separable`` makes the second
    convolution depthwise-separable (a 5x5 filter per input channel, then a 1x1 convolution).
    """
    keras = backend.keras()
    L = keras.layers
    penalty = keras.regularizers.L1(l1) if l1 else None

    inputs, x = _image_input(None)
    if normalize:
        mean, std = normalize
        x = L.Normalization(mean=mean, variance=std**2, name="normalize")(x)
    for i, filters in enumerate((10, 20), start=1):
        if separable and i == 2:  # the first convolution has one input channel: nothing to separate
            x = L.SeparableConv2D(
                filters, 5, depthwise_regularizer=penalty, pointwise_regularizer=penalty, name=f"conv_{i}"
            )(x)
        else:
            x = L.Conv2D(filters, 5, kernel_regularizer=penalty, name=f"conv_{i}")(x)
        x = L.MaxPooling2D(2, name=f"pool_{i}")(x)
        x = L.Activation("relu", name=f"relu_{i}")(x)
    x = L.Flatten(name="flatten")(x)  # 4 x 4 x 20 = 320
    x = L.Dense(128, activation="relu", kernel_regularizer=penalty, name="dense_1")(x)
    if dropout:
        x = L.Dropout(dropout, name="dropout_1")(x)
    x = L.Dense(64, activation="relu", kernel_regularizer=penalty, name="dense_2")(x)
    outputs = L.Dense(10, activation="softmax", kernel_regularizer=penalty, name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_lenet5(dropout: float = 0.25, dense_dropout: float = 0.5, name: str = "lenet5"):
    """Paper 003's LeNet-5-style CNN, as its code builds it: conv 6@5x5, pool, dropout,
    conv 16@5x5, pool, dropout, dense 120, dropout, dense 10 (34,622 parameters).

    Unlike the original LeNet-5 it uses ReLU, max-pooling and dropout, and it does not
    pad: the 28x28 digit shrinks to 24x24 after the first convolution, 4x4x16 after the second.
    """
    keras = backend.keras()
    L = keras.layers

    inputs, x = _image_input(None)
    for i, filters in enumerate((6, 16), start=1):
        x = L.Conv2D(filters, 5, activation="relu", name=f"conv_{i}")(x)
        x = L.MaxPooling2D(2, name=f"pool_{i}")(x)
        x = L.Dropout(dropout, name=f"dropout_{i}")(x)
    x = L.Flatten(name="flatten")(x)  # 4 x 4 x 16 = 256
    x = L.Dense(120, activation="relu", name="dense_1")(x)
    x = L.Dropout(dense_dropout, name="dropout_3")(x)
    outputs = L.Dense(10, activation="softmax", name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_bn_cnn(dropout: float = 0.5, name: str = "bn_cnn"):
    """Paper 002's batch-normalized CNN: (conv 32@3x3, BN, pool), (conv 64@3x3, BN, pool), dense 128, dropout."""
    return build_cnn(widths=(32, 64), convs_per_block=1, dropout=dropout, name=name)


def build_cnn(
    widths: tuple[int, ...] = (16, 32),
    convs_per_block: int = 2,
    dense: int = 128,
    dropout: float = 0.5,
    augment: dict | None = None,
    batch_norm: bool = True,
    bn_momentum: float = 0.99,
    name: str = "cnn",
):
    """Our CNN: two blocks of two 3x3 convolutions (ReLU, optionally batch norm) and a 2x2 max-pool, dense, dropout.

    28x28 -> 26 -> 24 -> pool 12 -> 10 -> 8 -> pool 4x4: about as many multiply-adds
    as the BN-CNN, spread over four thin convolutions instead of one wide one. Two
    stacked 3x3 convolutions see a 5x5 patch, as one 5x5 convolution would, with
    fewer weights and one more non-linearity (the VGG design). With one convolution
    per block and widths (32, 64) it is the BN-CNN (:func:`build_bn_cnn`).

    Args:
        widths: filters of each block's convolutions.
        convs_per_block: 3x3 convolutions before each pool; with more than one they
            are named conv_1a, conv_1b, ..., else conv_1, conv_2, ...
        augment: settings of :func:`augmentation` (``{}`` for its defaults) to put random
            rotations, shifts and zooms after the input (training only); None for none.
        batch_norm: a batch normalization after each convolution. On a CPU it costs
            more than its share of the arithmetic suggests: it reads and writes every
            activation twice, and the 26x26 and 24x24 maps of the first block hold most of them.
        bn_momentum: batch norm's moving-average momentum; short smoke runs need a
            lower one for the statistics to settle.
    """
    keras = backend.keras()
    L = keras.layers

    inputs, x = _image_input(augment)
    parts = string.ascii_lowercase[:convs_per_block] if convs_per_block > 1 else [""]
    for i, filters in enumerate(widths, start=1):
        for part in parts:
            x = L.Conv2D(filters, 3, activation="relu", name=f"conv_{i}{part}")(x)
            if batch_norm:
                x = L.BatchNormalization(momentum=bn_momentum, name=f"batch_norm_{i}{part}")(x)
        x = L.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(dense, activation="relu", name="dense_1")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    outputs = L.Dense(10, activation="softmax", name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def multiply_adds(model) -> int:
    """Multiply-adds of one forward pass of one image through the convolution and dense layers
    (for side-by-side branches, all of them: an einsum layer uses each kernel weight once per image)."""
    keras = backend.keras()

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):  # configurations side by side (training.train_branches)
            total += multiply_adds(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            total += h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.SeparableConv2D):  # a kernel per input channel, then 1x1 across them
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            total += h * w * c_in * layer.depth_multiplier * (kh * kw + c_out)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):  # one kernel per channel: no sum over channels
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            total += h * w * c_out * kh * kw
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
        elif isinstance(layer, keras.layers.EinsumDense):
            total += int(np.prod(layer.kernel.shape))
    return int(total)


def application_size(name: str, input_shape=(32, 32, 1), classes: int = 10) -> dict:
    """Parameters and multiply-adds per image of a ``keras.applications`` network (``"MobileNetV2"``),
    built untrained (nothing is downloaded) for ``input_shape`` images and ``classes`` classes."""
    keras = backend.keras()
    model = getattr(keras.applications, name)(input_shape=input_shape, weights=None, classes=classes)
    return {"parameters": int(model.count_params()), "multiply_adds": multiply_adds(model)}


def training_flops(model, trained: int, evaluated: int = 0) -> float:
    """Floating-point operations to train ``model`` on ``trained`` images and predict ``evaluated``
    (each counted over all epochs): 2 per multiply-add forward, and twice as many backward.

    Only convolutions and dense layers count; activations, pooling and normalization add a
    few percent that this leaves out, so achieved rates computed from it are slight underestimates.
    """
    return flops(multiply_adds(model), trained, evaluated)


def flops(macs: float, trained: int, evaluated: int = 0) -> float:
    """:func:`training_flops` of a model of ``macs`` multiply-adds per image."""
    return 6.0 * macs * trained + 2.0 * macs * evaluated


def layer_table(model):
    """One row per layer: name, type, output shape, parameter count (a DataFrame)."""
    import pandas as pd

    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": "(batch, " + ", ".join(str(d) for d in layer.output.shape[1:]) + ")",
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]
    return pd.DataFrame(rows)
