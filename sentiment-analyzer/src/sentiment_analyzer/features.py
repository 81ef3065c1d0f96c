"""Pure transforms: texts to token ids (the same tokenizer at training and serving), padding,
length buckets and the text signals that drift monitoring compares (no I/O, no model).

The tokenizer is the pretrained model's own ``tokenizer.json`` run by the ``tokenizers`` library
(Rust; no torch or transformers import in the serving worker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

HEAVY_SPLIT = 3  # a word cut into this many word pieces or more counts as "split heavily"


@dataclass
class Encoded:
    """Token ids per text (truncated to ``max_length``) and what drift and the answer report."""

    ids: list[list[int]]
    truncated: list[bool]
    tokens: list[int]  # tokens before truncation (special tokens included)
    unknown_share: list[float]  # share of tokens that are [UNK]
    split_share: list[float]  # share of words cut into HEAVY_SPLIT or more pieces


class TextEncoder:
    """A ``tokenizers.Tokenizer`` with the model's maximum length (truncation reported, not silent)."""

    def __init__(self, tokenizer_json: str, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_length = int(max_length)
        self.unk_id = self.tokenizer.token_to_id("[UNK]")
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0

    def encode(self, texts: Sequence[str]) -> Encoded:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids, truncated, tokens, unknown, split = [], [], [], [], []
        for enc in encodings:
            full = enc.ids
            tokens.append(len(full))
            truncated.append(len(full) > self.max_length)
            ids.append(full[: self.max_length - 1] + full[-1:] if len(full) > self.max_length else full)
            unknown.append(sum(t == self.unk_id for t in full) / max(len(full), 1))
            words = [w for w in enc.word_ids if w is not None]
            pieces = np.bincount(words) if words else np.zeros(0, int)
            pieces = pieces[pieces > 0]
            split.append(float((pieces >= HEAVY_SPLIT).mean()) if len(pieces) else 0.0)
        return Encoded(ids, truncated, tokens, unknown, split)


@dataclass(frozen=True)
class Word:
    """A word of the text as the model reads it: its characters and its token positions."""

    text: str
    start: int
    end: int
    positions: list[int]


def read_words(encoder: TextEncoder, text: str) -> tuple[list[int], list[Word]]:
    """The token ids the model reads for ``text`` (truncated as ``encode`` does) and its words
    within them, each with the positions of its sub-word pieces (special tokens belong to none)."""
    encoding = encoder.tokenizer.encode(text)
    full = encoding.ids
    kept = list(range(len(full)))
    if len(full) > encoder.max_length:
        kept = kept[: encoder.max_length - 1] + kept[-1:]
    ids = [full[k] for k in kept]
    groups: dict[int, list[int]] = {}
    for position, k in enumerate(kept):
        word = encoding.word_ids[k]
        if word is not None and encoding.offsets[k][1] > encoding.offsets[k][0]:
            groups.setdefault(word, []).append(position)
    words = []
    for positions in groups.values():
        start, end = encoding.offsets[kept[positions[0]]][0], encoding.offsets[kept[positions[-1]]][1]
        words.append(Word(text[start:end], start, end, positions))
    return ids, words


def pad(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded to the longest sequence, and the attention mask (int64, as BERT takes them)."""
    width = max((len(s) for s in sequences), default=0)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for i, seq in enumerate(sequences):
        ids[i, : len(seq)] = seq
        mask[i, : len(seq)] = 1
    return ids, mask


def length_buckets(lengths: Sequence[int], max_items: int) -> list[np.ndarray]:
    """Indices grouped by similar length, at most ``max_items`` per group: scored together, a
    group pads to its own longest text instead of the batch's."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + max_items] for i in range(0, len(order), max_items)]


def forward_batches(
    run: Any, ids: Sequence[Sequence[int]], pad_id: int, max_items: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """``run(input_ids, attention_mask) -> (logits, embedding)`` over length-bucketed batches, in the
    original order."""
    logits: list[np.ndarray] = [np.zeros(0)] * len(ids)
    embeddings: list[np.ndarray] = [np.zeros(0)] * len(ids)
    for group in length_buckets([len(x) for x in ids], max_items):
        batch_ids, mask = pad([ids[i] for i in group], pad_id)
        out_logits, out_embedding = run(batch_ids, mask)
        for j, i in enumerate(group):
            logits[i], embeddings[i] = out_logits[j], out_embedding[j]
    if not ids:
        return np.zeros((0, 2), np.float32), np.zeros((0, 0), np.float32)
    return np.stack(logits), np.stack(embeddings)


def text_signals(texts: Sequence[str], encoded: Encoded) -> pd.DataFrame:
    """Per-text signals for drift: characters, tokens, unknown and heavily-split shares, truncation."""
    return pd.DataFrame(
        {
            "chars": [len(t) for t in texts],
            "tokens": encoded.tokens,
            "unknown_share": encoded.unknown_share,
            "split_share": encoded.split_share,
            "truncated": [float(t) for t in encoded.truncated],
        }
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
