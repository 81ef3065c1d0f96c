"""The registry aliases the suite moves, spelled once: the model that serves and the one on trial."""

from __future__ import annotations

CHAMPION = "champion"
CHALLENGER = "challenger"
