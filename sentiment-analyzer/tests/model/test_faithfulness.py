"""Faithfulness of ``/explain``'s word attributions, by deletion: on held-out texts, deleting the
top-attributed 10% of words lowers the predicted label's probability more than deleting a random
10%, on average over at least 50 texts (the margin is recorded in the test report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlcore.tasks import occlusion

from sentiment_analyzer.features import Word, forward_batches, read_words, softmax
from sentiment_analyzer.predictor import GROUP_ITEMS, load_predictor
from sentiment_analyzer.schemas import Item

pytestmark = pytest.mark.slow  # uses the trained pipeline
ITEMS = 50


def test_deleting_the_top_attributed_words_lowers_the_answer_more_than_deleting_random_ones(
    trained: dict[str, Any], record_property: Any
) -> None:
    root = Path(trained["root"])
    model = load_predictor(root / trained["cfg"].paths.model)
    test = pd.read_parquet(root / trained["cfg"].paths.processed / "test.parquet")
    assert len(test) >= ITEMS, f"the test split has {len(test)} texts; the check needs {ITEMS}"
    items = [Item(text=text) for text in test["text"].head(ITEMS)]
    explained = model.explain(items)
    read = [read_words(model.encoder, item.text) for item in items]
    scores = [np.asarray([word["contribution"] for word in answer["explanation"]["words"]]) for answer in explained]
    assert all(len(s) == len(words) for s, (_, words) in zip(scores, read, strict=True))

    def delete(text: tuple[list[int], list[Word]], chosen: np.ndarray) -> list[int]:
        ids, words = text
        gone = {position for i in chosen for position in words[i].positions}
        return [token for k, token in enumerate(ids) if k not in gone]

    def probabilities(texts: list[list[int]]) -> np.ndarray:
        return softmax(forward_batches(model.run, texts, model.encoder.pad_id, GROUP_ITEMS)[0])

    result = occlusion.deletion_check(probabilities, read, scores, delete)
    record_property("deletion_margin", round(result.margin, 4))
    print(f"deletion: top 10% {result.top_drop:.3f} vs random {result.random_drop:.3f} over {result.items}")
    assert result.items >= ITEMS and result.margin > 0.02, result
