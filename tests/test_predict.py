"""`mnist-study predict`: MNIST-style preprocessing of a person's own digit images, and its errors."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mnist_utils import backend, data, models, predict
from mnist_utils.book import cli


def _font(size):
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans:bold"), size)


def _drawn_digit(digit, size=(240, 320), ink=(20, 20, 60), paper=(235, 230, 215), offset=(30, 10), mode="RGB"):
    """A digit drawn with Pillow's text renderer, off centre, like a phone photo of a note."""
    image = Image.new(mode, size, paper)
    ImageDraw.Draw(image).text(offset, str(digit), fill=ink, font=_font(200))
    return image


def _photo_of(mnist_digit, scale=9, paper=230, ink=25):
    """An MNIST digit redrawn large as dark ink on light paper, with noise and a wide margin."""
    big = Image.fromarray(mnist_digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    level = paper - (paper - ink) * (np.asarray(big, np.float32) / 255.0)
    canvas = np.full((400, 330), paper, np.float32)
    canvas[60 : 60 + 28 * scale, 40 : 40 + 28 * scale] = level
    canvas += np.random.default_rng(0).normal(0, 6, canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).convert("RGB")


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """LeNet-5 trained for two epochs on the real training images (about 98 % accurate)."""
    keras = backend.keras()
    keras.utils.set_random_seed(0)
    splits = data.split(data.load_mnist(download=False))
    model = models.build_lenet5()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(splits.x_train, splits.y_train, epochs=2, batch_size=128, verbose=0)
    path = tmp_path_factory.mktemp("model") / "lenet.keras"
    model.save(path)
    return path, splits


def test_preprocessing_makes_an_mnist_style_view(tmp_path):
    _drawn_digit(7).save(tmp_path / "seven.jpg", quality=90)
    view = predict.to_mnist(predict.load_image(tmp_path / "seven.jpg"))
    assert view.shape == (28, 28) and view.max() == pytest.approx(1.0) and view.min() == 0.0
    rows, cols = np.flatnonzero(view.max(axis=1) > 0), np.flatnonzero(view.max(axis=0) > 0)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fits the 20x20 box (plus resampling)
    com = np.array(np.nonzero(view)).T.astype(float)
    centre = (com * view[view > 0][:, None]).sum(0) / view.sum()
    assert np.all(np.abs(centre - 13.5) <= 1.0)
    # Light ink on a dark background, as in MNIST: mostly zeros, nothing in the corners.
    assert np.mean(view == 0) > 0.6 and view[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0


@pytest.mark.parametrize("variant", ["dark-on-light RGB", "light-on-dark gray", "RGBA on transparent"])
def test_ink_polarity_and_transparency_give_the_same_view(tmp_path, variant):
    reference = predict.to_mnist(np.asarray(_drawn_digit(3).convert("L"), np.float32) / 255)
    image = {
        "dark-on-light RGB": lambda: _drawn_digit(3),
        "light-on-dark gray": lambda: _drawn_digit(3, ink=240, paper=15, mode="L"),
        "RGBA on transparent": lambda: _drawn_digit(3, ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA"),
    }[variant]()
    image.save(tmp_path / "digit.png")
    view = predict.to_mnist(predict.load_image(tmp_path / "digit.png"))
    assert np.mean(np.abs(view - reference)) < 0.05


@pytest.mark.mnist
def test_photos_of_real_digits_are_recognized(lenet, tmp_path):
    path, splits = lenet
    model = predict.load_model(path)
    raw = data.load_mnist(download=False).x_test
    picks = [int(np.flatnonzero(splits.y_test == d)[0]) for d in range(10)]
    views = {}
    for i in picks:
        _photo_of(raw[i]).save(tmp_path / f"{i}.png")
        views[str(i)] = predict.to_mnist(predict.load_image(tmp_path / f"{i}.png"))
    results = predict.predict(model, views)
    assert [r.top[0][0] for r in results] == [int(splits.y_test[i]) for i in picks]


@pytest.mark.mnist
def test_drawn_digits_are_recognized(lenet, tmp_path):
    model = predict.load_model(lenet[0])
    views = {}
    for d in range(10):
        _drawn_digit(d).save(tmp_path / f"{d}.png")
        views[str(d)] = predict.to_mnist(predict.load_image(tmp_path / f"{d}.png"))
    guesses = [r.top[0][0] for r in predict.predict(model, views)]
    # A printed typeface is not handwriting: most, not necessarily all, must be right.
    assert sum(g == d for d, g in enumerate(guesses)) >= 8, guesses


@pytest.mark.mnist
def test_cli_prints_top_three_json_and_saves_the_view(lenet, tmp_path, capsys):
    _drawn_digit(4).save(tmp_path / "four.png")
    code = cli.main(
        [
            "predict",
            str(tmp_path / "four.png"),
            "--model",
            str(lenet[0]),
            "--json",
            "--save-preprocessed",
            str(tmp_path / "seen"),
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    row = out["predictions"][0]
    assert len(row["top"]) == 3 and row["top"][0]["probability"] >= row["top"][1]["probability"]
    assert sum(t["probability"] for t in row["top"]) <= 1.0 + 1e-6
    seen = Image.open(row["preprocessed"])
    assert seen.size == (28, 28) and seen.mode == "L"


@pytest.mark.mnist
def test_cli_reports_each_bad_image_and_still_predicts_the_rest(lenet, tmp_path, capsys):
    _drawn_digit(2).save(tmp_path / "good.png")
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("RGB", (100, 100), "white").save(tmp_path / "blank.png")
    Image.new("1", (10_000, 8_000)).save(tmp_path / "bomb.png")  # 80 megapixels, a few kB on disk
    (tmp_path / "scans").mkdir()
    names = ["good.png", "notes.png", "blank.png", "bomb.png", "missing.png", "scans"]
    code = cli.main(["predict", *[str(tmp_path / n) for n in names], "--model", str(lenet[0])])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith(f"{tmp_path / 'good.png'}: ")
    assert f"{tmp_path / 'notes.png'}: not a readable image" in err
    assert f"{tmp_path / 'blank.png'}: no ink found" in err
    assert f"{tmp_path / 'bomb.png'}: 10000x8000 pixels is more than" in err
    assert f"{tmp_path / 'missing.png'}: no such file" in err
    assert f"{tmp_path / 'scans'}: is a directory; give the image files in it" in err


@pytest.mark.parametrize("top", ["0", "11", "two"])
def test_cli_refuses_a_top_outside_one_to_ten(top, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["predict", "any.png", "--top", top])
    assert e.value.code == 2 and "argument --top:" in capsys.readouterr().err


def test_help_is_plain_text_with_an_example_for_every_command(capsys):
    for command in ([], ["data"], ["run"], ["report"], ["translations"], ["kernel"], ["predict"]):
        with pytest.raises(SystemExit):
            cli.main([*command, "--help"])
        out = capsys.readouterr().out
        assert "``" not in out and "\nexample" in out and "mnist-study " in out.split("\nexample")[-1]


def test_cli_missing_model_names_the_command_that_builds_it(tmp_path, capsys):
    _drawn_digit(1).save(tmp_path / "one.png")
    assert cli.main(["predict", str(tmp_path / "one.png"), "--report-dir", str(tmp_path / "empty")]) == 1
    assert "mnist-study run --only 05" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "one.png"), "--model", str(tmp_path / "none.keras")]) == 1
    assert "none.keras not found" in capsys.readouterr().err
