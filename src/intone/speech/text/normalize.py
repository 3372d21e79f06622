"""Text normalization: spell out what a TTS model would misread, with a map back to the original text.

`normalize` runs a small ordered pipeline of regex passes over the text. Each pass rewrites some spans
and carries the character map along, so every character of the result knows which character of the
original it came from: untouched characters map to themselves, and a rewritten span's characters are
spread in order over the characters it replaced.

Number words come from num2words in the request's language, for every language num2words knows; there
the rules cover integers (with the language's thousands separators), negatives, decimals, percentages,
currency amounts and ordinals. English also gets dates, years, clock times, phone numbers, units and
common abbreviations. Wording choices for English:

- "$3.50" -> "three dollars and fifty cents"; "$5 million" -> "five million dollars".
- "March 3rd, 2024" / "2024-03-03" / "03/03/2024" (month first) -> "March third, twenty twenty-four";
  "3 March 2024" -> "the third of March twenty twenty-four".
- Clock times are read as written: "10:30 am" -> "ten thirty a m", "10:05" -> "ten oh five",
  "10:00" -> "ten o'clock", and a 24-hour "14:00" -> "fourteen hundred".
- Phone numbers are read digit by digit with a comma (a pause) between the written groups.
- A bare number stays a cardinal ("2024" -> "two thousand and twenty-four"); it reads as a year only next
  to a month, after a preposition like "in"/"since"/"by", in a year range, or before BC/AD.

Languages num2words does not know are returned unchanged: the espeak front end reads numbers itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache

from num2words import CONVERTER_CLASSES, num2words


@dataclass(frozen=True)
class NormalizedText:
    original: str
    text: str  # the normalized text
    source: tuple[int, ...]  # for each char of `text`, the index of the char of `original` it came from


def unchanged(text: str) -> NormalizedText:
    return NormalizedText(original=text, text=text, source=tuple(range(len(text))))


def supported_languages() -> frozenset[str]:
    """Lower-case language codes (ISO 639-1, some with a region: "pt-br") that have number rules."""
    return frozenset(_CODES)


def normalize(text: str, language: str = "en") -> NormalizedText:
    """Spell out numbers, money, dates, times and abbreviations in `language` (an ISO 639-1 code, with or
    without a region); text in a language without rules comes back unchanged."""
    lang = _resolve(language)
    if lang is None or not text:
        return unchanged(text)
    current, source = text, list(range(len(text)))
    for rule in _pipeline(lang):
        current, source = _apply(rule, current, source, lang)
    return NormalizedText(original=text, text=current, source=tuple(source))


def normalize_in_context(
    text: str, language: str = "en", before: str = "", after: str = ""
) -> NormalizedText:
    """`normalize(text)`, deciding as if `before` and `after` surrounded it (a request's `previous_text`
    and `next_text`), so "in 1984" reads as a year even when "in" came in the previous request.

    When an expansion straddles an edge ("It rose 50" before, "%." here), the text is normalized on
    its own: half an expansion would be worse than no context.
    """
    alone = normalize(text, language)
    if not before and not after:
        return alone
    # Separate requests are separate words unless the caller's own spacing says otherwise.
    if before and not before[-1].isspace() and not text[:1].isspace():
        before += " "
    if after and not after[0].isspace() and not text[-1:].isspace():
        after = " " + after
    whole = normalize(before + text + after, language)
    first, last = len(before), len(before) + len(text)
    kept = [i for i, origin in enumerate(whole.source) if first <= origin < last]
    if not kept:
        return alone
    start, end = kept[0], kept[-1] + 1
    inside = whole.text[start:end]
    if _cut_word(whole.text, start) or _cut_word(whole.text, end) or _edge_space(inside) != _edge_space(text):
        return alone
    return NormalizedText(
        original=text, text=inside, source=tuple(origin - first for origin in whole.source[start:end])
    )


def _cut_word(text: str, index: int) -> bool:
    return 0 < index < len(text) and text[index - 1].isalnum() and text[index].isalnum()


def _edge_space(text: str) -> tuple[bool, bool]:
    return (text[:1].isspace(), text[-1:].isspace())


# --- Languages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lang:
    code: str  # the num2words code: "en", "pt_BR", "kz"
    base: str  # its language part: "en", "pt", "kz"

    @property
    def style(self) -> str:
        return _STYLES.get(self.base, "comma")


# num2words uses "kz" for Kazakh; ISO 639-1 says "kk". Norwegian Bokmål and Nynorsk read numbers alike.
_ISO_CODES = {"kz": "kk"}
_ALIASES = {"nb": "no", "nn": "no"}

# num2words' Amharic converter never returns for negative numbers and many above a million.
_HANGING = frozenset({"am"})

_CODES: dict[str, str] = {
    _ISO_CODES.get(key, key).lower().replace("_", "-"): key
    for key in CONVERTER_CLASSES
    if key not in _HANGING
}
_CODES.update({alias: code for alias, code in _ALIASES.items() if code in CONVERTER_CLASSES})

# How each language writes 1234567.5: "1,234,567.5" (comma), "1.234.567,5" (dot), "1 234 567,5" (space).
_STYLES = {
    **dict.fromkeys(("de", "es", "it", "pt", "nl", "da", "id", "tr", "ro", "sl", "sr", "ca", "is"), "dot"),
    **dict.fromkeys(("az", "vi", "tet"), "dot"),
    **dict.fromkeys(("fr", "ru", "pl", "cs", "sk", "uk", "be", "fi", "sv", "no", "lt", "lv", "hu"), "space"),
    **dict.fromkeys(("kz", "eo", "tg", "ce"), "space"),
}

# Languages that write ordinals as "3." ("am 3. Mai"): such a number is left for the engine, which reads
# it with the right ending, rather than spoken as a cardinal.
_PERIOD_ORDINALS = frozenset({"de", "da", "no", "fi", "cs", "sk", "sl", "hu", "tr", "is", "sr", "lv"})

# Scripts written without spaces between words: no space goes between a number's words and a letter.
_UNSPACED = frozenset({"ja", "th", "ko"})

_PERCENT_WORDS = {
    "en": "percent",
    "es": "por ciento",
    "de": "Prozent",
    "fr": "pour cent",
    "it": "per cento",
    "pt": "por cento",
    "nl": "procent",
    "ca": "per cent",
    "sv": "procent",
    "da": "procent",
    "no": "prosent",
    "pl": "procent",
    "id": "persen",
}


def _resolve(language: str) -> _Lang | None:
    key = language.strip().lower().replace("_", "-")
    code = _CODES.get(key) or _CODES.get(key.split("-")[0])
    return None if code is None else _Lang(code=code, base=code.split("_")[0].lower())


# --- Number words via num2words ---------------------------------------------------------------------

# Above this many digits a number is read digit by digit (an id, a card number), which also keeps
# num2words away from integers it cannot name.
_MAX_CARDINAL_DIGITS = 15


def _words(code: str, value: int | float | Decimal, to: str = "cardinal", **options: str) -> str | None:
    """num2words, or None where it cannot say the value: its converters raise all kinds of errors
    (NotImplementedError, OverflowError, TypeError, KeyError...) for values or modes they lack."""
    try:
        words = num2words(value, lang=code, to=to, **options)
    except Exception:
        return None
    # num2words puts commas inside numbers ("one thousand, two hundred"): they would be read as pauses.
    return " ".join(words.replace(",", " ").split()) or None


@lru_cache(maxsize=8192)
def _cardinal(code: str, value: int) -> str | None:
    return _words(code, value)


@lru_cache(maxsize=4096)
def _ordinal(code: str, value: int) -> str | None:
    return _words(code, value, to="ordinal")


@lru_cache(maxsize=4096)
def _year(code: str, value: int) -> str | None:
    return _words(code, value, to="year")


@cache
def _digit_words(code: str) -> tuple[str, ...] | None:
    words = tuple(_cardinal(code, digit) for digit in range(10))
    return None if None in words else words  # type: ignore[return-value]


@cache
def _minus_word(code: str) -> str | None:
    """The word num2words puts before a negative number: taken from its own output where that is sound
    (some converters fail on negatives or mangle them), else from the converter's `negword`."""
    negative, positive = _cardinal(code, -7), _cardinal(code, 7)
    if negative and positive and negative.endswith(positive):
        word = negative[: -len(positive)]
    else:
        word = getattr(CONVERTER_CLASSES[code], "negword", None)
    return word.strip() if isinstance(word, str) and word.replace(" ", "").isalpha() else None


