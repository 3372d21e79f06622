"""Pronunciation dictionaries through the official `elevenlabs` Python SDK, against a real server on
SQLite (one machine) and on PostgreSQL with Redis (a replica): every call of the SDK, the shapes it
parses, versions, paging, scopes, other accounts, text-to-speech with locators, and hostile lexicons.
Raw HTTP only where the SDK cannot send what is tested (a form without a name, a 10 MB body)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPResponse

import httpx
import numpy as np
import pytest
from elevenlabs import (
    AddPronunciationDictionaryResponseModel,
    GetPronunciationDictionaryMetadataResponse,
    GetPronunciationDictionaryWithRulesResponseModel,
    PronunciationDictionaryRulesResponseModel,
    PronunciationDictionaryVersionLocator,
)
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.errors import UnprocessableEntityError
from elevenlabs.pronunciation_dictionaries import (
    BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Alias as NewAlias,
)
from elevenlabs.pronunciation_dictionaries import (
    BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Phoneme as NewPhoneme,
)
from elevenlabs.pronunciation_dictionaries import (
    PronunciationDictionaryRule_Alias as Alias,
)
from elevenlabs.pronunciation_dictionaries import (
    PronunciationDictionaryRule_Phoneme as Phoneme,
)

from intone.config import Settings
from intone.speech.lexicon import AliasRule, PhonemeRule
from intone.speech.pls import read
from tests.api.server import Server, create_key, serving
from tests.shared_services import mode_env
from tests.utils.whisper import plain, transcribe

pytestmark = pytest.mark.slow

BRIAN = "nPczCjzI2devNBz1zQrb"  # Piper speaks him on the flash models: cheap syntheses
FLASH = "eleven_flash_v2"
ROUTE = "/v1/pronunciation-dictionaries"
# The example of ElevenLabs' documentation, and one CMU phoneme in the vendor spelling of PLS.
LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0"
      xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xsi:schemaLocation="http://www.w3.org/2005/01/pronunciation-lexicon
        http://www.w3.org/TR/2007/CR-pronunciation-lexicon-20071212/pls.xsd"
      alphabet="ipa" xml:lang="en-GB">
  <lexeme>
    <grapheme>Apple</grapheme>
    <phoneme>ˈæpl̩</phoneme>
  </lexeme>
  <lexeme>
    <grapheme>UN</grapheme>
    <alias>United Nations</alias>
  </lexeme>
  <lexeme>
    <grapheme>talon</grapheme>
    <phoneme alphabet="x-cmu">T AE1 L AH0 N</phoneme>
  </lexeme>
</lexicon>
""".encode()
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<lexicon version="1.0" alphabet="ipa"><lexeme><grapheme>x</grapheme><alias>&f;</alias></lexeme></lexicon>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>
<lexicon alphabet="ipa"><lexeme><grapheme>x</grapheme><alias>&passwd;</alias></lexeme></lexicon>"""


@dataclass
class Site:
    server: Server
    other: str  # another account's key, with every scope
    reader: str  # only pronunciation_dictionaries_read
    speaker: str  # only text_to_speech

    def client(self, key: str | None = None) -> ElevenLabs:
        return ElevenLabs(base_url=self.server.url, api_key=key or self.server.api_key)

    def http(self, method: str, path: str, key: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {"xi-api-key": key or self.server.api_key}
        return httpx.request(method, f"{self.server.url}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module", params=["embedded", "shared"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp(f"intone-dictionaries-{request.param}")
    with mode_env(request.param) as env, serving(data, env=env) as server:
        yield Site(
            server,
            other=create_key(server.env, "other"),
            reader=create_key(server.env, "reader", "--scopes", "pronunciation_dictionaries_read"),
            speaker=create_key(server.env, "speaker", "--scopes", "text_to_speech"),
        )


def _refused(error: pytest.ExceptionInfo[ApiError], http_status: int, status: str) -> str:
    assert error.value.status_code == http_status, error.value.body
    assert error.value.body["detail"]["status"] == status, error.value.body
    return error.value.body["detail"]["message"]


def _rules(client: ElevenLabs, dictionary_id: str) -> list[tuple[str, ...]]:
    return [_rule(rule) for rule in client.pronunciation_dictionaries.get(dictionary_id).rules]


def _rule(rule: object) -> tuple[str, ...]:
    said = rule.alias if rule.type == "alias" else f"{rule.phoneme} ({rule.alphabet})"
    return (rule.string_to_replace, said)


def _download(client: ElevenLabs, dictionary_id: str, version_id: str) -> bytes:
    return b"".join(client.pronunciation_dictionaries.download(dictionary_id, version_id))


def _brands(client: ElevenLabs, name: str = "Brands") -> AddPronunciationDictionaryResponseModel:
    return client.pronunciation_dictionaries.create_from_rules(
        name=name,
        rules=[
            NewAlias(string_to_replace="UN", alias="United Nations"),
            NewPhoneme(string_to_replace="tomato", phoneme="təˈmɑːtəʊ", alphabet="ipa", case_sensitive=False),
        ],
    )


def test_created_from_rules_in_the_shapes_the_sdk_parses(site):
    client = site.client()
    made = client.pronunciation_dictionaries.create_from_rules(
        name="Brands",
        description="what we sell",
        workspace_access="viewer",
        rules=[
            NewAlias(string_to_replace="UN", alias="United Nations"),
            NewPhoneme(string_to_replace="tomato", phoneme="təˈmɑːtəʊ", alphabet="ipa", case_sensitive=False),
        ],
    )
    assert (made.name, made.description, made.version_rules_num) == ("Brands", "what we sell", 2)
    assert made.permission_on_resource == "admin" and made.created_by
    assert abs(made.creation_time_unix - time.time()) < 300
    got = client.pronunciation_dictionaries.get(made.id)
    assert (got.id, got.latest_version_id, got.latest_version_rules_num) == (made.id, made.version_id, 2)
    assert (got.name, got.description, got.created_by) == ("Brands", "what we sell", made.created_by)
    assert got.creation_time_unix == made.creation_time_unix and got.archived_time_unix is None
    alias, phoneme = got.rules
    assert (alias.type, alias.string_to_replace, alias.alias) == ("alias", "UN", "United Nations")
    assert (alias.case_sensitive, alias.word_boundaries) == (True, True)  # unset: ElevenLabs' defaults
    assert (phoneme.type, phoneme.phoneme, phoneme.alphabet) == ("phoneme", "təˈmɑːtəʊ", "ipa")
    assert (phoneme.case_sensitive, phoneme.word_boundaries) == (False, True)
    # Every field the SDK's models declare is in the JSON, and nothing else (the SDK itself would not
    # notice a missing one: it parses leniently).
    raw = site.http("GET", f"{ROUTE}/{made.id}").json()
    assert raw.keys() == GetPronunciationDictionaryWithRulesResponseModel.model_fields.keys()
    assert raw["rules"][0].keys() == Alias.model_fields.keys()
    assert raw["rules"][1].keys() == Phoneme.model_fields.keys()
    listed = site.http("GET", ROUTE).json()
    assert listed.keys() == {"pronunciation_dictionaries", "next_cursor", "has_more"}
    assert (
        listed["pronunciation_dictionaries"][0].keys()
        == GetPronunciationDictionaryMetadataResponse.model_fields.keys()
    )
    rules = [{"type": "alias", "string_to_replace": "AI", "alias": "A I"}]
    created = site.http("POST", f"{ROUTE}/add-from-rules", json={"name": "n", "rules": rules}).json()
    assert created.keys() == AddPronunciationDictionaryResponseModel.model_fields.keys()
    added = site.http("POST", f"{ROUTE}/{created['id']}/add-rules", json={"rules": rules}).json()
    assert added.keys() == PronunciationDictionaryRulesResponseModel.model_fields.keys()


def test_a_lexicon_file_becomes_rules_and_downloads_back_as_the_same(site):
    client = site.client()
    made = client.pronunciation_dictionaries.create_from_file(
        name="From a file", file=("brands.pls", LEXICON, "application/pls+xml")
    )
    assert made.version_rules_num == 3 and made.description is None
    expected = [("Apple", "ˈæpl̩ (ipa)"), ("UN", "United Nations"), ("talon", "T AE1 L AH0 N (cmu-arpabet)")]
    assert _rules(client, made.id) == expected
    downloaded = _download(client, made.id, made.version_id)
    assert downloaded.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b"<grapheme>UN</grapheme>\n    <alias>United Nations</alias>" in downloaded
    assert "<phoneme>ˈæpl̩</phoneme>".encode() in downloaded
    copy = client.pronunciation_dictionaries.create_from_file(
        name="Copy", file=downloaded, description="again"
    )
    assert _rules(client, copy.id) == expected and copy.description == "again"


def test_a_form_with_empty_optional_fields_and_an_empty_file_makes_an_empty_dictionary(site):
    # As ElevenLabs' own examples send it: empty strings for the optional fields.
    form = {"name": "Empty", "description": "", "workspace_access": ""}
    reply = site.http("POST", f"{ROUTE}/add-from-file", files={"file": ("<file1>", b"")}, data=form)
    assert reply.status_code == 200, reply.text
    assert reply.json()["version_rules_num"] == 0 and reply.json()["description"] is None


def test_each_rule_change_is_a_new_version_and_every_version_stays(site):
    client = site.client()
    made = client.pronunciation_dictionaries.create_from_rules(
        name="Versions", rules=[NewAlias(string_to_replace="UN", alias="United Nations")]
    )
    rules = client.pronunciation_dictionaries.rules
    added = rules.add(
        made.id,
        rules=[Alias(string_to_replace="AI", alias="A I"), Alias(string_to_replace="UN", alias="you en")],
    )
    assert (added.id, added.version_rules_num) == (made.id, 2)  # UN's rule was replaced
    removed = rules.remove(made.id, rule_strings=["AI", "not there"])
    assert removed.version_rules_num == 1
    replaced = rules.set(
        made.id, rules=[Phoneme(string_to_replace="talon", phoneme="T AE1 L AH0 N", alphabet="cmu-arpabet")]
    )
    assert replaced.version_rules_num == 1
    versions = [made.version_id, added.version_id, removed.version_id, replaced.version_id]
    assert len(set(versions)) == 4
    got = client.pronunciation_dictionaries.get(made.id)
    assert (got.latest_version_id, got.latest_version_rules_num) == (replaced.version_id, 1)
    assert _rules(client, made.id) == [("talon", "T AE1 L AH0 N (cmu-arpabet)")]
    # Pinned versions keep what they held.
    held = [read(_download(client, made.id, version), 100) for version in versions]
    assert held == [
        [AliasRule("UN", "United Nations")],
        [AliasRule("AI", "A I"), AliasRule("UN", "you en")],
        [AliasRule("UN", "you en")],
        [PhonemeRule("talon", "T AE1 L AH0 N", "cmu-arpabet")],
    ]


def test_listings_page_with_the_cursor_and_hide_archived_dictionaries(site):
    client = site.client(create_key(site.server.env, "lister"))  # a key with no dictionaries yet
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    made = {name: _brands(client, name) for name in names}
    pages, cursor = [], None
    while True:
        page = client.pronunciation_dictionaries.list(
            cursor=cursor, page_size=2, sort="name", sort_direction="ascending"
        )
        pages.append([dictionary.name for dictionary in page.pronunciation_dictionaries])
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert pages == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    newest = client.pronunciation_dictionaries.list(sort="creation_time_unix", sort_direction="DESCENDING")
    assert [dictionary.name for dictionary in newest.pronunciation_dictionaries] == names[::-1]
    assert newest.pronunciation_dictionaries[0].latest_version_rules_num == 2

    renamed = client.pronunciation_dictionaries.update(made["echo"].id, name="foxtrot", archived=True)
    assert renamed.name == "foxtrot" and renamed.archived_time_unix is not None
    assert renamed.latest_version_id == made["echo"].version_id  # the rules did not change
    listed = client.pronunciation_dictionaries.list()
    assert "foxtrot" not in [dictionary.name for dictionary in listed.pronunciation_dictionaries]
    everything = client.pronunciation_dictionaries.list(include_archived=True)
    assert "foxtrot" in [dictionary.name for dictionary in everything.pronunciation_dictionaries]
    restored = client.pronunciation_dictionaries.update(made["echo"].id, archived=False)
    assert restored.archived_time_unix is None and restored.name == "foxtrot"


def test_text_to_speech_speaks_with_locators_on_all_four_endpoints(site):
    client = site.client()
    first, second = _brands(client, "first"), _brands(client, "second")
    locators = [
        PronunciationDictionaryVersionLocator(
            pronunciation_dictionary_id=first.id, version_id=first.version_id
        ),
        PronunciationDictionaryVersionLocator(pronunciation_dictionary_id=second.id),  # the latest
    ]
    speech = {
        "text": "The UN grows tomatoes.",
        "model_id": FLASH,
        "pronunciation_dictionary_locators": locators,
    }
    tts = client.text_to_speech
    assert (
        len(b"".join(tts.convert(BRIAN, output_format="pcm_16000", **speech))) > 16_000
    )  # over half a second
    assert len(b"".join(tts.stream(BRIAN, output_format="pcm_16000", **speech))) > 16_000
    assert tts.convert_with_timestamps(BRIAN, **speech).audio_base_64
    assert any(chunk.audio_base_64 for chunk in tts.stream_with_timestamps(BRIAN, **speech))


def test_rules_are_heard_in_locator_order_and_a_pinned_version_keeps_its_own(site):
    client = site.client()
    made = client.pronunciation_dictionaries.create_from_rules(
        name="Fruit", rules=[NewAlias(string_to_replace="zorblax", alias="apples")]
    )
    bananas = Phoneme(string_to_replace="zorblax", phoneme="B AH0 N AE1 N AH0 Z", alphabet="cmu-arpabet")
    client.pronunciation_dictionaries.rules.set(made.id, rules=[bananas])
    first = PronunciationDictionaryVersionLocator(
        pronunciation_dictionary_id=made.id, version_id=made.version_id
    )
    latest = PronunciationDictionaryVersionLocator(pronunciation_dictionary_id=made.id)

    def heard(*locators: PronunciationDictionaryVersionLocator) -> str:
        audio = client.text_to_speech.convert(
            BRIAN,
            text="Please buy some zorblax for the party.",
            model_id=FLASH,
            output_format="pcm_16000",
            pronunciation_dictionary_locators=list(locators),
        )
        samples = np.frombuffer(b"".join(audio), "<i2").astype(np.float32) / 32768
        return plain(transcribe(samples, 16_000))

    control = heard()
    assert "apple" not in control and "banana" not in control
    assert "apples" in heard(first)  # the alias of the first version, pinned
    assert "bananas" in heard(latest)  # the phoneme rule of the latest
    assert "apples" in heard(first, latest)  # the first rule that matches wins


def test_a_locator_of_no_dictionary_of_this_key_is_not_found_for_speech(site):
    client, others = site.client(), site.client(site.other)
    mine, theirs = _brands(client), _brands(others)

    def speak(locators: list[PronunciationDictionaryVersionLocator]) -> bytes:
        return b"".join(
            client.text_to_speech.convert(
                BRIAN, text="Hi.", model_id=FLASH, pronunciation_dictionary_locators=locators
            )
        )

    for locator in [
        PronunciationDictionaryVersionLocator(pronunciation_dictionary_id=theirs.id),
        PronunciationDictionaryVersionLocator(
            pronunciation_dictionary_id=theirs.id, version_id=theirs.version_id
        ),
        PronunciationDictionaryVersionLocator(pronunciation_dictionary_id="nothing0here0at0all0"),
        PronunciationDictionaryVersionLocator(
            pronunciation_dictionary_id=mine.id, version_id=theirs.version_id
        ),
        PronunciationDictionaryVersionLocator(pronunciation_dictionary_id=mine.id, version_id="no\0such"),
    ]:
        with pytest.raises(ApiError) as error:
            speak([PronunciationDictionaryVersionLocator(pronunciation_dictionary_id=mine.id), locator])
        assert locator.pronunciation_dictionary_id in _refused(
            error, 404, "pronunciation_dictionary_not_found"
        )
    four = [PronunciationDictionaryVersionLocator(pronunciation_dictionary_id=mine.id)] * 4
    with pytest.raises(UnprocessableEntityError):
        speak(four)
    assert speak(four[:3])  # three is the most, and the same one thrice is fine


def test_another_account_can_neither_see_nor_change_a_dictionary(site):
    mine = _brands(site.client())
    theirs = site.client(site.other).pronunciation_dictionaries
    calls = [
        lambda: theirs.get(mine.id),
        lambda: theirs.update(mine.id, name="taken"),
        lambda: theirs.rules.add(mine.id, rules=[Alias(string_to_replace="a", alias="b")]),
        lambda: theirs.rules.remove(mine.id, rule_strings=["UN"]),
        lambda: theirs.rules.set(mine.id, rules=[]),
        lambda: _download(site.client(site.other), mine.id, mine.version_id),
    ]
    for call in calls:
        with pytest.raises(ApiError) as error:
            call()
        assert mine.id in _refused(error, 404, "pronunciation_dictionary_not_found")
    listed = theirs.list(include_archived=True, page_size=100).pronunciation_dictionaries
    assert mine.id not in [dictionary.id for dictionary in listed]
    owner = site.client().pronunciation_dictionaries.get(mine.id)
    assert (owner.name, owner.latest_version_id) == ("Brands", mine.version_id)  # untouched


def test_keys_need_the_dictionary_scopes(site):
    mine = _brands(site.client())
    speaker = site.client(site.speaker).pronunciation_dictionaries
    for call in [lambda: speaker.list(), lambda: _brands(site.client(site.speaker))]:
        with pytest.raises(ApiError) as error:
            call()
        assert "pronunciation_dictionaries_" in _refused(error, 403, "missing_permissions")
    reader = site.client(site.reader).pronunciation_dictionaries
    assert reader.list().pronunciation_dictionaries == []  # it may read: its own, none
    for call in [
        lambda: _brands(site.client(site.reader)),
        lambda: reader.create_from_file(name="x", file=LEXICON),
        lambda: reader.update(mine.id, name="x"),
        lambda: reader.rules.add(mine.id, rules=[Alias(string_to_replace="a", alias="b")]),
        lambda: reader.rules.remove(mine.id, rule_strings=["UN"]),
        lambda: reader.rules.set(mine.id, rules=[]),
    ]:
        with pytest.raises(ApiError) as error:
            call()
        assert "pronunciation_dictionaries_write" in _refused(error, 403, "missing_permissions")


@pytest.mark.parametrize(
    "hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"]
)
def test_a_lexicon_with_a_doctype_is_refused(site, hostile: bytes):
    client = site.client()
    before = len(client.pronunciation_dictionaries.list(page_size=100).pronunciation_dictionaries)
    with pytest.raises(ApiError) as error:
        client.pronunciation_dictionaries.create_from_file(name="hostile", file=hostile)
    message = _refused(error, 400, "invalid_lexicon")
    assert "DOCTYPE" in message and "root:" not in message  # /etc/passwd was not read into it
    assert len(client.pronunciation_dictionaries.list(page_size=100).pronunciation_dictionaries) == before


def test_a_lexicon_over_the_size_limit_is_413(site):
    padding = b"<!--" + b"x" * 2_000_000 + b"-->"  # well-formed: only its size is wrong
    with pytest.raises(ApiError) as error:
        site.client().pronunciation_dictionaries.create_from_file(name="big", file=LEXICON + padding)
    assert "INTONE_MAX_LEXICON_BYTES" in _refused(error, 413, "payload_too_large")
    listed = site.client().pronunciation_dictionaries.list(page_size=100).pronunciation_dictionaries
    assert "big" not in [dictionary.name for dictionary in listed]


def test_a_10_mb_lexicon_is_refused_before_it_is_sent(site):
    host, port = site.server.url.removeprefix("http://").split(":")
    head = (
        f"POST {ROUTE}/add-from-file HTTP/1.1\r\nHost: {host}\r\nxi-api-key: {site.server.api_key}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        response = HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert response.status == 413 and body["detail"]["status"] == "payload_too_large"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_chunked_upload_past_the_body_limit_is_413(site):
    limit = Settings().max_body_bytes  # what the server runs with
    host, port = site.server.url.removeprefix("http://").split(":")
    head = (
        f"POST {ROUTE}/add-from-file HTTP/1.1\r\nHost: {host}\r\nxi-api-key: {site.server.api_key}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    start = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pls"\r\n\r\n<lexicon>'
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Exactly one byte over, and no final chunk: the server has read all of it when it answers.
        sock.sendall(head.encode() + _chunk(start))
        left = limit + 1 - len(start)
        while left:
            piece = b"x" * min(65_536, left)
            sock.sendall(_chunk(piece))
            left -= len(piece)
        response = HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert response.status == 413 and body["detail"]["status"] == "payload_too_large"


def test_a_client_leaving_mid_upload_is_no_server_error(site):
    host, port = site.server.url.removeprefix("http://").split(":")
    head = (
        f"POST {ROUTE}/add-from-file HTTP/1.1\r\nHost: {host}\r\nxi-api-key: {site.server.api_key}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 500000\r\n\r\n"
    )
    start = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pls"\r\n\r\n<lexicon>'
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + start)
        time.sleep(0.5)  # the route is reading the form
    time.sleep(1)  # the server notices the disconnect
    assert "unexpected error" not in site.server.log_text()


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "phoneme", "string_to_replace": "a", "phoneme": "b", "alphabet": "x-sampa"},
        {"type": "phoneme", "string_to_replace": "a", "phoneme": "B AH0 XX9", "alphabet": "cmu-arpabet"},
        {"type": "phoneme", "string_to_replace": "a", "phoneme": "/./", "alphabet": "ipa"},
        {"type": "phoneme", "string_to_replace": "a", "phoneme": "b"},
        {"type": "alias", "string_to_replace": "", "alias": "b"},
        {"type": "alias", "string_to_replace": "  ", "alias": "b"},
        {"type": "alias", "string_to_replace": "a", "alias": "b\0c"},
        {"type": "alias", "string_to_replace": "a", "alias": "b" * 1001},
        {"type": "alias", "string_to_replace": "a", "alias": "b", "case_sensitive": "yes"},
        {"type": "spell", "string_to_replace": "a"},
        {"string_to_replace": "a", "alias": "b"},
    ],
)
def test_a_bad_rule_is_422(site, rule: dict[str, object]):
    reply = site.http("POST", f"{ROUTE}/add-from-rules", json={"name": "bad", "rules": [rule]})
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"][:3] == ["body", "rules", 0]


@pytest.mark.parametrize("name", ["", " ", "n" * 256, "nul\0"])
def test_a_bad_name_is_422_by_json_or_form(site, name: str):
    with pytest.raises(UnprocessableEntityError):
        site.client().pronunciation_dictionaries.create_from_rules(name=name, rules=[])
    reply = site.http(
        "POST", f"{ROUTE}/add-from-file", files={"file": ("a.pls", LEXICON)}, data={"name": name}
    )
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", "name"]


def test_forms_and_queries_that_cannot_work_are_4xx(site):
    nameless = site.http("POST", f"{ROUTE}/add-from-file", files={"file": ("a.pls", LEXICON)})
    assert nameless.status_code == 422 and nameless.json()["detail"][0]["loc"] == ["body", "name"]
    as_json = site.http("POST", f"{ROUTE}/add-from-file", json={"name": "x"})
    assert as_json.status_code == 400 and as_json.json()["detail"]["status"] == "invalid_content_type"
    long_grapheme = LEXICON.replace(b"<grapheme>UN</grapheme>", b"<grapheme>" + b"U" * 1001 + b"</grapheme>")
    reply = site.http(
        "POST", f"{ROUTE}/add-from-file", files={"file": ("a.pls", long_grapheme)}, data={"name": "x"}
    )
    message = reply.json()["detail"]["message"]
    assert reply.status_code == 400 and message.startswith("Rule 2 of the lexicon ('UUUU")
    assert "string_to_replace: string should have at most 1000 characters" in message
    unknown = LEXICON.replace(b"T AE1 L AH0 N", b"T AE1 L XX9 N")
    reply = site.http(
        "POST", f"{ROUTE}/add-from-file", files={"file": ("a.pls", unknown)}, data={"name": "x"}
    )
    message = reply.json()["detail"]["message"]
    assert reply.status_code == 400 and reply.json()["detail"]["status"] == "invalid_lexicon"
    assert (
        message.startswith("Rule 3 of the lexicon ('talon'): the phoneme cannot be read") and "XX9" in message
    )
    for query in ["sort_direction=sideways", "page_size=0", "page_size=101", "sort=size"]:
        assert site.http("GET", f"{ROUTE}?{query}").status_code == 422, query
    unknown = site.http("GET", f"{ROUTE}?cursor=nothing0here0at0all0")
    assert unknown.status_code == 400 and unknown.json()["detail"]["status"] == "invalid_cursor"
    for path in [f"{ROUTE}/%00", f"{ROUTE}/%00/%00/download", f"{ROUTE}/nothing/nothing/download"]:
        reply = site.http("GET", path)
        assert (
            reply.status_code == 404
            and reply.json()["detail"]["status"] == "pronunciation_dictionary_not_found"
        )


def test_a_version_holds_at_most_5000_rules(site):
    rules = [{"type": "alias", "string_to_replace": f"w{n}", "alias": "x"} for n in range(5001)]
    assert (
        site.http("POST", f"{ROUTE}/add-from-rules", json={"name": "big", "rules": rules}).status_code == 422
    )
    full = site.http("POST", f"{ROUTE}/add-from-rules", json={"name": "full", "rules": rules[:5000]})
    assert full.status_code == 200 and full.json()["version_rules_num"] == 5000
    more = site.http("POST", f"{ROUTE}/{full.json()['id']}/add-rules", json={"rules": rules[5000:]})
    assert more.status_code == 400 and more.json()["detail"]["status"] == "too_many_rules"
    again = site.http("POST", f"{ROUTE}/{full.json()['id']}/add-rules", json={"rules": rules[:1]})
    assert again.json()["version_rules_num"] == 5000  # replacing a rule stays within the limit
