"""Listing class folders through symbolic links, and decoding 16-bit images
(no TFX, no Beam)."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

import numpy as np
from PIL import Image

from components.ingest import paths, sources
from components.ingest.sources import SourceConfig
from pipeline import predict_inputs
from search_algo.dataset_spec import FeatureSpec
from tests import datagen


def test_a_file_reached_again_through_links_is_listed_once_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "circle"
    (folder / "deeper").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"a")
    (folder / "deeper" / "c.png").write_bytes(b"c")
    (folder / "b.png").symlink_to("a.png")
    (folder / "deeper" / "loop").symlink_to("..")  # walked without end by a walker that follows links
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "d.png").write_bytes(b"d")
    (folder / "linked").symlink_to(elsewhere)  # a folder linked in once is still walked

    with caplog.at_level(logging.WARNING, logger="components.ingest.paths"):
        listed = paths.list_files(str(folder), (".png",))

    assert listed == [str(folder / "a.png"), str(folder / "deeper" / "c.png"), str(folder / "linked" / "d.png")]
    assert [r.getMessage() for r in caplog.records] == [
        f"{folder}: 2 path(s) reach a file or folder again through symbolic links; each file is used once "
        "(b.png, deeper/loop)"
    ]


def test_a_link_loop_in_a_class_folder_puts_each_image_in_one_split_once(tmp_path):
    root = datagen.write_image_folder(tmp_path / "shapes", per_class=8, seed=3)
    distinct = sum(1 for _, _, names in os.walk(root) for _ in names)
    (root / datagen.SHAPE_CLASSES[0] / "again").symlink_to("..")

    config = SourceConfig(data=str(root), seed=1)
    files = [os.path.realpath(path) for group in sources.open_source(config).units() for path, _ in group.files]
    assert len(files) == len(set(files)) == distinct
    _, splits = sources.read_splits(config)
    assert sum(len(batch) for batch in splits.values()) == distinct


def _write_16_bit_png(path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels.astype(np.uint16)).save(path)
    with Image.open(path) as image:
        assert image.mode in ("I;16", "I")  # as PIL opens a 16-bit grayscale PNG


def test_16_bit_grayscale_keeps_its_range_in_training_and_predict_alike(tmp_path):
    # A ramp over the whole 16-bit range: 8-bit conversion clipped all but its first 256th to white.
    ramp = np.linspace(0, 65535, 16 * 16).round().reshape(16, 16)
    for name in ("dark", "light"):
        (tmp_path / "scans" / name).mkdir(parents=True)
        for i in range(10):
            _write_16_bit_png(tmp_path / "scans" / name / f"{i}.png", ramp if name == "light" else ramp // 4)
    file = str(tmp_path / "scans" / "light" / "0.png")

    # The one decoder ingest and `predict` share.
    gray = sources.decode_image(file, (16, 16), 1)
    np.testing.assert_allclose(gray[..., 0], ramp / 65535.0, atol=1e-6)
    spec = SimpleNamespace(features=[FeatureSpec("image", "image", "numeric", "float32", [16, 16, 1])])
    [(_, predicted)] = predict_inputs.image_inputs(file, spec)
    np.testing.assert_array_equal(predicted["image"], gray)
    rgb = sources.decode_image(file, (16, 16), 3)
    np.testing.assert_allclose(rgb, np.repeat(gray, 3, axis=2))
    smaller = sources.decode_image(file, (8, 8), 1)
    assert smaller.shape == (8, 8, 1) and 0.0 <= smaller.min() and smaller.max() <= 1.0
    assert abs(float(smaller.mean()) - 0.5) < 0.02

    plan, splits = sources.read_splits(SourceConfig(data=str(tmp_path / "scans")))
    assert plan.features[0].shape == [16, 16, 1]
    train = splits["train"]
    by_class = {int(label): image for image, label in zip(train.features["image"], train.labels)}
    assert abs(float(by_class[plan.class_names.index("dark")].max()) - 0.25) < 1e-3
    assert float(np.mean(by_class[plan.class_names.index("light")] == 1.0)) < 0.01