@cache
def _point_word(code: str) -> str | None:
    """The decimal point word ("point", "Komma"), if the language reads decimals digit by digit."""
    word = getattr(CONVERTER_CLASSES[code], "pointword", None)
    return word.strip() if isinstance(word, str) and word.strip().isalpha() else None


def _spell(code: str, digits: str) -> str | None:
    words = _digit_words(code)
    return None if words is None else " ".join(words[int(digit)] for digit in digits)


def _integer_words(code: str, digits: str) -> str | None:
    if len(digits) > _MAX_CARDINAL_DIGITS or (len(digits) > 1 and digits[0] == "0"):
        return _spell(code, digits)
    return _cardinal(code, int(digits))


def _decimal_words(code: str, digits: str, fraction: str) -> str | None:
    point = _point_word(code)
    if point is not None:
        whole, tail = _integer_words(code, digits), _spell(code, fraction)
        return None if whole is None or tail is None else f"{whole} {point} {tail}"
    # Languages such as Russian read decimals with their own grammar, which num2words knows.
    if len(digits) + len(fraction) > _MAX_CARDINAL_DIGITS:
        return None
    return _words(code, float(f"{digits}.{fraction}"))


def _number_words(code: str, sign: str | None, integer: str, fraction: str | None) -> str | None:
    digits = _digits(integer)
    words = _integer_words(code, digits) if fraction is None else _decimal_words(code, digits, fraction)
    if words is None or not sign:
        return words
    minus = _minus_word(code)
    return None if minus is None else f"{minus} {words}"


