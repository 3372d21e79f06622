"""Pronunciation dictionaries: create (from a PLS lexicon or from rules), list, get, rename or archive,
change the rules, and download a version as PLS.

Each key has its own dictionaries; another key's are not found. Every change of the rules makes a new
version and keeps the older ones, so a request that pinned a version keeps speaking as it did. Archiving
only hides a dictionary from listings: its versions still work in requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import ApiError, documented
from intone.api.forms import form_fields
from intone.api.schemas import AsciiDigits
from intone.api.state import Services, services
from intone.speech import pls
from intone.speech.lexicon import AliasRule, Lexicon, PhonemeRule, Rule
from intone.speech.text.ipa import to_ipa
from intone.store.dictionaries import Dictionary, DictionaryQuery, UnknownCursor
from intone.store.strings import storable

router = APIRouter(tags=["pronunciation-dictionaries"], responses=documented(400, 401, 403, 404))

ServicesDep = Annotated[Services, Depends(services)]
Reader = Annotated[Caller, Depends(require(Scope.PRONUNCIATION_DICTIONARIES_READ))]
Writer = Annotated[Caller, Depends(require(Scope.PRONUNCIATION_DICTIONARIES_WRITE))]

MAX_RULES = 5_000  # in one version: three dictionaries' rules are matched against every request's text
MAX_RULE_TEXT = 1_000  # characters of a string_to_replace, an alias or a phoneme
MAX_NAME = 255
MAX_DESCRIPTION = 2_000
PAGE_SIZE_MAX = 100
# What a lexicon upload may hold besides the file: the name, description and workspace_access fields
# and the multipart framing.
_FORM_ROOM = 64 * 1024
PERMISSION = "admin"  # the owner's permission on a dictionary: all there is without workspaces

WorkspaceAccess = Literal["admin", "editor", "commenter", "viewer"]


def _without_bad_characters(value: str) -> str:
    if not storable(value):
        raise ValueError("must not hold NUL or half of a UTF-16 surrogate pair")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only spaces")
    return value


RuleText = Annotated[
    str,
    StringConstraints(max_length=MAX_RULE_TEXT),
    AfterValidator(_without_bad_characters),
    AfterValidator(_not_blank),
]
Name = Annotated[
    str,
    StringConstraints(max_length=MAX_NAME),
    AfterValidator(_without_bad_characters),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str, StringConstraints(max_length=MAX_DESCRIPTION), AfterValidator(_without_bad_characters)
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AliasRuleModel(_Body):
    type: Literal["alias"]
    string_to_replace: RuleText
    alias: RuleText
    case_sensitive: StrictBool | None = Field(default=None, description="Unset: true.")
    word_boundaries: StrictBool | None = Field(default=None, description="Unset: true (whole words only).")

    def rule(self) -> AliasRule:
        return AliasRule(
            self.string_to_replace, self.alias, *_flags(self.case_sensitive, self.word_boundaries)
        )


class PhonemeRuleModel(_Body):
    type: Literal["phoneme"]
    string_to_replace: RuleText
    phoneme: RuleText
    alphabet: Literal["ipa", "cmu-arpabet"]
    case_sensitive: StrictBool | None = Field(default=None, description="Unset: true.")
    word_boundaries: StrictBool | None = Field(default=None, description="Unset: true (whole words only).")

    @model_validator(mode="after")
    def _speakable(self) -> PhonemeRuleModel:
        # Refused here rather than by every request that would use the rule.
        try:
            to_ipa(self.phoneme, self.alphabet)
        except ValueError as error:
            raise ValueError(f"the phoneme cannot be read: {error}") from None
        return self

    def rule(self) -> PhonemeRule:
        flags = _flags(self.case_sensitive, self.word_boundaries)
        return PhonemeRule(self.string_to_replace, self.phoneme, self.alphabet, *flags)


RuleModel = Annotated[AliasRuleModel | PhonemeRuleModel, Field(discriminator="type")]
_RULE = TypeAdapter(RuleModel)


def _flags(case_sensitive: bool | None, word_boundaries: bool | None) -> tuple[bool, bool]:
    return (case_sensitive is not False, word_boundaries is not False)


def _fields_of(rule: Rule) -> dict[str, object]:
    return {"type": "alias" if isinstance(rule, AliasRule) else "phoneme", **vars(rule)}


def _shown(rule: Rule) -> AliasRuleModel | PhonemeRuleModel:
    """A stored rule as the API shows it: checked when it was stored, so not again."""
    model = AliasRuleModel if isinstance(rule, AliasRule) else PhonemeRuleModel
    return model.model_construct(**_fields_of(rule))


class RulesBody(_Body):
    rules: list[RuleModel] = Field(
        max_length=MAX_RULES,
        description="Alias rules {type: alias, string_to_replace, alias} and phoneme rules "
        "{type: phoneme, string_to_replace, phoneme, alphabet: ipa | cmu-arpabet}.",
    )

    def lexicon(self) -> Lexicon:
        return tuple(rule.rule() for rule in self.rules)


class NewDictionary(_Body):
    name: Name
    description: Description | None = None
    workspace_access: WorkspaceAccess | None = Field(
        default=None, description="Accepted, no effect: a dictionary is its key's alone."
    )


class RulesDictionary(RulesBody, NewDictionary):
    pass


class RuleStrings(_Body):
    rule_strings: list[RuleText] = Field(
        max_length=MAX_RULES, description="The string_to_replace of each rule to remove."
    )


class DictionaryChanges(_Body):
    archived: StrictBool | None = Field(default=None, description="Archived dictionaries leave listings.")
    name: Name | None = None


class AddedDictionary(BaseModel):
    id: str
    name: str
    created_by: str
    creation_time_unix: int
    version_id: str
    version_rules_num: int
    description: str | None
    permission_on_resource: WorkspaceAccess | None = PERMISSION


class DictionaryMetadata(BaseModel):
    id: str
    latest_version_id: str
    latest_version_rules_num: int
    name: str
    permission_on_resource: WorkspaceAccess | None = PERMISSION
    created_by: str
    creation_time_unix: int
    archived_time_unix: int | None
    description: str | None

    @staticmethod
    def of(dictionary: Dictionary) -> DictionaryMetadata:
        return DictionaryMetadata(
            id=dictionary.dictionary_id,
            latest_version_id=dictionary.latest_version_id,
            latest_version_rules_num=dictionary.latest_rules_num,
            name=dictionary.name,
            created_by=dictionary.owner,
            creation_time_unix=int(dictionary.created_at.timestamp()),
            archived_time_unix=int(dictionary.archived_at.timestamp()) if dictionary.archived_at else None,
            description=dictionary.description,
        )


class DictionaryWithRules(DictionaryMetadata):
    rules: list[RuleModel] = Field(description="The rules of the latest version.")


class DictionaryPage(BaseModel):
    pronunciation_dictionaries: list[DictionaryMetadata]
    next_cursor: str | None
    has_more: bool


class ChangedRules(BaseModel):
    id: str
    version_id: str
    version_rules_num: int


_LEXICON_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "maxLength": MAX_NAME},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PLS lexicon (no DOCTYPE; at most INTONE_MAX_LEXICON_BYTES).",
                        },
                        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
                        "workspace_access": {"type": "string", "enum": list(get_args(WorkspaceAccess))},
                    },
                }
            }
        },
    }
}


def _not_found(dictionary_id: str, version_id: str | None = None) -> ApiError:
    # repr: an id may hold characters (NUL, half a surrogate pair) that must not reach the JSON raw.
    which = f"{dictionary_id!r}" + ("" if version_id is None else f" with a version {version_id!r}")
    return ApiError(
        404, "pronunciation_dictionary_not_found", f"This key has no pronunciation dictionary {which}."
    )


def _too_many(count: int) -> ApiError:
    return ApiError(
        400,
        "too_many_rules",
        f"The dictionary would hold {count} rules; a version holds at most {MAX_RULES}.",
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"The lexicon is larger than this server accepts ({limit} bytes, set by INTONE_MAX_LEXICON_BYTES).",
    )


def _added(dictionary: Dictionary) -> AddedDictionary:
    return AddedDictionary(
        id=dictionary.dictionary_id,
        name=dictionary.name,
        created_by=dictionary.owner,
        creation_time_unix=int(dictionary.created_at.timestamp()),
        version_id=dictionary.latest_version_id,
        version_rules_num=dictionary.latest_rules_num,
        description=dictionary.description,
    )


async def _lexicon_form(request: Request, limit: int) -> FormData:
    """The multipart form, kept no further than a lexicon of `limit` bytes and the other fields need.

    A body past that is read to its end and dropped, then refused: answering before it is all read
    would leave bytes unread, and the server would reset the connection, often before the client read
    the answer. INTONE_MAX_BODY_BYTES bounds what is read (it refuses larger bodies before reading).
    """
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(
            400,
            "invalid_content_type",
            "Send the lexicon as multipart/form-data, with the fields name and file (as the SDKs do).",
        )
    cap = limit + _FORM_ROOM

    async def capped() -> AsyncIterator[bytes]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received <= cap:
                yield chunk
        if received > cap:
            raise _too_large(limit)

    parser = MultiPartParser(request.headers, capped(), max_files=1, max_fields=8, max_part_size=_FORM_ROOM)
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise ApiError(400, "invalid_form", f"The form cannot be read: {error.message}") from None
    except ApiError:
        raise
    except Exception as error:
        # The client left before the body ended (ClientDisconnect): answered as FastAPI answers a JSON
        # body it cannot read, not logged as a failure of the server.
        raise ApiError(400, "invalid_form", "The request body could not be read to its end.") from error


def _fields(form: FormData) -> NewDictionary:
    # Clients send optional fields they leave unset as empty strings.
    given = {name: value for name, value in form.items() if name != "file" and value != ""}
    return form_fields(NewDictionary, given)


async def _file(form: FormData, limit: int) -> bytes:
    """The lexicon's bytes: those of the file part, or of a plain field of that name (curl -F file=<...)."""
    upload = form.get("file")
    if upload is None:
        return b""
    data = await upload.read() if isinstance(upload, UploadFile) else upload.encode()
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _lexicon_rules(data: bytes) -> Lexicon:
    """The rules of an uploaded lexicon, each checked as a rule sent as JSON is. Blocking: parses XML."""
    if not data.strip():
        return ()
    try:
        rules = pls.read(data, MAX_RULES)
    except pls.LexiconError as error:
        raise ApiError(400, "invalid_lexicon", str(error)) from None
    for number, rule in enumerate(rules, start=1):
        try:
            _RULE.validate_python(_fields_of(rule))
        except ValidationError as error:
            raise ApiError(
                400,
                "invalid_lexicon",
                f"Rule {number} of the lexicon ({rule.string_to_replace[:40]!r}): {_said(error)}.",
            ) from None
    return tuple(rules)


