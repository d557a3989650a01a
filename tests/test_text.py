"""Tests for minispeech.text: normalize, number words, symbol tables.

Expected strings are written by hand (no num2words reference is available offline).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.text import (
    CHARACTERS,
    PHONEMES,
    SymbolTable,
    characters,
    normalize,
    number_to_words,
    ordinal_to_words,
    phonemes,
    year_to_words,
)

OUTPUT_PATTERN = re.compile(r"^[a-z' ,.?!]*$")

CASES = [
    # cardinals
    ("0", "zero"),
    ("7", "seven"),
    ("13", "thirteen"),
    ("21", "twenty one"),
    ("40", "forty"),
    ("99", "ninety nine"),
    ("100", "one hundred"),
    ("101", "one hundred one"),
    ("110", "one hundred ten"),
    ("999", "nine hundred ninety nine"),
    ("1,000", "one thousand"),
    ("1,234", "one thousand two hundred thirty four"),
    ("10,001", "ten thousand one"),
    ("2,500,000", "two million five hundred thousand"),
    ("1000000000", "one billion"),
    ("3,000,000,007", "three billion seven"),
    ("-5", "minus five"),
    ("It is -12 outside.", "it is minus twelve outside."),
    ("007", "zero zero seven"),
    ("I have 3 cats and 12 dogs.", "i have three cats and twelve dogs."),
    ("1999 apples", "one thousand nine hundred ninety nine apples"),
    ("10km", "ten km"),
    # ordinals
    ("1st", "first"),
    ("2nd", "second"),
    ("3rd", "third"),
    ("4th", "fourth"),
    ("11th", "eleventh"),
    ("12th", "twelfth"),
    ("22nd", "twenty second"),
    ("103rd", "one hundred third"),
    ("100th", "one hundredth"),
    ("She came 21st.", "she came twenty first."),
    ("the 1,000,000th visitor", "the one millionth visitor"),
    # years
    ("in 1999", "in nineteen ninety nine"),
    ("In 2005 we met.", "in two thousand five we met."),
    ("since 2010", "since twenty ten"),
    ("by 2099", "by twenty ninety nine"),
    ("in 1900", "in nineteen hundred"),
    ("in 1905", "in nineteen oh five"),
    ("in 2000", "in two thousand"),
    ("in 1066", "in ten sixty six"),
    ("from 1990 to 2020", "from nineteen ninety to twenty twenty"),
    ("the 1980s", "the nineteen eighties"),
    ("the '60s", "the sixties"),
    ("44 BC", "forty four b c"),
    ("1990-2010", "nineteen ninety to twenty ten"),
    # ranges
    ("5-10 miles", "five to ten miles"),
    # decimals
    ("3.14", "three point one four"),
    ("0.5", "zero point five"),
    (".75", "point seven five"),
    ("-2.5", "minus two point five"),
    ("1,234.56", "one thousand two hundred thirty four point five six"),
    ("version 2.0.1", "version two point zero point one"),
    # money
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$5.50", "five dollars and fifty cents"),
    ("$0.99", "ninety nine cents"),
    ("$1.01", "one dollar and one cent"),
    ("$1,000,000", "one million dollars"),
    ("$2.5 million", "two point five million dollars"),
    ("$3bn", "three billion dollars"),
    ("£3", "three pounds"),
    ("£1.50", "one pound and fifty pence"),
    ("€20", "twenty euros"),
    ("€1", "one euro"),
    ("5 cents", "five cents"),
    ("It cost $12.", "it cost twelve dollars."),
    # percentages
    ("50%", "fifty percent"),
    ("12.5%", "twelve point five percent"),
    ("100 %", "one hundred percent"),
    ("-3%", "minus three percent"),
    # times
    ("3:30", "three thirty"),
    ("10:05 pm", "ten oh five p m"),
    ("7 a.m.", "seven a m."),
    ("at 7 a.m. on Monday", "at seven a m on monday"),
    ("3:00", "three o'clock"),
    ("12:45 PM", "twelve forty five p m"),
    ("14:00", "fourteen hundred"),
    ("23:59", "twenty three fifty nine"),
    ("9am", "nine a m"),
    # dates
    ("Jan. 5, 2020", "january fifth, twenty twenty"),
    ("March 3rd", "march third"),
    ("5 January 2020", "the fifth of january twenty twenty"),
    ("2020-01-05", "january fifth twenty twenty"),
    ("1/5/2020", "january fifth twenty twenty"),
    ("12/31/1999", "december thirty first nineteen ninety nine"),
    ("on the 4th of July", "on the fourth of july"),
    ("December 25, 1999", "december twenty fifth, nineteen ninety nine"),
    ("Sept. 11", "september eleventh"),
    ("in May 2021", "in may twenty twenty one"),
    # abbreviations
    ("Dr. Smith", "doctor smith"),
    ("Mr. and Mrs. Jones", "mister and missus jones"),
    ("Ms. Lee", "miz lee"),
    ("St. Louis", "saint louis"),
    ("We live on Baker St.", "we live on baker street."),
    ("Martin Luther King Jr.", "martin luther king junior."),
    ("cats vs. dogs", "cats versus dogs"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("i.e. never", "that is never"),
    ("No. 5", "number five"),
    ("No. I won't.", "no. i won't."),
    # fractions
    ("3/4", "three quarters"),
    ("1/2", "one half"),
    ("2/3", "two thirds"),
    ("5/8", "five eighths"),
    ("1 1/2 cups", "one and one half cups"),
    # symbols
    ("Tom & Jerry", "tom and jerry"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("7 - 2", "seven minus two"),
    ("#1 fan", "number one fan"),
    ("me@home", "me at home"),
    ("30°C", "thirty degrees c"),
    # unicode, punctuation, whitespace
    ("Café", "cafe"),
    ("naïve façade", "naive facade"),
    ("Straße", "strasse"),
    ("Hello,   world!", "hello, world!"),
    ("\u201cQuoted\u201d text", "quoted text"),
    ("It\u2019s fine", "it's fine"),
    ("well-known", "well known"),
    ("Wait \u2014 what?", "wait, what?"),
    ("Really?!", "really?"),
    ("Don't stop.", "don't stop."),
    ("(aside) text", "aside, text"),
    ("NASA", "nasa"),
    ("COVID-19", "covid nineteen"),
    # everything at once
    (
        "Dr. Smith paid $5.50 on Jan. 5, 2020 at 3:30 p.m.",
        "doctor smith paid five dollars and fifty cents on january fifth, twenty twenty at three thirty p m.",
    ),
]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_normalize_table(written, spoken):
    assert normalize(written) == spoken


def test_table_is_large_and_outputs_are_in_the_alphabet():
    assert len(CASES) >= 70
    assert all(OUTPUT_PATTERN.match(spoken) for _, spoken in CASES)
    assert set("".join(spoken for _, spoken in CASES)) <= set(CHARACTERS)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_raises(text):
    with pytest.raises(ValueError, match="empty"):
        normalize(text)


@pytest.mark.parametrize("text", ["!!!", "...", "- -", "\U0001f600"])
def test_nothing_speakable_raises(text):
    with pytest.raises(ValueError, match="nothing speakable"):
        normalize(text, strict=False)


def test_strict_names_unspeakable_characters_and_positions():
    with pytest.raises(ValueError) as error:
        normalize("hello \U0001f600 world \u4e2d")
    message = str(error.value)
    assert "U+1F600" in message and "position 6" in message
    assert "U+4E2D" in message and "position 14" in message
    assert "strict=False" in message


def test_non_strict_drops_unspeakable_characters():
    assert normalize("hello \U0001f600 world\u4e2d!", strict=False) == "hello world!"


def test_non_string_raises_type_error():
    with pytest.raises(TypeError):
        normalize(12)


# ----------------------------------------------------------------------------- number words


def words_to_number(words: str) -> int:
    """An independent reader of number_to_words output, used as the brute-force inverse."""
    small = {word: value for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split())}
    small |= {word: 10 * tens for tens, word in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if tens >= 2}
    scales = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
    total, current = 0, 0
    for word in words.split():
        if word in small:
            current += small[word]
        elif word == "hundred":
            current *= 100
        else:
            total, current = total + current * scales[word], 0
    return total + current


@given(st.integers(0, 10**12))
@settings(max_examples=300, deadline=None)
def test_number_to_words_alphabet_and_inverse(n):
    words = number_to_words(n)
    assert re.fullmatch(r"[a-z]+( [a-z]+)*", words)
    assert words_to_number(words) == n


@given(st.lists(st.integers(0, 10**12), min_size=2, max_size=60, unique=True))
@settings(max_examples=50, deadline=None)
def test_number_to_words_is_injective(numbers):
    assert len({number_to_words(n) for n in numbers}) == len(numbers)


def test_number_to_words_small_exhaustive_and_limits():
    assert [number_to_words(n) for n in (0, 15, 20, 58, 300, 1001, 1010, 10**12)] == [
        "zero", "fifteen", "twenty", "fifty eight", "three hundred", "one thousand one",
        "one thousand ten", "one trillion",
    ]
    assert number_to_words(-21) == "minus twenty one"
    assert len({number_to_words(n) for n in range(20000)}) == 20000
    with pytest.raises(ValueError, match="10\\*\\*15|<="):
        number_to_words(10**15)
    with pytest.raises(TypeError):
        number_to_words(2.0)


_ORDINAL_TO_CARDINAL = {"first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
                        "ninth": "nine", "twelfth": "twelve"}


@given(st.integers(0, 10**12))
@settings(max_examples=200, deadline=None)
def test_ordinal_to_words_matches_cardinal(n):
    *head, last = ordinal_to_words(n).split()
    if last in _ORDINAL_TO_CARDINAL:
        last = _ORDINAL_TO_CARDINAL[last]
    elif last.endswith("ieth"):
        last = last[: -len("ieth")] + "y"
    else:
        assert last.endswith("th")
        last = last[:-2]
    assert " ".join(head + [last]) == number_to_words(n)


def test_ordinal_examples():
    assert [ordinal_to_words(n) for n in (0, 1, 2, 3, 9, 20, 21, 40, 101, 1000)] == [
        "zeroth", "first", "second", "third", "ninth", "twentieth", "twenty first", "fortieth",
        "one hundred first", "one thousandth",
    ]
    with pytest.raises(ValueError):
        ordinal_to_words(-1)


def test_year_to_words_conventions_and_injective():
    assert year_to_words(1999) == "nineteen ninety nine"
    assert year_to_words(2005) == "two thousand five"
    assert year_to_words(2010) == "twenty ten"
    assert year_to_words(1900) == "nineteen hundred"
    assert year_to_words(1905) == "nineteen oh five"
    assert year_to_words(2000) == "two thousand"
    assert year_to_words(476) == "four hundred seventy six"
    every_year = [year_to_words(n) for n in range(1, 10000)]
    assert len(set(every_year)) == len(every_year)
    assert all(re.fullmatch(r"[a-z ]+", words) for words in every_year)
    for bad in (0, 10000, -5):
        with pytest.raises(ValueError):
            year_to_words(bad)


# ----------------------------------------------------------------------------- normalize properties

_PIECES = list("abcXYZ 0123456789.,;:?!'\"-$%£€&+=#/()é") + ["Dr. ", "St.", " a.m.", "Jan. ", "th", "s ", "BC"]
_WRITTEN = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=40).map("".join)


def _normalize_or_none(text: str, strict: bool = True) -> str | None:
    try:
        return normalize(text, strict=strict)
    except ValueError as error:
        assert "nothing speakable" in str(error) or "empty" in str(error)
        return None


@given(_WRITTEN)
@settings(max_examples=300, deadline=None)
def test_normalize_output_alphabet_and_idempotence(text):
    spoken = _normalize_or_none(text)
    if spoken is not None:
        assert OUTPUT_PATTERN.match(spoken), spoken
        assert spoken == spoken.strip() and "  " not in spoken
        assert normalize(spoken) == spoken
        characters().encode(spoken)


@given(st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_normalize_any_unicode_non_strict(text):
    spoken = _normalize_or_none(text, strict=False)
    if spoken is not None:
        assert OUTPUT_PATTERN.match(spoken), spoken


# ----------------------------------------------------------------------------- symbol tables


def test_character_table_layout():
    table = characters()
    assert (table.pad_id, table.bos_id, table.eos_id, table.blank_id) == (0, 1, 2, 0)
    assert table.symbols[:3] == ("<pad>", "<bos>", "<eos>")
    assert table.symbols[3:] == tuple(CHARACTERS)
    assert len(table) == len(CHARACTERS) + 3
    assert table.id(" ") == 3 and table.id("a") == 4 and table.id("<eos>") == 2
    assert table.encode("ab a") == [4, 5, 3, 4]
    assert table.encode("a", add_bos_eos=True) == [1, 4, 2]
    assert table is characters()  # cached


def test_encode_unknown_character_error():
    with pytest.raises(ValueError) as error:
        characters().encode("hello World")
    message = str(error.value)
    assert "'W'" in message and "position 6" in message and "hello World" in message
    assert "normalize" in message


def test_decode_skips_or_keeps_specials_and_checks_range():
    table = characters()
    ids = [1, 4, 0, 5, 2]
    assert table.decode(ids) == "ab"
    assert table.decode(ids, keep_special=True) == "<bos>a<pad>b<eos>"
    assert table.decode(np.array(ids)) == "ab"
    with pytest.raises(ValueError, match="outside"):
        table.decode([len(table)])
    with pytest.raises(ValueError, match="outside"):
        table.decode([-1])


def test_symbol_table_rejects_bad_symbols():
    with pytest.raises(ValueError, match="more than once"):
        SymbolTable("aba")
    with pytest.raises(ValueError, match="one character"):
        SymbolTable(["a", "ch"])
    with pytest.raises(ValueError, match="not a symbol"):
        SymbolTable("ab").id("c")
    assert SymbolTable("ab") == SymbolTable(["a", "b"]) and SymbolTable("ab") != SymbolTable("ba")


@given(st.text(alphabet=st.sampled_from(CHARACTERS), max_size=50), st.booleans())
def test_character_round_trip(text, add_bos_eos):
    table = characters()
    ids = table.encode(text, add_bos_eos=add_bos_eos)
    assert len(ids) == len(text) + 2 * add_bos_eos
    assert all(3 <= i < len(table) for i in ids[add_bos_eos: len(ids) - add_bos_eos])
    assert table.decode(ids) == text


@given(st.text(alphabet=st.sampled_from(PHONEMES), max_size=50))
def test_phoneme_round_trip(text):
    assert phonemes().decode(phonemes().encode(text)) == text


def test_phoneme_inventory_is_distinct_single_characters():
    assert len(set(PHONEMES)) == len(PHONEMES)
    assert {"ˈ", "ˌ", "ː", " ", "ə", "ɪ", "ʊ", "ɹ", "θ", "ð", "ʃ", "ʒ", "ŋ", "ɡ", "æ", "ɚ"} <= set(PHONEMES)
    assert len(phonemes()) == len(PHONEMES) + 3


ENGLISH_VOICES = ("en-us", "en-us-nyc", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")


def test_phoneme_inventory_covers_espeak_english():
    """eSpeak's IPA for normalized sentences, in every English voice, encodes without error."""
    espeak = pytest.importorskip("minispeech.espeak")
    from minispeech.data.sentences import generate_sentences

    text = " ".join(normalize(sentence) for sentence in generate_sentences(40, seed=3))
    for voice in ENGLISH_VOICES:
        try:
            ipa = espeak.phonemize(text, voice)
        except (OSError, espeak.EspeakError) as error:
            pytest.skip(f"eSpeak NG is not usable here: {error}")
        phonemes().encode(ipa)