_NON_DIGIT = re.compile(r"[^0-9]")


def _digits(integer: str) -> str:
    return _NON_DIGIT.sub("", integer)


def _is_one(integer: str, fraction: str | None) -> bool:
    return fraction is None and _digits(integer) == "1"


# --- The pass machinery -----------------------------------------------------------------------------

# (start, end, replacement) in the text a pass works on; start < end, in order, not overlapping.
_Edit = tuple[int, int, str]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    handle: Callable[[re.Match[str], _Lang], list[_Edit]]


def _apply(rule: _Rule, text: str, source: list[int], lang: _Lang) -> tuple[str, list[int]]:
    pieces: list[str] = []
    mapped: list[int] = []
    position = 0
    for match in rule.pattern.finditer(text):
        for start, end, replacement in rule.handle(match, lang):
            pieces += (text[position:start], replacement)
            mapped += source[position:start]
            mapped += spread(source[start:end], len(replacement))
            position = end
    if not pieces:
        return text, source
    pieces.append(text[position:])
    mapped += source[position:]
    return "".join(pieces), mapped


def spread(span: Sequence[int], length: int) -> list[int]:
    """Map `length` new characters in order over `span`, each of its characters getting at least one
    when there are enough."""
    return [span[index * len(span) // length] for index in range(length)]


def _whole(match: re.Match[str], replacement: str | None) -> list[_Edit]:
    return [] if replacement is None else [(match.start(), match.end(), replacement)]


def _match_case(written: str, word: str) -> str:
    return word[:1].upper() + word[1:] if written[:1].isupper() else word


def _glued(text: str, start: int, end: int, words: str, lang: _Lang) -> str:
    """Put a space between number words and a letter the digits were written against ("5G", "mp3")."""
    before = " " if _letter_at(text, start - 1, lang) else ""
    after = " " if _letter_at(text, end, lang) else ""
    return f"{before}{words}{after}"


def _letter_at(text: str, index: int, lang: _Lang) -> bool:
    return lang.base not in _UNSPACED and 0 <= index < len(text) and text[index].isalpha()


_SENTENCE_END = re.compile(r"\s*$|\s+[\"'“‘(]*[A-Z]")


def _ends_sentence(text: str, position: int) -> bool:
    """Whether a period just before `position` also ends the sentence, so it must stay."""
    return _SENTENCE_END.match(text, position) is not None


# --- Shared number patterns -------------------------------------------------------------------------

# A minus sign counts only where it cannot be a hyphen: not after a word ("COVID-19") or number.
_SIGN = r"(?:(?<![\w.,])(?P<sign>[-−]))?"
# A number starts and ends where no digit-separator-digit chain goes on ("3.2.1", "10:30", "1/2"): those
# are left whole, for a dedicated rule or for the engine.
_LEFT = r"(?<![0-9])(?<![0-9][.,:/])"
_RIGHT = r"(?![.,:/]?[0-9])"
_SEPARATORS = {"comma": (",", r"\."), "dot": (r"\.", ","), "space": (r"[ \u00a0\u202f\u2009]", ",")}


def _unsigned(style: str) -> str:
    group, point = _SEPARATORS[style]
    return (
        rf"{_LEFT}(?P<int>[0-9]{{1,3}}(?:{group}[0-9]{{3}})++|[0-9]++)(?:{point}(?P<frac>[0-9]++))?{_RIGHT}"
    )


def _number(style: str) -> str:
    return _SIGN + _unsigned(style)


def _compile_per_style(build: Callable[[str], str]) -> dict[str, re.Pattern[str]]:
    return {style: re.compile(build(style)) for style in _SEPARATORS}


# --- Generic numbers and percentages (every language) -----------------------------------------------

_NUMBERS = _compile_per_style(_number)
_NUMBERS_BUT_ORDINALS = _compile_per_style(lambda style: _number(style) + r"(?!\.\s+\w)")
_PERCENTS = _compile_per_style(lambda style: _number(style) + r"\s?%")


def _number_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    words = _number_words(lang.code, match["sign"], match["int"], match["frac"])
    if words is None:
        return []
    return [(match.start(), match.end(), _glued(match.string, match.start(), match.end(), words, lang))]


def _percent_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    words = _number_words(lang.code, match["sign"], match["int"], match["frac"])
    return _whole(match, None if words is None else f"{words} {_PERCENT_WORDS[lang.base]}")


# --- Ordinals (languages that write them with a suffix) ---------------------------------------------

_ORDINAL_SUFFIXES = {
    "en": r"(?i:st|nd|rd|th)",
    "es": r"\.?[ºª]",
    "pt": r"\.?[ºª]",
    "it": r"\.?[ºª]",
    "fr": r"ère|ème|er|re|nde|nd|e",
    "nl": r"ste|de|e",
}
_FEMININE_SUFFIXES = ("ª", "re", "ère", "nde")
_ORDINALS = {
    base: re.compile(rf"(?<![\w.,])(?P<int>[0-9]{{1,15}})(?P<suffix>{suffix})(?!\w)")
    for base, suffix in _ORDINAL_SUFFIXES.items()
}


def _feminine(base: str, words: str) -> str:
    if base == "fr":
        return words.replace("premier", "première")
    # Spanish, Portuguese and Italian ordinals agree in gender by their final vowel: primero -> primera.
    return " ".join(word[:-1] + "a" if word.endswith("o") else word for word in words.split())


def _ordinal_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    words = _ordinal(lang.code, int(match["int"]))
    if words is not None and match["suffix"].endswith(_FEMININE_SUFFIXES):
        words = _feminine(lang.base, words)
    return _whole(match, words)


# --- Currency (every language num2words has the currency for) ---------------------------------------

_CURRENCY_SYMBOLS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₽": "RUB",
    "₩": "KRW",
}
# Currencies num2words has no English names for: (singular, plural).
_EXTRA_ENGLISH_CURRENCIES = {
    "JPY": ("yen", "yen"),
    "CNY": ("yuan", "yuan"),
    "KRW": ("won", "won"),
    "CHF": ("franc", "francs"),
}
_SCALES = {
    **{word: word for word in ("thousand", "million", "billion", "trillion")},
    **dict.fromkeys(("k", "K"), "thousand"),
    **dict.fromkeys(("m", "M", "mn"), "million"),
    **dict.fromkeys(("bn", "B"), "billion"),
    "tn": "trillion",
}

_CURRENCY = r"(?P<cur>US\$|[$€£¥₹₽₩]|\b[A-Z]{3}(?=\s?[0-9]))"
_SCALE = r"(?:\s?(?P<scale>thousand|million|billion|trillion|mn|bn|tn|[kKmMB])(?!\w))?"
_MONEY_BEFORE = _compile_per_style(
    lambda style: rf"(?:(?<![\w.,])(?P<sign>[-−]))?{_CURRENCY}\s?{_unsigned(style)}{_SCALE}"
)
_MONEY_AFTER = _compile_per_style(lambda style: rf"{_number(style)}\s?(?P<cur>[$€£¥₹₽₩]|[A-Z]{{3}}(?!\w))")
_SPLIT = "|"  # a separator num2words never writes itself, to cut its currency phrase in two


def _money_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    code = _CURRENCY_SYMBOLS.get(match["cur"], match["cur"])
    scale = _SCALES.get(match.groupdict().get("scale") or "") if lang.base == "en" else None
    if scale is not None:
        words, end = _scaled_money(lang, code, match["int"], match["frac"], scale), match.end()
    else:
        words, end = _money_words(lang, code, match["int"], match["frac"]), _money_end(match)
    if words is not None and match["sign"]:
        minus = _minus_word(lang.code)
        words = None if minus is None else f"{minus} {words}"
    return [] if words is None else [(match.start(), end, words)]


def _money_end(match: re.Match[str]) -> int:
    """Where the amount ends: after the symbol when it follows, else after the number."""
    if match.start("cur") > match.start("int"):
        return match.end()
    return match.end("frac") if match["frac"] is not None else match.end("int")


def _money_words(lang: _Lang, code: str, integer: str, fraction: str | None) -> str | None:
    digits = _digits(integer)
    if len(digits) > _MAX_CARDINAL_DIGITS or (fraction is not None and len(fraction) > 2):
        return None
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    return _currency(lang.code, code, int(digits), cents)


def _scaled_money(lang: _Lang, code: str, integer: str, fraction: str | None, scale: str) -> str | None:
    amount = _number_words(lang.code, None, integer, fraction)
    names = _english_currency_names(code)
    return None if amount is None or names is None else f"{amount} {scale} {names[1]}"


def _english_currency_names(code: str) -> tuple[str, str] | None:
    forms = getattr(CONVERTER_CLASSES["en"], "CURRENCY_FORMS", {}).get(code)
    return (forms[0][0], forms[0][-1]) if forms else _EXTRA_ENGLISH_CURRENCIES.get(code)


@lru_cache(maxsize=4096)
def _currency(code: str, currency: str, whole: int, cents: int) -> str | None:
    value = Decimal(f"{whole}.{cents:02d}")
    if whole and cents:
        # English num2words joins with a comma ("three dollars, fifty cents"); "and" reads better.
        options = {"separator": " and"} if code.startswith("en") else {}
        return _words(code, value, to="currency", currency=currency, **options)
    phrase = _words(code, value, to="currency", currency=currency, separator=_SPLIT)
    if phrase is None:
        return _extra_currency(code, currency, whole, cents)
    if _SPLIT not in phrase:
        return phrase  # the converter already leaves out the zero part (Portuguese)
    dollars, cent_part = phrase.split(_SPLIT, 1)
    return (dollars if whole or not cents else cent_part).strip()


def _extra_currency(code: str, currency: str, whole: int, cents: int) -> str | None:
    names = _EXTRA_ENGLISH_CURRENCIES.get(currency) if code.startswith("en") else None
    amount = _cardinal(code, whole)
    if names is None or amount is None or cents:
        return None
    return f"{amount} {names[0] if whole == 1 else names[1]}"


# --- English: e-mail addresses and phone numbers ----------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_EMAIL_MARKS = {"@": " at ", ".": " dot "}


def _email_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    return [
        (match.start() + offset, match.start() + offset + 1, _EMAIL_MARKS[char])
        for offset, char in enumerate(match[0])
        if char in _EMAIL_MARKS
    ]


_PHONE = re.compile(
    r"(?<![\w+)])(?:"
    r"\+[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\)[ .-]?[0-9]{1,6}|[ .-][0-9]{1,6})(?:[ .-][0-9]{1,6}){1,4}"
    r"|\([0-9]{3}\) ?[0-9]{3}[ .-][0-9]{4}"
    r"|[0-9]{3}-[0-9]{3}-[0-9]{4}"
    r"|[0-9]{3}\.[0-9]{3}\.[0-9]{4}"
    r")(?![\w]|[.-][0-9])"
)
_PHONE_TOKEN = re.compile(r"\+|[0-9]+")
_MIN_PHONE_DIGITS = 7


def _phone_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    """Digits one by one, with a comma between the written groups; brackets and dashes go."""
    if len(_digits(match[0])) < _MIN_PHONE_DIGITS:
        return []
    edits: list[_Edit] = []
    position = match.start()
    for token in _PHONE_TOKEN.finditer(match.string, match.start(), match.end()):
        if token.start() > position:
            edits.append((position, token.start(), ", " if edits else ""))
        # The pattern puts digits right after "+".
        spoken = "plus " if token[0] == "+" else _spell(lang.code, token[0])
        if spoken is None:
            return []
        edits.append((token.start(), token.end(), spoken))
        position = token.end()
    return edits


# --- English: dates, years and clock times ----------------------------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_BY_NAME = (
    {name: name for name in _MONTHS} | {name[:3]: name for name in _MONTHS} | {"Sept": "September"}
)
_MONTH = r"\b(?P<month>" + "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True)) + r")\b(?P<dot>\.)?"
_DAY = r"(?P<day>[0-9]{1,2})(?P<suffix>st|nd|rd|th)?(?![\w]|[.,:/][0-9])"
_YEAR_AFTER = r"(?:,?\s+(?P<year>[0-9]{4})(?![\w]|[.,:/][0-9]))?"

