"""Mixed precision on the CPU: one training step of each network `make demo` trains, in float32
and under bfloat16 autocast, side by side in one process.

    python benchmarks/precision.py [--steps 10]

The networks are built by their projects' own code from their params.yaml (random weights: the
speed is the same): sentiment-analyzer's transformer on a 32 x 40 token batch (its batch size, and
about the padded length of its length-bucketed batches), image-classifier's transfer network and
its small-CNN baseline on 128 images. Each step is forward, cross-entropy, backward and an AdamW
step, as ``mlcore.training.loop`` runs it; the two precisions alternate, ``--steps`` times each
after one warm-up step. Figures go to benchmarks/results/precision.json: the median seconds per
step of each precision, the speed-up, and whether this CPU computes bfloat16 natively
(``trainer.precision=auto`` takes bfloat16 on a CPU only then).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "precision.json"


def networks() -> dict[str, tuple[Any, Callable[[], tuple[Any, Any]]]]:
    """name -> (network, a function giving one batch of inputs and targets)."""
    import torch
    from hydra.utils import instantiate
    from mlcore.foundation.config import load_params

    found: dict[str, tuple[Any, Callable[[], tuple[Any, Any]]]] = {}
    sys.path[:0] = [str(ROOT / "sentiment-analyzer" / "src"), str(ROOT / "image-classifier" / "src")]

    from sentiment_analyzer import task as sentiment

    cfg = load_params(ROOT / "sentiment-analyzer" / "params.yaml")
    net = instantiate(sentiment.architecture(cfg, sentiment.pretrained_folder(cfg)))
    ids = torch.randint(1000, 20000, (int(cfg.trainer.batch_size), 40))
    tokens = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    found["sentiment-analyzer transformer"] = (net, lambda: (tokens, torch.randint(0, 2, (len(ids),))))

    from image_classifier import task as image

    cfg = load_params(ROOT / "image-classifier" / "params.yaml")
    size = int(cfg.trainer.batch_size)
    images, labels = torch.randn(size, 1, 28, 28), torch.randint(0, 10, (size,))
    found["image-classifier transfer net"] = (instantiate(image.architecture(cfg)), lambda: (images, labels))
    found["image-classifier CNN baseline"] = (instantiate(cfg.train.baselines.cnn.net), lambda: (images, labels))
    return found


def step_seconds(net: Any, batch: Callable[[], tuple[Any, Any]], bf16: bool, optimizer: Any) -> float:
    import torch

    inputs, targets = batch()
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = net(**inputs) if isinstance(inputs, dict) else net(inputs)
        logits = out[0] if isinstance(out, tuple) else out
        loss = torch.nn.functional.cross_entropy(logits.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per network and precision")
    args = parser.parse_args()

    import torch
    from mlcore.training.device import cpu_has_native_bf16

    torch.manual_seed(0)
    rows = {}
    for name, (net, batch) in networks().items():
        net.train()
        optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
        times: dict[bool, list[float]] = {False: [], True: []}
        for bf16 in (False, True):  # warm-up: first calls allocate and pick kernels
            step_seconds(net, batch, bf16, optimizer)
        for _ in range(args.steps):
            for bf16 in (False, True):
                times[bf16].append(step_seconds(net, batch, bf16, optimizer))
        fp32, bf16 = median(times[False]), median(times[True])
        rows[name] = {"float32_s": round(fp32, 4), "bfloat16_s": round(bf16, 4), "speedup": round(fp32 / bf16, 2)}
        print(f"{name}: float32 {fp32 * 1000:.0f} ms/step, bfloat16 {bf16 * 1000:.0f} ms/step, x{fp32 / bf16:.2f}")
    result = {
        "cpu_native_bf16": cpu_has_native_bf16(),
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "machine": platform.processor() or platform.machine(),
        "networks": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"-> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
