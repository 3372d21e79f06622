import random
import re
import time

import pytest

from intone.speech.text.normalize import (
    NormalizedText,
    normalize,
    normalize_in_context,
    supported_languages,
    unchanged,
)


def _check(result: NormalizedText) -> NormalizedText:
    """The map invariants every result must keep."""
    assert len(result.source) == len(result.text)
    assert all(0 <= index < len(result.original) for index in result.source)
    assert all(a <= b for a, b in zip(result.source, result.source[1:], strict=False))
    if not result.original:
        assert result.text == ""
    return result


def _n(text: str, language: str = "en") -> str:
    return _check(normalize(text, language)).text


def _mixed(length: int, seed: int) -> str:
    rng = random.Random(seed)
    pieces = [
        "alpha", "beta,", "gamma.", "Dr.", "St.", "$3.50", "€5", "March 3rd, 2024", "10:30 am", "14:00",
        "555-123-4567", "+1 (555) 123-4567", "5 km", "50%", "1,234", "-7", "3.14", "in 1999", "the 90s",
        "e.g.", "R&D", "a@b.com", "2024-03-03", "1.2.3", "épée", "мир", "世界。", "🎸", "x" * 25, "  ", "\n",
        "\x00", "\u202f", "3ª", "1er", "#4", "2+2=4", "10-20", "°C", "007", "9" * 30,
    ]  # fmt: skip
    return " ".join(rng.choice(pieces) for _ in range(length // 3))[:length]


# --- API ---------------------------------------------------------------------------------------------


def test_unchanged_is_the_identity():
    result = unchanged("Hi 42!")
    assert result == NormalizedText(original="Hi 42!", text="Hi 42!", source=(0, 1, 2, 3, 4, 5))


def test_supported_languages_are_the_num2words_ones():
    languages = supported_languages()
    assert {"en", "es", "de", "fr", "it", "pt", "nl", "pl", "ru", "pt-br", "kk", "nb"} <= languages
    assert not {"zh", "xx", "kz", "am"} & languages


def test_unknown_language_leaves_numbers_to_the_engine():
    assert normalize("It costs $5 on 3/4.", "zh") == unchanged("It costs $5 on 3/4.")


@pytest.mark.parametrize("language", ["en", "en-US", "EN", "en_GB"])
def test_language_codes_with_regions_resolve(language):
    assert _n("5 apples", language) == "five apples"


def test_region_picks_the_regional_converter():
    assert _n("1000", "pt-BR") == "mil"


# --- The example from the brief ----------------------------------------------------------------------


def test_the_example_sentence():
    original = "It cost $3.50 on March 3rd, 2024 at 10:30 am."
    result = _check(normalize(original))
    assert result.text == (
        "It cost three dollars and fifty cents on March third, twenty twenty-four at ten thirty a m."
    )
    assert not re.search(r"[0-9]", result.text)
    # Every original character is spoken by something, and untouched text maps to itself.
    assert set(result.source) == set(range(len(original)))
    assert result.source[:8] == tuple(range(8))
    assert result.text.endswith(".") and result.source[-1] == len(original) - 1


# --- English rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", "seven"),
        ("1,234", "one thousand two hundred and thirty-four"),
        ("1,234,567", "one million two hundred and thirty-four thousand five hundred and sixty-seven"),
        ("-42", "minus forty-two"),
        ("(-5)", "(minus five)"),
        ("3.14", "three point one four"),
        ("0.5", "zero point five"),
        ("2.50", "two point five zero"),
        ("007", "zero zero seven"),
        # Past fifteen digits a number is an id: read digit by digit.
        ("1111222233334444", "one one one one two two two two three three three three four four four four"),
        ("3rd", "third"),
        ("21st", "twenty-first"),
        ("2nd", "second"),
        ("11th", "eleventh"),
        ("50%", "fifty percent"),
        ("-2.5%", "minus two point five percent"),
    ],
)
def test_numbers(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$3.50", "three dollars and fifty cents"),
        ("$1", "one dollar"),
        ("$0.99", "ninety-nine cents"),
        ("$1,000,000", "one million dollars"),
        ("-$3", "minus three dollars"),
        ("€5", "five euro"),
        ("£10.99", "ten pounds sterling and ninety-nine pence"),
        ("¥100", "one hundred yen"),
        ("USD 5", "five dollars"),
        ("5 EUR", "five euro"),
        ("$5 million", "five million dollars"),
        ("$2.5bn", "two point five billion dollars"),
        ("$5M", "five million dollars"),
    ],
)
def test_currency(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 1999", "in nineteen ninety-nine"),
        ("since 2005", "since two thousand and five"),
        ("By 2030", "By twenty thirty"),
        ("2024", "two thousand and twenty-four"),
        ("1999-2005", "nineteen ninety-nine to two thousand and five"),
        ("500 BC", "five hundred B C"),
        ("AD 1066", "A D ten sixty-six"),
        ("the 1990s", "the nineteen nineties"),
        ("the '80s", "the eighties"),
        ("in the 90s", "in the nineties"),
        ("the 2000s", "the two thousands"),
        ("90s", "ninety seconds"),
    ],
)
def test_years_and_decades(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("March 3rd, 2024", "March third, twenty twenty-four"),
        ("March 3, 2024", "March third, twenty twenty-four"),
        ("on May 2024", "on May twenty twenty-four"),
        ("Jan. 5", "January fifth"),
        ("Sept 12th", "September twelfth"),
        ("3 March 2024", "the third of March twenty twenty-four"),
        ("the 3rd of May", "the third of May"),
        ("2024-03-03", "March third, twenty twenty-four"),
        ("2024-03", "March twenty twenty-four"),
        ("03/04/2024", "March fourth, twenty twenty-four"),
        ("13/04/2024", "April thirteenth, twenty twenty-four"),
    ],
)
def test_dates(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:30 am", "ten thirty a m"),
        ("10:30am", "ten thirty a m"),
        ("9:15 PM", "nine fifteen p m"),
        ("10:05", "ten oh five"),
        ("10:00", "ten o'clock"),
        ("14:00", "fourteen hundred"),
        ("14:30", "fourteen thirty"),
        ("7pm", "seven p m"),
        ("12:30:15", "twelve thirty and fifteen seconds"),
        ("at 10 a.m. Then", "at ten a m. Then"),
        ("at 10 a.m. sharp", "at ten a m sharp"),
    ],
)
def test_times(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("555-123-4567", "five five five, one two three, four five six seven"),
        ("555.123.4567", "five five five, one two three, four five six seven"),
        ("(555) 123-4567", "five five five, one two three, four five six seven"),
        ("+1 (555) 123-4567", "plus one, five five five, one two three, four five six seven"),
        ("+44 20 7946 0958", "plus four four, two zero, seven nine four six, zero nine five eight"),
    ],
)
def test_phone_numbers(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith", "Doctor Smith"),
        ("Hi Dr. Who", "Hi Doctor Who"),
        ("on Mulholland Dr.", "on Mulholland Drive."),
        ("Mr. and Mrs. Jones", "Mister and Missus Jones"),
        ("Mr Smith", "Mister Smith"),
        ("Ms. Lee", "Miz Lee"),
        ("St. Louis", "Saint Louis"),
        ("I love St. Patrick", "I love Saint Patrick"),
        ("The St. Lawrence", "The Saint Lawrence"),
        ("Main St.", "Main Street."),
        ("Main St. John lives here.", "Main Street. John lives here."),
        ("Elm St", "Elm Street"),
        ("5th St. is", "fifth Street is"),
        ("Lakers vs. Celtics", "Lakers versus Celtics"),
        ("apples, etc. Then", "apples, et cetera. Then"),
        ("apples, etc., and", "apples, et cetera, and"),
        ("e.g. this", "for example this"),
        ("E.g. this", "For example this"),
        ("i.e. that", "that is that"),
        ("approx. 5", "approximately five"),
        ("No. 5", "Number five"),
        ("#1", "number one"),
        ("John Smith Jr. said", "John Smith Junior said"),
    ],
)
def test_abbreviations(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 km", "one kilometer"),
        ("5 km", "five kilometers"),
        ("5m", "five meters"),
        ("2.5 kg", "two point five kilograms"),
        ("1 lb", "one pound"),
        ("3 lbs", "three pounds"),
        ("60 mph", "sixty miles per hour"),
        ("100 km/h", "one hundred kilometers per hour"),
        ("20°C", "twenty degrees Celsius"),
        ("1°C", "one degree Celsius"),
        ("-3 °F", "minus three degrees Fahrenheit"),
        ("1 h", "one hour"),
        ("30 min", "thirty minutes"),
        ("200 ms", "two hundred milliseconds"),
        ("10 s", "ten seconds"),
        ("5 GB", "five gigabytes"),
        ("2.4 GHz", "two point four gigahertz"),
        ("440 Hz", "four hundred and forty hertz"),
        ("10-20 km", "ten to twenty kilometers"),
    ],
)
def test_units(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R&D", "R and D"),
        ("Tom & Jerry", "Tom and Jerry"),
        ("2+2=4", "two plus two equals four"),
        ("1 + 1 = 2", "one plus one equals two"),
        ("+5", "plus five"),
        ("C++", "C++"),
        ("&amp;", "&amp;"),
        ("Mail john.doe@example.co.uk.", "Mail john dot doe at example dot co dot uk."),
        ("10-20 pages", "ten to twenty pages"),
        ("10–20", "ten to twenty"),
        ("Version 1.2.3", "Version one dot two dot three"),
        ("v1.2.3", "v one dot two dot three"),
        ("192.168.0.1", "one hundred and ninety-two dot one hundred and sixty-eight dot zero dot one"),
        ("mp3", "mp three"),
        ("5G", "five G"),
        ("COVID-19", "COVID-nineteen"),
        ("x-5", "x-five"),
    ],
)
def test_symbols_and_mixed_tokens(text, expected):
    assert _n(text) == expected