_MONTH_DAY = re.compile(rf"{_MONTH}\s+(?:{_DAY}{_YEAR_AFTER}|(?P<alone>[0-9]{{4}})(?![\w]|[.,:/][0-9]))")
_DAY_MONTH = re.compile(rf"(?<![\w.,]){_DAY}\s+(?P<of>of\s+)?{_MONTH}{_YEAR_AFTER}")
_THE_BEFORE = re.compile(r"\b(?i:the)\s+$")
_ISO_DATE = re.compile(
    r"(?<![\w.-])(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])(?:-(?P<day>0[1-9]|[12][0-9]|3[01]))?"
    r"(?![0-9]|-[0-9])"
)
_SLASH_DATE = re.compile(
    r"(?<![\w/.])(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})/(?P<year>[0-9]{4})(?![\w/]|\.[0-9])"
)


def _month_edit(match: re.Match[str]) -> list[_Edit]:
    """An abbreviated month ("Jan.", "Sept") is said in full."""
    name = _MONTH_BY_NAME[match["month"]]
    end = match.end("month") + len(match["dot"] or "")
    return [] if match["month"] == name and not match["dot"] else [(match.start("month"), end, name)]


def _year_edit(match: re.Match[str], group: str, lang: _Lang) -> list[_Edit]:
    words = _year(lang.code, int(match[group])) if match[group] else None
    return [] if words is None else [(match.start(group), match.end(group), words)]


