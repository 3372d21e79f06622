"""Multipart forms of recordings, as the speech-to-text routes of both wire dialects read them.

The routes parse their own forms (FastAPI would read the whole body before the key is checked), so the
OpenAPI page is told what the form holds (`multipart_body`), and `read_form` reads it with Starlette's
parser, which spools the file to a temporary file.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel
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