@pytest.mark.parametrize("text", ["1,5", "1/2", "24/7", "C++", "Hello, world!"])
def test_ambiguous_forms_are_left_alone(text):
    assert normalize(text) == unchanged(text)


# --- Other languages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("es", "1.234 personas", "mil doscientos treinta y cuatro personas"),
        ("es", "2,5", "dos punto cinco"),
        ("es", "50 %", "cincuenta por ciento"),
        ("es", "3,50 €", "tres euros con cincuenta céntimos"),
        ("es", "el 1º y la 2ª", "el primero y la segunda"),
        ("es", "-3", "menos tres"),
        ("de", "1.000.000 Euro", "eine Million Euro"),
        ("de", "2,75 €", "zwei Euro und fünfundsiebzig Cent"),
        ("de", "0,5 %", "null Komma fünf Prozent"),
        ("de", "-7 Grad", "minus sieben Grad"),
        ("de", "Am 3. Mai", "Am 3. Mai"),
        ("fr", "1 234,5", "mille deux cent trente-quatre virgule cinq"),
        ("fr", "12,5\u00a0%", "douze virgule cinq pour cent"),
        ("fr", "3,50 €", "trois euros et cinquante centimes"),
        ("fr", "le 1er et la 1re, le 21e", "le premier et la première, le vingt et unième"),
        ("it", "2,5%", "due virgola cinque per cento"),
        ("it", "10 €", "dieci euro"),
        ("it", "la 3ª", "la terza"),
        ("pt", "3,50 €", "três euros e cinquenta cêntimos"),
        ("pt", "o 1º", "o primeiro"),
        ("pt", "50%", "cinquenta por cento"),
        ("nl", "de 3e", "de derde"),
        ("nl", "2,5%", "twee komma vijf procent"),
        ("ru", "2,5", "две целых пять десятых"),
        ("ru", "1 000", "одна тысяча"),
        ("pl", "-5", "minus pięć"),
        ("ja", "3,000円", "三千円"),
    ],
)
def test_other_languages(language, text, expected):
    assert _n(text, language) == expected