def _day_words(lang: _Lang, day: str) -> str | None:
    return _ordinal(lang.code, int(day)) if 1 <= int(day) <= 31 else None


def _day_end(match: re.Match[str]) -> int:
    return match.end("suffix") if match["suffix"] else match.end("day")


def _month_day_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    if match["alone"]:
        return _month_edit(match) + _year_edit(match, "alone", lang)
    day = _day_words(lang, match["day"])
    if day is None:
        return []
    return [*_month_edit(match), (match.start("day"), _day_end(match), day), *_year_edit(match, "year", lang)]


def _day_month_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    """ "3 March" -> "the third of March"; a written "the" or "of" is not doubled."""
    day = _day_words(lang, match["day"])
    if day is None:
        return []
    the = "" if _THE_BEFORE.search(match.string, max(0, match.start() - 8), match.start()) else "the "
    spoken = f"{the}{day}" if match["of"] else f"{the}{day} of"
    return [
        (match.start("day"), _day_end(match), spoken),
        *_month_edit(match),
        *_year_edit(match, "year", lang),
    ]


def _spoken_date(lang: _Lang, year: str, month: int, day: int | None) -> str | None:
    year_words = _year(lang.code, int(year))
    day_words = "" if day is None else _ordinal(lang.code, day)
    if day_words is None or year_words is None:
        return None
    return (
        f"{_MONTHS[month - 1]} {day_words}, {year_words}"
        if day_words
        else f"{_MONTHS[month - 1]} {year_words}"
    )