def _said(error: ValidationError) -> str:
    """The first problem pydantic found, as part of a sentence: "alias: string should have ..."."""
    problem = error.errors()[0]
    message = problem["msg"].removeprefix("Value error, ")
    field = ".".join(map(str, problem["loc"][1:]))  # past the rule's type
    return f"{field}: {message[0].lower()}{message[1:]}" if field else message


@router.post(
    "/v1/pronunciation-dictionaries/add-from-file",
    openapi_extra=_LEXICON_FORM,
    responses=documented(413),
    summary="Create a pronunciation dictionary from a PLS lexicon",
)
async def create_from_file(request: Request, caller: Writer, svc: ServicesDep) -> AddedDictionary:
    limit = svc.settings.max_lexicon_bytes
    form = await _lexicon_form(request, limit)
    try:
        fields = _fields(form)
        data = await _file(form, limit)
    finally:
        await form.close()
    rules = await run_in_threadpool(_lexicon_rules, data)
    dictionary = await run_in_threadpool(
        svc.store.dictionaries.create, caller.subject, fields.name, fields.description, rules
    )
    return _added(dictionary)


@router.post(
    "/v1/pronunciation-dictionaries/add-from-rules",
    summary="Create a pronunciation dictionary from rules",
)
async def create_from_rules(body: RulesDictionary, caller: Writer, svc: ServicesDep) -> AddedDictionary:
    dictionary = await run_in_threadpool(
        svc.store.dictionaries.create, caller.subject, body.name, body.description, body.lexicon()
    )
    return _added(dictionary)


