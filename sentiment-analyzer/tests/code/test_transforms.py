"""The pure transforms: parsers, the tokenizer wrapper, padding and length groups, text checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlcore.data.acquire import pretrained
from mlcore.foundation.config import compose
from pydantic import ValidationError

from sentiment_analyzer import features
from sentiment_analyzer.data import parse_rt_csv, parse_vader_tsv
from sentiment_analyzer.features import TextEncoder
from sentiment_analyzer.schemas import Item

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    cfg = compose(ROOT / "configs")
    tokenizer = (pretrained(cfg.model.pretrained) / "tokenizer.json").read_text(encoding="utf-8")
    return TextEncoder(tokenizer, max_length=16)


def test_vader_ratings_are_binarised_at_zero_and_neutral_rows_dropped() -> None:
    raw = "id\tsentiment\ttext\r\n1\t2.5\tGreat fun.\r\n2\t0\tA film.\r\n3\t-1.25\tDull.\r\n"
    frame = parse_vader_tsv(raw)
    assert frame[["text", "label"]].values.tolist() == [["Great fun.", "positive"], ["Dull.", "negative"]]
    assert frame["rating"].tolist() == [2.5, -1.25]
    with pytest.raises(ValueError, match="header"):
        parse_vader_tsv("a\tb\tc\n1\t1\tx\n")
    with pytest.raises(ValueError, match="3 tab-separated"):
        parse_vader_tsv("id\tsentiment\ttext\n1\t1\n")


def test_rotten_tomatoes_drops_plot_summaries() -> None:
    csv = b"category,text,movie_name,has_plot_and_reviews\nfresh,Loved it,a,False\nplot,A man walks,a,True\nrotten,Meh,b,False\n"
    frame = parse_rt_csv(csv)
    assert frame[["text", "label"]].values.tolist() == [["Loved it", "positive"], ["Meh", "negative"]]


def test_long_texts_are_truncated_and_flagged(encoder: TextEncoder) -> None:
    encoded = encoder.encode(["short and sweet", " ".join(["wonderful"] * 40)])
    assert encoded.truncated == [False, True]
    assert len(encoded.ids[1]) == 16 and encoded.tokens[1] > 16
    sep = encoder.tokenizer.token_to_id("[SEP]")
    assert encoded.ids[0][-1] == sep and encoded.ids[1][-1] == sep  # the cut keeps the closing [SEP]


def test_unknown_and_heavily_split_shares(encoder: TextEncoder) -> None:
    encoded = encoder.encode(["a fine film", "🦄🦄 xqzvbnmkp", "a fine film 🦄"])
    assert encoded.unknown_share[0] == 0 and encoded.unknown_share[1] > 0
    assert encoded.split_share[0] == 0 and encoded.split_share[1] > 0
    frame = features.text_signals(["a fine film", "🦄🦄 xqzvbnmkp", "a fine film 🦄"], encoded)
    assert list(frame.columns) == ["chars", "tokens", "unknown_share", "split_share", "truncated"]
    assert frame["chars"].tolist() == [11, 12, 13]


def test_padding_and_length_groups_keep_the_order() -> None:
    ids, mask = features.pad([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    groups = features.length_buckets([5, 1, 3, 2], max_items=2)
    assert [g.tolist() for g in groups] == [[1, 3], [2, 0]]
    widths = []

    def run(batch: np.ndarray, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        widths.append(batch.shape[1])
        return np.stack([batch.sum(1), -batch.sum(1)], 1).astype(float), attention[:, :1].astype(float)

    sequences = [[1] * 5, [2], [3] * 3, [4] * 2]
    logits, _ = features.forward_batches(run, sequences, pad_id=0, max_items=2)
    assert logits[:, 0].tolist() == [5, 2, 9, 8]  # answers in the callers' order
    assert sorted(widths) == [2, 5]  # each group padded to its own longest, not to 5


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "at least 1 character"),
        ("  \n\t", "whitespace"),
        ("\u200b\u200d", "invisible"),
        ("bad \ud800 surrogate", "UTF-8|unicode"),
    ],
)
def test_unusable_texts_are_refused(text: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Item(text=text)
    assert Item(text="  fine  ").text == "  fine  "
