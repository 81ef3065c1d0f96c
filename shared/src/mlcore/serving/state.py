"""What the app holds between requests (``app.state.serving``), and ``ServingDep``, the one way a
route reaches it (a FastAPI dependency)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from mlcore.serving.arms import Arms
from mlcore.serving.holder import ModelHolder
from mlcore.serving.metrics import ServingMetrics
from mlcore.serving.predlog import PredictionLog
from mlcore.serving.spec import ServingSpec

ADMIN_TOKEN_HEADER = "x-admin-token"

# The admin routes' security scheme in the OpenAPI document (``ServingState.authorised`` checks it).
AdminToken = Security(
    APIKeyHeader(
        name=ADMIN_TOKEN_HEADER,
        scheme_name="AdminToken",
        description="The admin token: serve.admin_token, or the file serve.admin_token_file names.",
        auto_error=False,
    )
)


@dataclass
class ServingState:
    """The spec, the served model, the metrics, the champion/challenger arms, the admin token, and
    the prediction log (opened at start-up)."""

    spec: ServingSpec
    holder: ModelHolder
    metrics: ServingMetrics
    arms: Arms
    admin_token: str | None = None
    predlog: PredictionLog | None = None

    def authorised(self, request: Request) -> bool:
        """Whether an admin call may proceed: no token is required, or the request carries it."""
        given = request.headers.get(ADMIN_TOKEN_HEADER, "")
        return not self.admin_token or secrets.compare_digest(given.encode(), self.admin_token.encode())


async def serving_state(request: Request) -> ServingState:
    return request.app.state.serving


ServingDep = Annotated[ServingState, Depends(serving_state)]
