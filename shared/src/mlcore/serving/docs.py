"""The API's description: an OpenAPI document in which every request and answer model is a named
component, and Swagger UI at ``/docs`` from a packaged copy (no CDN)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mlcore.serving import open_inference
from mlcore.serving.spec import ServingSpec


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the JSON body ``model`` describes,
    required (so a generated client sends exactly what the server accepts)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def name_the_labels(document: dict[str, Any], labels: list[str] | None) -> None:
    """``POST /feedback``'s ``label`` as the served model's labels (the route refuses any other)."""
    if not labels:
        return
    body = document.get("paths", {}).get("/feedback", {}).get("post", {}).get("requestBody", {})
    label = body.get("content", {}).get("application/json", {}).get("schema", {}).get("properties", {}).get("label")
    if label is not None:
        label["enum"] = [str(x) for x in labels]


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    return document.get("paths", {}).get(path, {}).get(method)


def link_the_operations(document: dict[str, Any]) -> None:
    """OpenAPI links: what an answer lets a client call next (its ``request_id`` in ``POST
    /feedback``; the ``model_version`` of a v2 answer in the version's own routes). Clients and the
    stateful fuzzer follow them."""
    links = {
        ("/predict", "post"): {
            "Feedback": (
                ("/feedback", "post"),
                {"requestBody": {"request_id": "$response.body#/request_id", "item": 0}},
            ),
        },
        ("/v2/models/{name}/infer", "post"): {
            f"Version{kind}": (
                (f"/v2/models/{{name}}/versions/{{version}}{tail}", method),
                {"parameters": {"name": "$response.body#/model_name", "version": "$response.body#/model_version"}},
            )
            for kind, tail, method in (("Metadata", "", "get"), ("Ready", "/ready", "get"), ("Infer", "/infer", "post"))
        },
    }
    for (path, method), targets in links.items():
        source = _operation(document, path, method)
        if source is None or "200" not in source.get("responses", {}):
            continue
        found = {}
        for name, ((target_path, target_method), link) in targets.items():
            target = _operation(document, target_path, target_method)
            if target is not None and "operationId" in target:
                found[name] = {"operationId": target["operationId"], **link}
        if found:
            source["responses"]["200"]["links"] = found


def document_models(app: FastAPI, spec: ServingSpec, *models: type[BaseModel]) -> None:
    """Put the request and answer models (and what they nest) into the document's components, so
    every ``$ref`` resolves from the document root; name the served model, its inputs and its
    labels, and link the operations."""

    built_for: list[Any] = [None]  # the served model the cached document describes

    def openapi() -> dict[str, Any]:
        current = app.state.serving.holder.current
        if app.openapi_schema is None or built_for[0] is not current:  # a reload may bring other labels
            built_for[0] = current
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, defs = models_json_schema(
                [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            open_inference.name_the_model(document, spec.model_name)
            open_inference.describe_inputs(document, open_inference.input_tensors(spec.item_schema), spec.max_batch)
            link_the_operations(document)
            name_the_labels(document, current.predictor.labels if current is not None else None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def offline_docs(app: FastAPI, title: str) -> None:
    """Swagger UI at /docs from the assets packaged in ``swagger-ui-py`` (works with no network)."""
    from importlib.resources import files

    assets = "/docs-assets"
    app.mount(assets, StaticFiles(directory=str(files("swagger_ui") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )
