"""A classical baseline beside the networks: hand-crafted features (histograms of oriented
gradients, scikit-image) and a linear classifier (logistic regression, scikit-learn).

It answers course paper 002's claim that end-to-end networks clearly beat hand-crafted
features, and gives the report a reference point that learns no features of its own.
"""

from __future__ import annotations

import numpy as np

# HOG as Dalal and Triggs (2005) set it up, scaled to MNIST: 9 unsigned orientations, 7x7-pixel
# cells (a 4x4 grid on 28x28), blocks of 2x2 cells normalized with L2-Hys.
ORIENTATIONS, CELL, BLOCK = 9, 7, 2


def hog_length(side: int = 28, orientations: int = ORIENTATIONS, cell: int = CELL, block: int = BLOCK) -> int:
    """Length of the HOG vector of a ``side`` x ``side`` image: one histogram per cell of every block."""
    blocks = side // cell - block + 1
    return blocks * blocks * block * block * orientations


def hog_features(
    images: np.ndarray, orientations: int = ORIENTATIONS, cell: int = CELL, block: int = BLOCK
) -> np.ndarray:
    """HOG vectors (float32, one row per image) of grey images (N, H, W) with values in [0, 1]."""
    from skimage.feature import hog

    return np.stack(
        [
            hog(
                image,
                orientations=orientations,
                pixels_per_cell=(cell, cell),
                cells_per_block=(block, block),
                block_norm="L2-Hys",
                feature_vector=True,
            )
            for image in images
        ]
    ).astype(np.float32)


def fit_linear(features: np.ndarray, labels: np.ndarray, c: float = 1.0, max_iter: int = 500):
    """A multinomial logistic regression on standardized features (a scikit-learn pipeline).

    ``c`` is the inverse of the L2 penalty's strength; lbfgs is deterministic, so no seed.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter)).fit(features, labels)
