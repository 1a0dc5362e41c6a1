"""Classify a person's own photo or scan of one handwritten digit with the saved CNN.

The image is prepared the way MNIST's digits were: grayscale, light ink on a dark
background, cropped to the ink, scaled to fit a 20x20 box keeping its aspect ratio,
and placed in a 28x28 frame with its centre of mass at the centre.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_utils import backend

# Larger images than this are refused before their pixels are decoded: a phone photo
# has about 12-50 megapixels, a decompression bomb claims hundreds.
MAX_PIXELS = 64_000_000
# Ink must stand out from the paper by this fraction of the full 0-1 intensity range.
MIN_CONTRAST = 0.15


class ImageError(Exception):
    """An image file that cannot be turned into a digit (message names the file)."""


class ModelError(Exception):
    """The model to predict with is missing or unreadable."""


@dataclass
class Prediction:
    """The top classes of one image, most probable first, and the 28x28 view the model saw."""

    path: str
    top: list[tuple[int, float]]
    image: np.ndarray


def load_image(path: Path) -> np.ndarray:
    """Read an image file as grayscale float32 in [0, 1] (transparent areas count as paper).

    Raises:
        ImageError: missing, unreadable or not an image, or too large to decode safely.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a directory; give the image files in it (e.g. {path}/*.png)")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice that; make it an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: {width}x{height} pixels is more than the {MAX_PIXELS:,} "
                        f"allowed (a decompression bomb?); scale the image down first"
                    )
                image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
                if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                    paper = Image.new("RGBA", image.size, "white")
                    image = Image.alpha_composite(paper, image.convert("RGBA"))
                gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from None
    except OSError as e:
        raise ImageError(f"{path}: could not be read as an image ({e})") from None
    return gray


def to_mnist(gray: np.ndarray, source: str = "image") -> np.ndarray:
    """Turn a grayscale image of one digit into a 28x28 MNIST-style array in [0, 1].

    Raises:
        ImageError: the image holds no ink that stands out from its background.
    """
    from PIL import Image
    from scipy import ndimage

    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    # MNIST digits are light ink on black: invert when the paper is light.
    ink = (background - gray) if background > 0.5 else (gray - background)
    ink = np.clip(ink, 0.0, None)
    if ink.max() < MIN_CONTRAST:
        raise ImageError(
            f"{source}: no ink found (nothing differs from the background by "
            f"{MIN_CONTRAST:.0%} of the intensity range); is the digit visible?"
        )
    ink = ink / ink.max()
    ink[ink < 0.2] = 0.0  # paper texture and shadows, not strokes
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20.0 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    small = np.clip(small, 0.0, None)
    frame = np.zeros((28, 28), np.float32)
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    # Move the centre of mass to the centre, as MNIST did (whole pixels, nothing lost at the edges
    # for a 20x20 digit in a 28x28 frame unless the ink is very lopsided).
    com_y, com_x = ndimage.center_of_mass(frame)
    frame = ndimage.shift(frame, (round(13.5 - com_y), round(13.5 - com_x)), order=0, mode="constant")
    return np.clip(frame / frame.max(), 0.0, 1.0)


def default_model(artifacts_dir: Path) -> Path:
    """The best CNN that notebook 05 saved, as named in its metrics.json."""
    folder = Path(artifacts_dir) / "05_cnn"
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        raise ModelError(
            f"no trained model in {folder}: run `make report` (or `mnist-study run --only 05` "
            f"after notebooks 01-04) first, or name a model with --model"
        )
    return folder / json.loads(metrics.read_text())["best"]["keras"]


def load_model(path: Path):
    """Load a .keras model with ``safe_mode=True`` (no arbitrary code from the file)."""
    from mnist_utils import layers  # noqa: F401  (registers the custom layers the models may hold)

    keras = backend.keras()

    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"model {path} not found: run `make report` (or `mnist-study run --only 05`) "
            f"to train and save it, or name another with --model"
        )
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as e:  # Keras raises several types for a damaged or foreign file
        raise ModelError(f"model {path} could not be loaded ({type(e).__name__}: {e})") from None


def predict(model, images: dict[str, np.ndarray], top: int = 3) -> list[Prediction]:
    """Top classes for each prepared 28x28 image, in one batch."""
    names = list(images)
    batch = np.stack([images[n] for n in names])
    probs = model.predict(batch, verbose=0)
    return [
        Prediction(name, [(int(k), float(p[k])) for k in np.argsort(p)[::-1][:top]], images[name])
        for name, p in zip(names, probs)
    ]


def save_preprocessed(image: np.ndarray, folder: Path, source: str) -> Path:
    """Write the 28x28 view as an 8-bit PNG named after the source file."""
    from PIL import Image

    from mnist_utils import artifacts

    path = Path(folder) / f"{Path(source).stem}_28x28.png"
    with artifacts.atomic_path(path) as tmp:
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp, format="PNG")
    return path
