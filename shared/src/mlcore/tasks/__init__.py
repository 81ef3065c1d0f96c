"""Task types: the contract a project implements (``base``) and the stages run over it (``stages``)."""

from mlcore.tasks.base import Fitted, Reference, Scored, Task

__all__ = ["Fitted", "Reference", "Scored", "Task"]
