"""The configured dataset: the counts its source promises, every class, the official splits."""

from __future__ import annotations

from typing import Any


def test_counts_per_split_and_class(dataset: tuple[Any, Any]) -> None:
    cfg, frame = dataset
    counts = cfg.data.counts
    if counts is None:  # a source without published counts (mnist_5k): at least every class
        assert set(frame["label"]) == set(cfg.data.labels)
        return
    by_split = frame["split"].value_counts().to_dict()
    assert by_split == {"train": counts.train, "test": counts.test}
    for split in ("train", "test"):
        per_class = frame.loc[frame["split"] == split, "label"].value_counts()
        assert set(per_class.index) == set(cfg.data.labels)
        assert (per_class == counts.per_class[split]).all(), per_class.to_dict()


def test_images_are_whole_and_ids_unique(dataset: tuple[Any, Any]) -> None:
    cfg, frame = dataset
    size = cfg.data.image.height * cfg.data.image.width
    assert frame["pixels"].map(len).eq(size).all()
    assert frame["id"].is_unique