@router.get("/v1/pronunciation-dictionaries", summary="List pronunciation dictionaries")
async def list_dictionaries(
    caller: Reader,
    svc: ServicesDep,
    cursor: Annotated[str | None, Query(description="The next_cursor of the page before.")] = None,
    page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX), AsciiDigits] = 30,
    sort: Annotated[
        Literal["creation_time_unix", "created_at_unix", "name"] | None,
        Query(description="Default: creation_time_unix."),
    ] = None,
    sort_direction: Annotated[
        str | None,
        Query(pattern="(?i)^(asc|desc)(ending)?$", description="ascending or descending (default)."),
    ] = None,
    include_archived: bool = False,
) -> DictionaryPage:
    query = DictionaryQuery(
        page_size=page_size,
        cursor=cursor,
        by_name=sort == "name",
        ascending=(sort_direction or "").lower().startswith("asc"),
        include_archived=include_archived,
    )
    try:
        page = await run_in_threadpool(svc.store.dictionaries.page, caller.subject, query)
    except UnknownCursor:
        raise ApiError(
            400, "invalid_cursor", "The cursor names no dictionary of this key: pass a next_cursor as given."
        ) from None
    found = [DictionaryMetadata.of(dictionary) for dictionary in page.dictionaries]
    return DictionaryPage(
        pronunciation_dictionaries=found,
        next_cursor=found[-1].id if page.has_more else None,
        has_more=page.has_more,
    )


