"""Reading a request body: size limit (413), media type and encoding (415), a client gone mid-body
(408), multipart uploads turned into items, and the one strict JSON parser every route uses
(``strict_json``: standard JSON only, each key once)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

from mlcore.serving.errors import BodyTooLarge, ClientGone, Invalid, UnsupportedMedia


class _Duplicate(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows: send a finite number")


def strict_json(body: bytes | str) -> Any:
    """The JSON document ``body``, or ``Invalid`` (422) saying what is wrong and where: not JSON,
    ``NaN`` / ``Infinity`` (JSON has no such numbers), or a key given twice in one object (which
    value would count is a guess no server should make)."""
    try:
        return json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _Duplicate as exc:
        key = exc.args[0]
        raise Invalid(
            f"{key}: given twice in one JSON object: send each field once",
            [{"field": key, "msg": "duplicate key", "type": "duplicate_key"}],
        ) from None
    except UnicodeDecodeError:
        raise Invalid("body: not UTF-8 text") from None
    except RecursionError:
        raise Invalid("body: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise Invalid(f"body: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:
        raise Invalid(f"body: {exc}") from None


async def read_body(request: Request, max_bytes: int, uploads: bool) -> tuple[bytes, bool]:
    """The body and whether it is a multipart upload; raises the 408/413/415 answer."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body too large: {declared} bytes > limit {max_bytes}")
    _, upload, refused = media_type(request, uploads)
    if refused:
        raise UnsupportedMedia(refused)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise BodyTooLarge(f"body too large: over limit {max_bytes} bytes")
    except ClientDisconnect:  # gone, or cut off as too slow (the protocol answered 408)
        raise ClientGone("the client went away before the body was complete") from None
    if not upload and (refused := not_utf8(body)) is not None:
        raise UnsupportedMedia(refused)
    return bytes(body), upload


def media_type(request: Request, uploads: bool) -> tuple[str, bool, str | None]:
    """The body's media type, whether it is an upload, and why it is refused (415), if it is."""
    header = request.headers.get("content-type", "application/json")
    media, _, params = header.partition(";")
    media = media.strip().lower()
    upload = media == "multipart/form-data" and uploads
    accepted = "application/json" + (" or multipart/form-data" if uploads else "")
    if media != "application/json" and not media.endswith("+json") and not upload:
        return media, upload, f"body must be {accepted}, not {media}"
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return media, upload, f"compressed bodies (Content-Encoding: {encoding}) are not accepted: send plain {media}"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return media, upload, f"body must be UTF-8 encoded, not charset={charset}"
    return media, upload, None


_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def not_utf8(body: bytes | bytearray) -> str | None:
    """Why a JSON body is refused as not UTF-8 (415): a UTF-16/32 byte-order mark or NUL bytes."""
    if body.startswith(_UTF16_32_BOMS) or b"\x00" in body[:4]:
        return "body must be UTF-8 encoded JSON (this looks like UTF-16 or UTF-32)"
    return None


UPLOAD_FIELDS = ("file", "files")


async def uploaded_items(
    request: Request, body: bytes, upload_field: str, max_files: int, item_adapter: TypeAdapter[Any]
) -> tuple[list[Any], bool]:
    """The items of a multipart body: one per uploaded file (``file`` once, or ``files`` many times);
    raises the 422 answer naming the part at fault."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def replay() -> Any:
        yield body

    try:
        form = await MultiPartParser(
            request.headers, replay(), max_files=max_files, max_fields=len(UPLOAD_FIELDS) * max_files
        ).parse()
    except MultiPartException as exc:
        raise Invalid(f"body: invalid multipart form ({exc.message})") from None
    try:  # the form's spooled files are closed whatever the outcome
        return await upload_items(form, upload_field, item_adapter)
    finally:
        await form.close()


async def upload_items(form: Any, upload_field: str, item_adapter: TypeAdapter[Any]) -> tuple[list[Any], bool]:
    """One item per uploaded file of a parsed form, the file's bytes base64-encoded in ``upload_field``."""
    import base64

    from starlette.datastructures import UploadFile

    unknown = sorted(set(form.keys()) - set(UPLOAD_FIELDS))
    if unknown:
        raise Invalid(
            f"{unknown[0]}: not a field of this form (send files as `file`, or several as `files`)",
            [{"field": unknown[0], "msg": "unknown field", "type": "extra_forbidden"}],
        )
    if form.getlist("file") and form.getlist("files"):
        raise Invalid(
            "files: send one file as `file` or several as `files`, not both",
            [{"field": "files", "msg": "`file` given too", "type": "exclusive"}],
        )
    parts = [(name, value) for name in UPLOAD_FIELDS for value in form.getlist(name)]
    if not parts:
        raise Invalid("file: no file uploaded (send it as the multipart field `file`, or several as `files`)")
    items = []
    for index, (name, value) in enumerate(parts):
        where = name if len(parts) == 1 else f"files.{index}"
        if not isinstance(value, UploadFile):
            raise Invalid(f"{where}: expected an uploaded file, got a text field")
        data = await value.read()
        if not data:
            raise Invalid(
                f"{where}: the uploaded file is empty (0 bytes)",
                [{"field": where, "msg": "empty file", "type": "empty"}],
            )
        try:
            items.append(item_adapter.validate_python({upload_field: base64.b64encode(data).decode()}))
        except ValidationError as exc:
            raise Invalid.from_validation(exc, [where]) from None
    return items, len(parts) > 1
