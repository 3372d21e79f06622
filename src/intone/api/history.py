"""The history of logged generations: list, get, delete, audio and download.

Each key sees the generations it made itself. An item outlives its audio: the audio is dropped past
INTONE_HISTORY_MAX_AGE_DAYS or beyond INTONE_HISTORY_MAX_AUDIO_MB per key, oldest first.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import av
import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import ApiError, documented
from intone.api.schemas import AsciiDigits
from intone.api.state import Services, services
from intone.audio.encoders import wav_header
from intone.audio.formats import ALL_FORMATS, EXTRA_FORMATS, OutputFormat, known_format
from intone.store.history import Audio, History, HistoryQuery, Item, UnknownHistoryItem

router = APIRouter(tags=["history"], responses=documented(401, 403, 404))

ServicesDep = Annotated[Services, Depends(services)]
Reader = Annotated[Caller, Depends(require(Scope.HISTORY_READ))]
Writer = Annotated[Caller, Depends(require(Scope.HISTORY_WRITE))]

ITEMS_MAX = 1000  # per page, and per download
# 9999-12-31T23:59:59Z: later dates are past what a datetime holds.
_UNIX_MAX = 253_402_300_799
UnixTime = Annotated[int | None, Query(ge=0, le=_UNIX_MAX), AsciiDigits]
# Every media type an item's audio can have, for the OpenAPI schema.
_AUDIO_TYPES: dict[str, Any] = {known_format(name).media_type: {} for name in ALL_FORMATS + EXTRA_FORMATS}
# How PyAV reads each stored codec back (pcm and wav need no decoding).
_DEMUXERS: dict[str, tuple[str, dict[str, str]]] = {
    "mp3": ("mp3", {}),
    "opus": ("ogg", {}),
    "ulaw": ("mulaw", {"sample_rate": "8000"}),
    "alaw": ("alaw", {"sample_rate": "8000"}),
    "aac": ("aac", {}),
    "flac": ("flac", {}),
}


class HistoryItem(BaseModel):
    history_item_id: str
    request_id: str
    voice_id: str
    model_id: str
    voice_name: str
    voice_category: str
    text: str
    date_unix: int
    character_count_change_from: int
    character_count_change_to: int
    content_type: str
    state: Literal["created"] = "created"
    settings: dict[str, Any]
    feedback: None = None
    share_link_id: None = None
    source: str
    alignments: None = None
    dialogue: None = None
    output_format: str
    audio_kept: bool = Field(description="Intone's own: false once the size or age limit dropped the audio.")


class HistoryPage(BaseModel):
    history: list[HistoryItem]
    last_history_item_id: str | None
    has_more: bool
    scanned_until: int | None = Field(description="The date_unix of the last item of this page.")


class DeletedItem(BaseModel):
    status: Literal["ok"] = "ok"


class DownloadRequest(BaseModel):
    history_item_ids: list[str] = Field(min_length=1, max_length=ITEMS_MAX)
    output_format: Literal["wav", "default"] | None = Field(
        default=None, description="wav: transcode to WAV; default (or none): the format each was made in."
    )


def _item(item: Item) -> HistoryItem:
    return HistoryItem(
        history_item_id=item.history_item_id,
        request_id=item.request_id,
        voice_id=item.voice_id,
        model_id=item.model_id,
        voice_name=item.voice_name,
        voice_category=item.voice_category,
        text=item.text,
        date_unix=int(item.created_at.timestamp()),
        character_count_change_from=item.character_count_change_from,
        character_count_change_to=item.character_count_change_to,
        content_type=item.content_type,
        settings=item.settings,
        source=item.source,
        output_format=item.output_format,
        audio_kept=item.audio_kept,
    )


def _not_found(history_item_id: str) -> ApiError:
    return ApiError(404, "history_item_not_found", f"This key has no history item {history_item_id!r}.")


def _not_kept(history_item_id: str) -> ApiError:
    return ApiError(
        404,
        "history_audio_not_kept",
        f"The audio of history item {history_item_id!r} is no longer kept: it was pruned by the history's "
        "size or age limit (INTONE_HISTORY_MAX_AUDIO_MB, INTONE_HISTORY_MAX_AGE_DAYS). "
        "The item itself, its text and settings, remain.",
    )


def _kept(audio: Audio | None, history_item_id: str) -> Audio:
    """The audio of an item that exists and still has it: `data` is set."""
    if audio is None:
        raise _not_found(history_item_id)
    if audio.data is None:
        raise _not_kept(history_item_id)
    return audio


def _audio(history: History, owner: str, history_item_id: str, wav: bool) -> bytes:
    """The item's audio, as made or as WAV. Blocking: reads the database and may decode."""
    audio = _kept(history.audio(owner, history_item_id), history_item_id)
    data = audio.data or b""
    return _as_wav(data, known_format(audio.output_format)) if wav else data


def _as_wav(data: bytes, fmt: OutputFormat) -> bytes:
    """16-bit mono WAV at the rate the audio was made at."""
    if fmt.codec == "wav":
        return data
    if fmt.codec == "pcm":
        return wav_header(fmt.sample_rate, len(data)) + data
    container_format, options = _DEMUXERS[fmt.codec]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=fmt.sample_rate)
    chunks = []
    with av.open(io.BytesIO(data), format=container_format, options=options) as container:
        for frame in container.decode(audio=0):
            chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
    chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    pcm = np.concatenate(chunks, axis=1).astype("<i2").tobytes() if chunks else b""
    return wav_header(fmt.sample_rate, len(pcm)) + pcm