def test_other_languages_leave_english_only_forms_alone():
    assert _n("10:30 Uhr", "de") == "10:30 Uhr"
    assert _n("Dr. Müller", "de") == "Dr. Müller"


# --- The character map ---------------------------------------------------------------------------------


def test_a_replaced_span_spreads_over_its_characters():
    result = _check(normalize("Dr. Smith"))
    assert result.text == "Doctor Smith"
    assert result.source == (0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8)


def test_a_shorter_replacement_stays_in_order():
    result = _check(normalize("Call (555) 123-4567 now"))
    assert result.text == "Call five five five, one two three, four five six seven now"
    assert result.source[:5] == (0, 1, 2, 3, 4)
    assert result.source[-4:] == (19, 20, 21, 22)


def test_untouched_text_maps_to_itself():
    original = "Hello мир 世界 123"
    result = _check(normalize(original))
    assert result.text == "Hello мир 世界 one hundred and twenty-three"
    prefix = len("Hello мир 世界 ")
    assert result.source[:prefix] == tuple(range(prefix))
    assert set(result.source[prefix:]) == {prefix, prefix + 1, prefix + 2}


def test_text_without_rules_is_the_identity():
    rng = random.Random(3)
    letters = "abcdefghij klmnop ,;!? éü мир 世界 🎸"
    for _ in range(200):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(0, 60)))
        assert normalize(text) == unchanged(text)


