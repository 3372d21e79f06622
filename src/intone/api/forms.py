"""Multipart forms: recordings, as the speech-to-text routes of both wire dialects read them, and the
fields of any form, checked as FastAPI checks a JSON body.

The routes parse their own forms (FastAPI would read the whole body before the key is checked), so the
OpenAPI page is told what the form holds (`multipart_body`), and `read_form` reads it with Starlette's
parser, which spools the file to a temporary file.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from intone.api.errors import ApiError


def multipart_body(fields: type[BaseModel], required: list[str]) -> dict[str, Any]:
    """An operation's `openapi_extra`: a multipart form of a `file` and `fields`' fields."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": required,
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            **fields.model_json_schema()["properties"],
                        },
                    }
                }
            },
        }
    }


async def read_form(request: Request, max_fields: int) -> FormData:
    """The request's multipart form with at most one file; raises ApiError 400 for anything else."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(
            400, "invalid_content_type", "Send the recording as multipart/form-data (as the SDKs do)."
        )
    try:
        return await request.form(max_files=1, max_fields=max_fields)
    except Exception as error:
        # A malformed form, or a client that left before its body ended: its answer, not a server fault.
        raise ApiError(400, "invalid_form", f"The form cannot be read: {error}") from None


Fields = TypeVar("Fields", bound=BaseModel)


def form_fields(model: type[Fields], given: dict[str, Any]) -> Fields:
    """A form's fields as `model`; fields that fail are a 422 naming them, as FastAPI's own for a body."""
    try:
        return model.model_validate(given)
    except ValidationError as error:
        raise body_error(error) from None


def body_error(error: ValidationError, *within: str) -> RequestValidationError:
    """The 422 for `error`, its places in the request body (under the field path `within`)."""
    return RequestValidationError(
        [problem | {"loc": ("body", *within, *problem["loc"])} for problem in error.errors()]
    )
