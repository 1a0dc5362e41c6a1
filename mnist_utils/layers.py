"""Custom Keras layers, registered so that saved models load with ``safe_mode=True``.

Importing this module imports Keras; the builders and loaders import it when they
need it, never at package import.
"""

from __future__ import annotations

import math

from mnist_utils import backend

keras = backend.keras()


@keras.saving.register_keras_serializable(package="mnist_utils")
class RandomAffine(keras.layers.Layer):
    """Random small rotations, shifts and zooms, drawn together as one affine transform per image.

    Keras's RandomRotation, RandomTranslation and RandomZoom in a row resample each
    image three times: three bilinear interpolations blur a 28x28 digit, and each
    costs about as much as this whole layer. Here the three draws are composed into
    one matrix and the image is resampled once (``keras.ops.image.affine_transform``).
    Active only in training; at inference it passes the images through.

    Args:
        rotation_degrees: largest rotation, either way.
        shift: largest shift, as a fraction of the height and width, either way.
        zoom: largest zoom in or out, as a fraction.
        seed: of the random draws (None: from Keras's global seed, set per training run).
    """

    def __init__(
        self, rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1, seed: int | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.rotation_degrees, self.shift, self.zoom, self.seed = rotation_degrees, shift, zoom, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        ops = keras.ops
        n = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]

        def uniform(limit):
            return keras.random.uniform((n,), -limit, limit, dtype="float32", seed=self.generator)

        angle = uniform(self.rotation_degrees) * (math.pi / 180)
        scale = 1.0 + uniform(self.zoom)
        dx, dy = uniform(self.shift) * width, uniform(self.shift) * height
        # The matrix maps each output pixel to the input pixel it samples: rotate and
        # scale about the image centre, then shift.
        cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
        cx, cy = (width - 1) / 2, (height - 1) / 2
        zero = ops.zeros_like(cos)
        transform = ops.stack(
            [cos, -sin, cx - cos * cx + sin * cy - dx, sin, cos, cy - sin * cx - cos * cy - dy, zero, zero], axis=1
        )
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rotation_degrees": self.rotation_degrees,
            "shift": self.shift,
            "zoom": self.zoom,
            "seed": self.seed,
        }
