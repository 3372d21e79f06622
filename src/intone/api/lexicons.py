"""The pronunciation rules a request's dictionary locators name, for the speech layer to apply.

A locator names one of the caller's dictionaries, and a version of it (pinned) or none (the latest). The
rules of all of them, in locator order, make the request's lexicon: the first rule that matches wins, so
an earlier dictionary overrides a later one. Using a dictionary needs no dictionary scope, only the
request's own: a key holds its dictionaries to speak with them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.concurrency import run_in_threadpool

from intone.accounts.caller import Caller
from intone.api.schemas import MAX_LOCATORS, PronunciationDictionaryLocator
from intone.api.state import Services
from intone.speech.errors import PronunciationDictionaryNotFound, SpeechError
from intone.speech.lexicon import Lexicon
from intone.store.dictionaries import Dictionaries


async def lexicon_for(
    svc: Services, caller: Caller, locators: Sequence[PronunciationDictionaryLocator] | None
) -> Lexicon:
    """The rules of the caller's dictionaries the locators name, in order.

    Raises PronunciationDictionaryNotFound for an unknown dictionary or version, or another account's
    dictionary (which is unknown to this one), and SpeechError for more than MAX_LOCATORS locators.
    """
    if not locators:
        return ()
    if len(locators) > MAX_LOCATORS:
        raise SpeechError(
            f"A request may name at most {MAX_LOCATORS} pronunciation dictionaries; it named {len(locators)}."
        )
    return await run_in_threadpool(_rules, svc.store.dictionaries, caller.subject, locators)


def _rules(
    dictionaries: Dictionaries, owner: str, locators: Sequence[PronunciationDictionaryLocator]
) -> Lexicon:
    """Blocking: reads the database."""
    rules: Lexicon = ()
    for locator in locators:
        dictionary_id = locator.pronunciation_dictionary_id
        version_id = locator.version_id or None  # an empty version_id pins none
        version = dictionaries.version(owner, dictionary_id, version_id)
        if version is None:
            # repr: an id may hold characters (NUL, half a surrogate pair) that must not reach the JSON raw.
            pinned = "" if version_id is None else f" with a version {version_id!r}"
            raise PronunciationDictionaryNotFound(
                f"Pronunciation dictionary {dictionary_id!r}{pinned} was not found."
            )
        rules += version.rules
    return rules
