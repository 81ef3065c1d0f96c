"""Faithfulness of ``/explain``'s occlusion maps, by deletion: on held-out images, blacking out
the top-attributed 10% of pixels lowers the predicted class's probability more than blacking out
a random 10%, on average over at least 50 images (the margin is recorded in the test report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlcore.tasks import occlusion

from {{ cookiecutter.package_name }}.predictor import load_predictor, request_items
from {{ cookiecutter.package_name }}.schemas import Item

pytestmark = pytest.mark.slow  # uses the trained pipeline
ITEMS = 50


def test_hiding_the_top_attributed_pixels_lowers_the_answer_more_than_hiding_random_ones(
    trained: dict[str, Any], record_property: Any
) -> None:
    root = Path(trained["root"])
    model = load_predictor(root / trained["cfg"].paths.model)
    test = pd.read_parquet(root / trained["cfg"].paths.processed / "test.parquet")
    assert len(test) >= ITEMS, f"the test split has {len(test)} images; the check needs {ITEMS}"
    items = [Item.model_validate(row) for row in request_items(test.head(ITEMS))]
    explained = model.explain(items)
    maps = [np.asarray(answer["explanation"]["heatmap"]) for answer in explained]

    def black_out(image: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        out = image.copy().ravel()
        out[pixels] = 0
        return out.reshape(image.shape)

    result = occlusion.deletion_check(
        lambda images: model.forward(np.stack(images))[0], list(model.images(items)), maps, black_out
    )
    record_property("deletion_margin", round(result.margin, 4))
    print(f"deletion: top 10% {result.top_drop:.3f} vs random {result.random_drop:.3f} over {result.items}")
    assert result.items >= ITEMS and result.margin > 0.02, result