def _iso_date_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    """ "2024-03-03" -> "March third, twenty twenty-four"; "2024-03" -> "March twenty twenty-four"."""
    day = int(match["day"]) if match["day"] else None
    return _whole(match, _spoken_date(lang, match["year"], int(match["month"]), day))


def _slash_date_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    # US order, month first, unless the first number cannot be a month.
    month, day = int(match["first"]), int(match["second"])
    if month > 12:
        month, day = day, month
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return []
    return _whole(match, _spoken_date(lang, match["year"], month, day))


_YEAR_AFTER_WORD = re.compile(
    r"\b(?i:in|since|by|from|until|till|before|after|during|circa|year)\s+"
    r"(?P<year>1[1-9][0-9]{2}|20[0-9]{2})(?![\w]|[.,:/][0-9])"
)
_ERA = re.compile(r"(?<![\w.,])(?P<year>[0-9]{1,4})\s?(?P<era>BCE|BC|CE|AD)\b")
_ERA_BEFORE = re.compile(r"\b(?P<era>AD)\s(?P<year>[0-9]{1,4})(?![\w]|[.,:/][0-9])")


def _year_after_word_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    return _year_edit(match, "year", lang)


def _era_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    """ "500 BC" -> "five hundred B C", "AD 1066" -> "A D ten sixty-six"."""
    words, era = _year(lang.code, int(match["year"])), " ".join(match["era"])
    if words is None:
        return []
    return _whole(match, f"{era} {words}" if match.start("era") < match.start("year") else f"{words} {era}")


_DECADE = re.compile(r"(?P<apostrophe>['’])?(?<![\w.,])(?P<decade>(?:1[1-9]|20)[0-9]0|[1-9]0)s\b")
# Words that make a bare "90s" a decade rather than ninety seconds.
_DECADE_CONTEXT = re.compile(r"\b(?i:the|their|his|her|its|my|your|our|early|mid|late)[\s-]$")


def _decade_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    decade = match["decade"]
    context = _DECADE_CONTEXT.search(match.string, max(0, match.start() - 8), match.start())
    if len(decade) == 2 and not (match["apostrophe"] or context):
        return []
    words = _year(lang.code, int(decade)) if len(decade) == 4 else _cardinal(lang.code, int(decade))
    if words is None:
        return []
    return _whole(match, words[:-1] + "ies" if words.endswith("y") else words + "s")


_CLOCK = re.compile(
    r"(?<![\w:.])(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])(?::(?P<second>[0-5][0-9]))?"
    r"(?![0-9]|[:.,][0-9])(?:\s?(?P<meridiem>[aApP](?:\.\s?[mM]\.?|[mM]))(?!\w))?"
)
_HOUR = re.compile(r"(?<![\w:.])(?P<hour>1[0-2]|0?[1-9])\s?(?P<meridiem>[aApP](?:\.\s?[mM]\.?|[mM]))(?!\w)")


def _clock_words(lang: _Lang, hour: int, minute: int, meridiem: bool) -> str | None:
    hour_words, minute_words = _cardinal(lang.code, hour), _cardinal(lang.code, minute)
    if hour_words is None or minute_words is None:
        return None
    if minute == 0:
        if meridiem:
            return hour_words
        return f"{hour_words} o'clock" if 1 <= hour <= 12 else f"{hour_words} hundred"
    return f"{hour_words} oh {minute_words}" if minute < 10 else f"{hour_words} {minute_words}"