# --- Robustness ----------------------------------------------------------------------------------------

ADVERSARIAL = [
    "",
    "🎸🎸🎸👩‍👩‍👧",
    "!?.,;:-–—()[]{}\"'…",
    "Hello мир 世界 123",
    "\x00\x01\x1b[31m5\u200b\ufeff\u202e12",
    "1,234.5.6,7:8/9-10",
    "-" * 50 + "5",
    "...$$$€€€%%%",
    "St.St.St. Dr.Dr. a.m.p.m.",
    _mixed(10_000, seed=1),
    _mixed(40_000, seed=2),
    _mixed(40_000, seed=3).replace(" ", ""),
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
@pytest.mark.parametrize("language", ["en", "es", "de", "fr", "ru", "ja", "ar", "xx"])
def test_invariants_on_adversarial_input(text, language):
    _check(normalize(text, language))


def test_invariants_on_random_strings_in_every_language():
    rng = random.Random(1234)
    alphabet = [
        *"0123456789.,:/-–+−$€£¥%&=@#°' \n()aAbmMsShHkKgG",
        *(
            "St.",
            "Dr.",
            "am",
            "p.m.",
            "March ",
            "th",
            "rd",
            "in ",
            "🎸",
            "мир",
            "世界",
            "ª",
            "er",
            "USD",
            "km",
        ),
    ]
    languages = sorted(supported_languages())
    for index in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        _check(normalize(text, languages[index % len(languages)]))
        _check(normalize(text, "en"))


def test_normalized_english_mixed_text_has_no_digits_left_in_known_forms():
    text = _mixed(10_000, seed=4)
    assert not re.search(r"(?<![\w.,:/])[0-9]+(?![\w.,:/])", _n(text))


@pytest.mark.parametrize(
    "text",
    [
        _mixed(40_000, seed=5),
        _mixed(40_000, seed=6).replace(" ", ""),
        "1," * 20_000,
        "1." * 20_000,
        "$1" * 20_000,
        "a" * 39_999 + "@",
        "A-" * 20_000,
        "9" * 40_000,
    ],
    ids=["mixed", "no-spaces", "commas", "dots", "dollars", "no-at", "hyphens", "digits"],
)
def test_forty_thousand_characters_in_well_under_a_second(text):
    normalize("warm up 1", "en")
    started = time.perf_counter()
    _check(normalize(text, "en"))
    assert time.perf_counter() - started < 1.0


# --- Context (previous_text / next_text) ------------------------------------------------------------


def test_in_context_without_context_equals_normalize():
    for text in ("1984 was cold.", "It costs $3.50 at 10:30 am.", "Dr. Smith", "", "5"):
        assert normalize_in_context(text) == normalize(text)
        assert normalize_in_context(text, "en", before="", after="") == normalize(text)
    assert normalize_in_context("Es kostet 5 Euro.", "de") == normalize("Es kostet 5 Euro.", "de")


def test_previous_text_makes_a_number_a_year():
    assert normalize("1984 was cold.").text == "one thousand nine hundred and eighty-four was cold."
    result = _check(normalize_in_context("1984 was cold.", before="It all happened in"))
    assert result.original == "1984 was cold."
    assert result.text == "nineteen eighty-four was cold."
    assert result.source[:8] == (0,) * 5 + (1,) * 3  # "ninet" from "1", "een" from "9"
    assert result.source[-len(" was cold.") :] == tuple(range(4, 14))


def test_previous_text_keeps_the_texts_own_leading_space():
    result = _check(normalize_in_context(" 1984 was cold.", before="It all happened in "))
    assert result.text == " nineteen eighty-four was cold."


def test_an_expansion_straddling_the_edge_falls_back_to_the_text_alone():
    # "$" came before: the amount is not half-read as "five dol..."; the text reads as it would alone.
    result = _check(normalize_in_context("5", before="$"))
    assert result.text == "five"
    result = _check(normalize_in_context("5 please.", before="It costs $"))
    assert result.text == normalize("5 please.").text == "five please."
    # "50 %" reads as one expansion, "fifty percent"; its part for "50" would end in "p": no half word.
    assert normalize("It rose 50 %.").text == "It rose fifty percent."
    result = _check(normalize_in_context("It rose 50", after="%."))
    assert result.text == "It rose fifty"
    # A year with its era is one expansion too: the text alone, not "nineteen eight".
    result = _check(normalize_in_context("It was 1984", after="AD."))
    assert result.text == normalize("It was 1984").text


def test_next_text_decides_a_reading():
    assert normalize("Say hello to Dr").text == "Say hello to Dr"
    result = _check(normalize_in_context("Say hello to Dr", after="Smith."))
    assert result.text == "Say hello to Doctor"
    assert result.source[-len("Doctor") :] == (13, 13, 13, 14, 14, 14)
    assert normalize("We visited St.").text == "We visited Street."
    assert _check(normalize_in_context("We visited St.", after="Louis last year.")).text == "We visited Saint"


def test_context_in_a_language_without_rules_changes_nothing():
    result = normalize_in_context("1984 was cold.", "xx", before="It all happened in")
    assert result == unchanged("1984 was cold.")


@pytest.mark.parametrize(
    ("text", "before", "after"),
    [
        ("1984 was cold.", "It all happened in", ""),
        ("5", "$", ""),
        ("It rose 50", "", "%."),
        ("%.", "It rose 50", ""),
        ("Say hello to Dr", "", "Smith."),
        (" million.", "It costs $5", ""),
        ("", "before", "after"),
        ("   ", "in", "1984"),
        ("was 1999 ", "In", " and 2000"),
    ],
)
def test_in_context_the_original_is_the_text_itself(text, before, after):
    result = _check(normalize_in_context(text, before=before, after=after))
    assert result.original == text
    assert len(result.source) == len(result.text)
    assert all(0 <= index < len(text) for index in result.source)