@router.get(
    "/v1/pronunciation-dictionaries/{pronunciation_dictionary_id}",
    summary="Get a pronunciation dictionary with the rules of its latest version",
)
async def get_dictionary(
    pronunciation_dictionary_id: str, caller: Reader, svc: ServicesDep
) -> DictionaryWithRules:
    dictionaries = svc.store.dictionaries
    dictionary = await run_in_threadpool(dictionaries.get, caller.subject, pronunciation_dictionary_id)
    if dictionary is None:
        raise _not_found(pronunciation_dictionary_id)
    version = await run_in_threadpool(
        dictionaries.version, caller.subject, pronunciation_dictionary_id, dictionary.latest_version_id
    )
    if version is None:  # changed in between: the version read is still one of its own
        raise _not_found(pronunciation_dictionary_id)
    metadata = DictionaryMetadata.of(dictionary).model_dump()
    return DictionaryWithRules(**metadata, rules=[_shown(rule) for rule in version.rules])


@router.patch(
    "/v1/pronunciation-dictionaries/{pronunciation_dictionary_id}",
    summary="Rename, archive or restore a pronunciation dictionary (its rules and versions stay)",
)
async def update_dictionary(
    pronunciation_dictionary_id: str, body: DictionaryChanges, caller: Writer, svc: ServicesDep
) -> DictionaryMetadata:
    dictionary = await run_in_threadpool(
        svc.store.dictionaries.update, caller.subject, pronunciation_dictionary_id, body.name, body.archived
    )
    if dictionary is None:
        raise _not_found(pronunciation_dictionary_id)
    return DictionaryMetadata.of(dictionary)


async def _revise(
    svc: Services, caller: Caller, dictionary_id: str, change: Callable[[Lexicon], Lexicon]
) -> ChangedRules:
    def checked(rules: Lexicon) -> Lexicon:
        changed = change(rules)
        if len(changed) > MAX_RULES:
            raise _too_many(len(changed))
        return changed

    version = await run_in_threadpool(svc.store.dictionaries.revise, caller.subject, dictionary_id, checked)
    if version is None:
        raise _not_found(dictionary_id)
    return ChangedRules(id=dictionary_id, version_id=version.version_id, version_rules_num=len(version.rules))


@router.post(
    "/v1/pronunciation-dictionaries/{pronunciation_dictionary_id}/add-rules",
    summary="Add rules (a rule replaces any with the same string_to_replace); makes a new version",
)
async def add_rules(
    pronunciation_dictionary_id: str, body: RulesBody, caller: Writer, svc: ServicesDep
) -> ChangedRules:
    added = body.lexicon()
    replaced = {rule.string_to_replace for rule in added}

    def with_added(rules: Lexicon) -> Lexicon:
        return tuple(rule for rule in rules if rule.string_to_replace not in replaced) + added

    return await _revise(svc, caller, pronunciation_dictionary_id, with_added)


@router.post(
    "/v1/pronunciation-dictionaries/{pronunciation_dictionary_id}/remove-rules",
    summary="Remove the rules of these strings; makes a new version",
)
async def remove_rules(
    pronunciation_dictionary_id: str, body: RuleStrings, caller: Writer, svc: ServicesDep
) -> ChangedRules:
    removed = set(body.rule_strings)

    def without(rules: Lexicon) -> Lexicon:
        return tuple(rule for rule in rules if rule.string_to_replace not in removed)

    return await _revise(svc, caller, pronunciation_dictionary_id, without)


@router.post(
    "/v1/pronunciation-dictionaries/{pronunciation_dictionary_id}/set-rules",
    summary="Replace all the rules; makes a new version",
)
async def set_rules(
    pronunciation_dictionary_id: str, body: RulesBody, caller: Writer, svc: ServicesDep
) -> ChangedRules:
    rules = body.lexicon()
    return await _revise(svc, caller, pronunciation_dictionary_id, lambda _: rules)


@router.get(
    "/v1/pronunciation-dictionaries/{dictionary_id}/{version_id}/download",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The version as a PLS file"}
    },
    summary="Download a version of a pronunciation dictionary as a PLS lexicon",
)
async def download(dictionary_id: str, version_id: str, caller: Reader, svc: ServicesDep) -> Response:
    version = await run_in_threadpool(
        svc.store.dictionaries.version, caller.subject, dictionary_id, version_id
    )
    if version is None:
        raise _not_found(dictionary_id, version_id)
    disposition = f'attachment; filename="{dictionary_id}-{version_id}.pls"'
    return Response(
        pls.write(version.rules),
        media_type="application/octet-stream",
        headers={"content-disposition": disposition},
    )