def _seconds_words(lang: _Lang, seconds: str | None) -> str | None:
    if not seconds:
        return ""
    count = int(seconds)
    words = _cardinal(lang.code, count)
    return None if words is None else f" and {words} {'second' if count == 1 else 'seconds'}"


def _time_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    groups = match.groupdict()
    meridiem = groups["meridiem"]
    words = _clock_words(lang, int(match["hour"]), int(groups.get("minute") or 0), meridiem is not None)
    seconds = _seconds_words(lang, groups.get("second"))
    if words is None or seconds is None:
        return []
    words += seconds
    if meridiem is None:
        return [(match.start(), match.end(), words)]
    words += f" {meridiem[0].lower()} m"
    keep_period = meridiem.endswith(".") and _ends_sentence(match.string, match.end())
    return [(match.start(), match.end() - keep_period, words)]


# --- English: abbreviations and symbols -------------------------------------------------------------

_TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Prof": "Professor", "Mt": "Mount"}
_TITLE = re.compile(r"\b(?P<abbr>Mrs|Mr|Ms|Dr|Prof|Mt)(?:\.|(?=\s+[A-Z]))")
_WORDS = {"vs": "versus", "etc": "et cetera", "approx": "approximately", "Jr": "Junior", "Sr": "Senior"}
_WORD = re.compile(r"\b(?P<abbr>[Vv]s|[Ee]tc|[Aa]pprox|Jr|Sr)\b(?P<dot>\.)?")
# Abbreviations that can close a sentence: their period stays when it does.
_SENTENCE_CLOSERS = frozenset({"etc", "jr", "sr"})
_LATIN = re.compile(r"\b(?P<abbr>[eE]\.\s?g|[iI]\.\s?e)\.")
_NUMBER_SIGN = re.compile(r"(?:\b[Nn]o\.|#)(?=\s?[0-9])")
_SAINT = re.compile(r"\bSt\b(?P<dot>\.)?")
# A capitalised word or a numbered street ("5th") just before "St."/"Dr." makes it a street name.
_NAME_BEFORE = re.compile(r"(?:\b[A-Z][a-z]*|[0-9]+(?:st|nd|rd|th))\s+$")
_NOT_NAMES = frozenset({"The", "A", "An", "In", "On", "At", "To", "Of", "From", "And", "By", "For", "Near"})
_CAPITAL_AFTER = re.compile(r"\s+[A-Z]")


def _name_before(text: str, position: int) -> bool:
    found = _NAME_BEFORE.search(text, max(0, position - 32), position)
    return found is not None and found[0].split()[0] not in _NOT_NAMES


def _place_edit(match: re.Match[str], place: str) -> list[_Edit]:
    """Street, Drive: the abbreviation's period stays when it also ends the sentence."""
    keep_period = match[0].endswith(".") and _ends_sentence(match.string, match.end())
    return [(match.start(), match.end() - keep_period, place)]


def _title_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    if match["abbr"] == "Dr" and _is_drive(match):
        return _place_edit(match, "Drive")
    return _whole(match, _TITLES[match["abbr"]])


def _is_drive(match: re.Match[str]) -> bool:
    """ "Mulholland Dr." but not "Hello Dr. Smith": a name before and no name after."""
    text = match.string
    return _name_before(text, match.start()) and not _CAPITAL_AFTER.match(text, match.end())


def _saint_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    text = match.string
    if _name_before(text, match.start()) or not _CAPITAL_AFTER.match(text, match.end()):
        return _place_edit(match, "Street")
    return _whole(match, "Saint")


def _word_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    abbr = match["abbr"]
    words = _match_case(abbr, _WORDS.get(abbr) or _WORDS[abbr.lower()])
    closes = abbr.lower() in _SENTENCE_CLOSERS and match["dot"] is not None
    keep_period = closes and _ends_sentence(match.string, match.end())
    return [(match.start(), match.end() - keep_period, words)]


def _latin_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    words = "for example" if match["abbr"][0] in "eE" else "that is"
    return _whole(match, _match_case(match["abbr"], words))


def _number_sign_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    words = _match_case(match[0], "number")
    return _whole(match, words if match.string[match.end()].isspace() else words + " ")


_SYMBOL = re.compile(r"&(?![#\w]++;)|(?<![+\w])\+(?=[0-9])|(?<=[0-9\s])[+=](?=[\s0-9])")
_SYMBOL_WORDS = {"&": "and", "+": "plus", "=": "equals"}


def _symbol_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    text, start, end = match.string, match.start(), match.end()
    before = " " if start > 0 and not text[start - 1].isspace() else ""
    after = " " if end < len(text) and not text[end].isspace() else ""
    return _whole(match, f"{before}{_SYMBOL_WORDS[match[0]]}{after}")


# --- English: units, ranges, dotted numbers ---------------------------------------------------------