def _file_name(item: Item, wav: bool) -> str:
    extension = "wav" if wav else known_format(item.output_format).extension
    return f"{item.history_item_id}.{extension}"


def _attachment(file_name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{file_name}"'}


class _Spool:
    """A write-only file for `zipfile` whose bytes are taken as they come, so the zip streams out."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


async def _zip(history: History, owner: str, items: list[Item], wav: bool) -> AsyncIterator[bytes]:
    """The items' audio in a zip, read one at a time so only one is in memory.

    An item deleted or pruned after the request was checked fails the stream: the client gets a cut-off
    zip rather than one silently missing a file.
    """
    spool = _Spool()
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as archive:  # audio is compressed already
        for item in items:
            data = await run_in_threadpool(_audio, history, owner, item.history_item_id, wav)
            archive.writestr(_file_name(item, wav), data)
            yield spool.take()
    yield spool.take()  # the central directory, written on close


@router.get("/v1/history", summary="List generated items")
async def list_history(
    caller: Reader,
    svc: ServicesDep,
    page_size: Annotated[int, Query(ge=1, le=ITEMS_MAX), AsciiDigits] = 100,
    start_after_history_item_id: str | None = None,
    voice_id: str | None = None,
    model_id: str | None = None,
    date_before_unix: UnixTime = None,
    date_after_unix: UnixTime = None,
    sort_direction: Literal["asc", "desc"] = "desc",
    search: str | None = None,
    source: Literal["TTS", "STS", "Flows"] | None = None,
) -> HistoryPage:
    query = HistoryQuery(
        page_size=page_size,
        start_after_history_item_id=start_after_history_item_id,
        voice_id=voice_id,
        model_id=model_id,
        date_before_unix=date_before_unix,
        date_after_unix=date_after_unix,
        ascending=sort_direction == "asc",
        search=search,
        source=source,
    )
    try:
        page = await run_in_threadpool(svc.store.history.page, caller.subject, query)
    except UnknownHistoryItem as error:
        raise ApiError(
            404,
            "history_item_not_found",
            f"start_after_history_item_id names no item in this key's history: {error.history_item_id!r}.",
        ) from None
    items = [_item(item) for item in page.items]
    return HistoryPage(
        history=items,
        last_history_item_id=page.last_history_item_id,
        has_more=page.has_more,
        scanned_until=items[-1].date_unix if items else None,
    )


@router.get("/v1/history/{history_item_id}", summary="Get a history item")
async def get_history_item(history_item_id: str, caller: Reader, svc: ServicesDep) -> HistoryItem:
    item = await run_in_threadpool(svc.store.history.get, caller.subject, history_item_id)
    if item is None:
        raise _not_found(history_item_id)
    return _item(item)


@router.delete("/v1/history/{history_item_id}", summary="Delete a history item")
async def delete_history_item(history_item_id: str, caller: Writer, svc: ServicesDep) -> DeletedItem:
    if not await run_in_threadpool(svc.store.history.delete, caller.subject, history_item_id):
        raise _not_found(history_item_id)
    return DeletedItem()


@router.get(
    "/v1/history/{history_item_id}/audio",
    response_class=Response,
    responses={200: {"content": _AUDIO_TYPES, "description": "The item's audio, as it was made"}},
    summary="Get the audio of a history item",
)
async def get_history_audio(history_item_id: str, caller: Reader, svc: ServicesDep) -> Response:
    audio = _kept(
        await run_in_threadpool(svc.store.history.audio, caller.subject, history_item_id), history_item_id
    )
    return Response(audio.data, media_type=audio.content_type)


@router.post(
    "/v1/history/download",
    response_class=Response,
    responses={
        200: {
            "content": _AUDIO_TYPES | {"application/zip": {}},
            "description": "One item: its audio file. Several: a zip of them.",
        },
        **documented(400),  # a body that is not JSON
    },
    summary="Download history items",
)
async def download_history(body: DownloadRequest, caller: Reader, svc: ServicesDep) -> Response:
    history, owner = svc.store.history, caller.subject
    ids = list(dict.fromkeys(body.history_item_ids))  # each file once
    found = await run_in_threadpool(history.find, owner, ids)
    # Every item is checked before the first byte goes out: a stream cannot turn into an error later.
    for history_item_id in ids:
        if history_item_id not in found:
            raise _not_found(history_item_id)
        if not found[history_item_id].audio_kept:
            raise _not_kept(history_item_id)
    items, wav = [found[history_item_id] for history_item_id in ids], body.output_format == "wav"
    if len(items) > 1:
        return StreamingResponse(
            _zip(history, owner, items, wav), media_type="application/zip", headers=_attachment("history.zip")
        )
    item = items[0]
    data = await run_in_threadpool(_audio, history, owner, item.history_item_id, wav)
    media_type = "audio/wav" if wav else item.content_type
    return Response(data, media_type=media_type, headers=_attachment(_file_name(item, wav)))