_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"),
    "mph": ("mile per hour", "miles per hour"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "Hz": ("hertz", "hertz"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "kB": ("kilobyte", "kilobytes"),
    "KB": ("kilobyte", "kilobytes"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "ms": ("millisecond", "milliseconds"),
    "min": ("minute", "minutes"),
    "m": ("meter", "meters"),
    "g": ("gram", "grams"),
    "s": ("second", "seconds"),
    "h": ("hour", "hours"),
}
_UNIT = re.compile(
    _number("comma") + r"\s?(?P<unit>" + "|".join(re.escape(unit) for unit in _UNITS) + r")(?![\w/])"
)


def _unit_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    words = _number_words(lang.code, match["sign"], match["int"], match["frac"])
    singular, plural = _UNITS[match["unit"]]
    unit = singular if _is_one(match["int"], match["frac"]) else plural
    return _whole(match, None if words is None else f"{words} {unit}")


_RANGE = re.compile(
    r"(?<![\w.,:/-])(?P<low>[0-9]{1,4})(?P<dash>\s?–\s?|-)(?P<high>[1-9][0-9]{0,3})(?![\w]|[.,:/-][0-9])"
)


def _is_year(digits: str) -> bool:
    return len(digits) == 4 and 1100 <= int(digits) <= 2099


def _range_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    """The dash reads "to"; the numbers are left to the next rules unless both are years."""
    dash: list[_Edit] = [(match.start("dash"), match.end("dash"), " to ")]
    if not (_is_year(match["low"]) and _is_year(match["high"])):
        return dash
    return _year_edit(match, "low", lang) + dash + _year_edit(match, "high", lang)


_DOTTED = re.compile(r"(?<![0-9.,])[0-9]++(?:\.[0-9]++){2,}+(?![\w]|\.[0-9])")
_DOTTED_PART = re.compile(r"[0-9]+|\.")


def _dotted_edit(match: re.Match[str], lang: _Lang) -> list[_Edit]:
    """Versions and addresses, "1.2.3" and "192.168.0.1": each number, joined by "dot"."""
    edits: list[_Edit] = []
    for part in _DOTTED_PART.finditer(match.string, match.start(), match.end()):
        words = " dot " if part[0] == "." else _integer_words(lang.code, part[0])
        if words is None:
            return []
        edits.append((part.start(), part.end(), words))
    if _letter_at(match.string, match.start() - 1, lang):  # "v1.2.3"
        start, end, words = edits[0]
        edits[0] = (start, end, f" {words}")
    return edits


# --- Pipelines --------------------------------------------------------------------------------------


def _common_rules(lang: _Lang) -> list[_Rule]:
    rules = [_Rule(_MONEY_BEFORE[lang.style], _money_edit), _Rule(_MONEY_AFTER[lang.style], _money_edit)]
    if lang.base in _ORDINALS:
        rules.append(_Rule(_ORDINALS[lang.base], _ordinal_edit))
    if lang.base in _PERCENT_WORDS:
        rules.append(_Rule(_PERCENTS[lang.style], _percent_edit))
    return rules


# The order matters: structured forms (addresses, phone numbers, dates, times, money) claim their digits
# before the general number rule reads whatever digits are left.
_ENGLISH_FIRST = (
    _Rule(_EMAIL, _email_edit),
    _Rule(_PHONE, _phone_edit),
    _Rule(_ISO_DATE, _iso_date_edit),
    _Rule(_SLASH_DATE, _slash_date_edit),
    _Rule(_MONTH_DAY, _month_day_edit),
    _Rule(_DAY_MONTH, _day_month_edit),
    _Rule(_CLOCK, _time_edit),
    _Rule(_HOUR, _time_edit),
    _Rule(_TITLE, _title_edit),
    _Rule(_SAINT, _saint_edit),
    _Rule(_WORD, _word_edit),
    _Rule(_LATIN, _latin_edit),
    _Rule(_NUMBER_SIGN, _number_sign_edit),
    _Rule(_SYMBOL, _symbol_edit),
    _Rule(_RANGE, _range_edit),
    _Rule(_ERA, _era_edit),
    _Rule(_ERA_BEFORE, _era_edit),
    _Rule(_DECADE, _decade_edit),
)
_ENGLISH_LAST = (
    _Rule(_UNIT, _unit_edit),
    _Rule(_YEAR_AFTER_WORD, _year_after_word_edit),
    _Rule(_DOTTED, _dotted_edit),
)


@cache
def _pipeline(lang: _Lang) -> tuple[_Rule, ...]:
    english = lang.base == "en"
    first = _ENGLISH_FIRST if english else ()
    last = _ENGLISH_LAST if english else ()
    numbers = _NUMBERS_BUT_ORDINALS if lang.base in _PERIOD_ORDINALS else _NUMBERS
    return (*first, *_common_rules(lang), *last, _Rule(numbers[lang.style], _number_edit))
