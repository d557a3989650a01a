"""Text normalization: written English -> the words a speaker says.

normalize         raw text -> lowercase spoken form over `CHARACTERS` (see below)
number_to_words   1234 -> "one thousand two hundred thirty four"
ordinal_to_words  22 -> "twenty second"
year_to_words     1999 -> "nineteen ninety nine"; 2005 -> "two thousand five"; 2010 -> "twenty ten"

Output alphabet (`minispeech.text.CHARACTERS`): lowercase a-z, space, the apostrophe
inside words ("don't", "o'clock"), and four pause marks , . ? ! -- nothing else.
Hyphens become spaces ("well-known" -> "well known"); : ; ( ) [ ] and dashes become
commas; quotes, * _ ~ / become spaces. Number words carry no hyphens and no "and"
("twenty one", "one hundred one"): simpler targets for ASR. Acronyms are only
lowercased ("NASA" -> "nasa"), units are not expanded ("5 kg" -> "five kg").

The passes run in this order (the order matters: dates before times before ranges,
money and percentages before decimals, ordinals and years before cardinals):

| # | pass           | written                         | spoken                                   |
|---|----------------|---------------------------------|------------------------------------------|
| 1 | unicode        | "Café – naïve"                  | "Cafe - naive" (NFKD, accents dropped)   |
| 2 | dates          | "Jan. 5, 2020", "2020-01-05"    | "january fifth, twenty twenty"           |
|   |                | "5 January 2020", "1/5/2020"    | "the fifth of january twenty twenty"     |
| 3 | times          | "10:05 pm", "7 a.m.", "3:00"    | "ten oh five p m", "seven a m", "three o'clock" |
| 4 | abbreviations  | "Dr. Mr. St. vs. etc. e.g. No. 5" | "doctor mister saint versus et cetera for example number 5" |
| 5 | ranges         | "5-10", "1990-2010"             | "five to ten", "nineteen ninety to twenty ten" |
| 6 | minus signs    | "-5", "7 - 2"                   | "minus 5", "7 minus 2"                   |
| 7 | money          | "$5.50", "£3", "€20", "$2.5 million" | "five dollars and fifty cents", "three pounds" |
| 8 | percentages    | "12.5%"                         | "twelve point five percent"              |
| 9 | symbols        | "& + = @ # < > ° ×"             | "and plus equals at number ..."          |
|10 | fractions      | "3/4", "1 1/2"                  | "three quarters", "one and one half"     |
|11 | ordinals       | "1st", "22nd", "103rd"          | "first", "twenty second", "one hundred third" |
|12 | years          | "in 1999", "the 1990s", "44 BC" | "in nineteen ninety nine", "the nineteen nineties" |
|13 | decimals       | "3.14", ".5"                    | "three point one four", "point five"     |
|14 | cardinals      | "1,234", "-7", "007"            | "one thousand two hundred thirty four", "zero zero seven" |
|15 | punctuation    | lowercase, pauses, whitespace   |                                          |

Conventions: a 4-digit number is read as a year only in a year context (after a cue word
such as "in", "since", "by", "from", "to", a month, or as "1990s", "44 BC"); elsewhere it is
a cardinal ("1999 apples"). Years 2000-2009 are "two thousand N", 2010-2099 "twenty NN".
"St." is "saint" before a capitalized word unless a capitalized word precedes it ("Baker
St." is "street"). "Dr." is always "doctor". "1/5/2020" is US month/day.

Unspeakable characters (emoji, CJK, control characters): `strict=True` raises ValueError
naming each one and its position; `strict=False` drops them.

Taught in lessons/00_setup_data_text.ipynb, section 4.
"""

from __future__ import annotations

import re
import unicodedata

from minispeech.text.symbols import CHARACTERS

# ----------------------------------------------------------------------------- number words

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
LARGEST_NUMBER = 10**15 - 1  # number_to_words reads up to "nine hundred ninety nine trillion ..."
_IRREGULAR_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    """Words for 1 <= n <= 999 (never "zero")."""
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
    if n > 0:
        words.append(_ONES[n])
    return words


def number_to_words(n: int) -> str:
    """Cardinal number in words: -21 -> "minus twenty one"; 1001 -> "one thousand one".

    No hyphens and no "and". Valid for |n| <= 10**15 - 1; larger raises ValueError.
    Taught in lessons/00_setup_data_text.ipynb, section 4 (exercise 4.1).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number_to_words: n must be an int, got {type(n).__name__} {n!r}")
    if abs(n) > LARGEST_NUMBER:
        raise ValueError(
            f"number_to_words: |n| must be <= {LARGEST_NUMBER}, got {n}; read longer digit strings digit by digit"
        )
    if n < 0:
        return "minus " + number_to_words(-n)
    if n == 0:
        return "zero"
    words = []
    for scale, name in _SCALES:
        if n >= scale:
            words += _below_thousand(n // scale) + [name]
            n %= scale
    words += _below_thousand(n) if n else []
    return " ".join(words)


def ordinal_to_words(n: int) -> str:
    """Ordinal number in words: 1 -> "first", 22 -> "twenty second", 100 -> "one hundredth"."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"ordinal_to_words: n must be a non-negative int, got {n!r}")
    *head, last = number_to_words(n).split()
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"  # twenty -> twentieth
    else:
        last += "th"
    return " ".join(head + [last])


def year_to_words(n: int) -> str:
    """A year as people say it: 1066 "ten sixty six", 1900 "nineteen hundred", 1905 "nineteen oh five",
    2000 "two thousand", 2005 "two thousand five", 2010 "twenty ten". Years below 1000 are cardinals.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9999:
        raise ValueError(f"year_to_words: n must be an int in 1..9999, got {n!r}")
    if n < 1000:
        return number_to_words(n)
    century, rest = divmod(n, 100)
    round_thousand = century % 10 == 0  # 1000-1099, 2000-2099, ...
    if rest == 0:
        return number_to_words(n) if round_thousand else number_to_words(century) + " hundred"
    if rest < 10:
        return number_to_words(n) if round_thousand else f"{number_to_words(century)} oh {_ONES[rest]}"
    return f"{number_to_words(century)} {number_to_words(rest)}"


def _digits_to_words(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _plural(words: str) -> str:
    """Pluralize the last word of a number: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith("x") else "s")


def _parse_int(text: str) -> int:
    return int(text.replace(",", ""))


def _cardinal(text: str) -> str:
    """Digits (maybe comma-grouped) -> words; leading zeros and huge numbers read digit by digit."""
    digits = text.replace(",", "")
    if (len(digits) > 1 and digits[0] == "0") or int(digits) > LARGEST_NUMBER:
        return _digits_to_words(digits)
    return number_to_words(int(digits))


def _decimal(integer_part: str, fraction_digits: str) -> str:
    """ "3", "14" -> "three point one four"; "", "5" -> "point five"."""
    head = _cardinal(integer_part) + " " if integer_part else ""
    return f"{head}point {_digits_to_words(fraction_digits)}"


# ----------------------------------------------------------------------------- 1. unicode

_CHARACTER_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
    "\u2014": " -- ", "\u2015": " -- ", "\u2044": "/",
    "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE",
    "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u0111": "d", "\u0110": "D",
    "\u00f0": "d", "\u00d0": "D", "\u00fe": "th", "\u00de": "Th", "\u0131": "i",
}
# Every character a pass below knows how to read; anything else is unspeakable.
_SPEAKABLE = set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    ".,?!'\"-:;()[]{}&+=@#%$\u00a3\u20ac\u00a2/*_~<>\u00d7\u00b0"
)


def _fold_character(char: str) -> str:
    """NFKD-decompose, drop combining accents, map typographic look-alikes; whitespace -> space."""
    if char.isspace():
        return " "
    folded = []
    for part in unicodedata.normalize("NFKD", char):
        if not unicodedata.combining(part):
            folded.append(_CHARACTER_MAP.get(part, part))
    return "".join(folded)


def _fold_unicode(text: str, strict: bool) -> str:
    pieces, unspeakable = [], []
    for position, char in enumerate(text):
        folded = _fold_character(char)
        if all(part in _SPEAKABLE for part in folded):
            pieces.append(folded)
        else:
            unspeakable.append(f"{char!r} (U+{ord(char):04X}) at position {position}")
            pieces.append(" ")
    if unspeakable and strict:
        raise ValueError(
            f"normalize: cannot speak {', '.join(unspeakable[:10])} in {text!r}; "
            "remove them, or call normalize(text, strict=False) to drop them"
        )
    return "".join(pieces)


# ----------------------------------------------------------------------------- 2. dates

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_ABBREVIATIONS = {name[:3]: name for name in _MONTHS if name != "May"} | {"Sept": "September"}
_MONTH = "(?P<month>" + "|".join(_MONTHS + sorted(_MONTH_ABBREVIATIONS, key=len, reverse=True)) + r")\b\.?"
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"  # plain or comma-grouped digits


def _month_name(month: str) -> str:
    return _MONTH_ABBREVIATIONS.get(month, month).lower()


def _date_words(month: int, day: int, year: str | None) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    words = f"{_MONTHS[month - 1].lower()} {ordinal_to_words(day)}"
    return words + (f" {year_to_words(int(year))}" if year and int(year) > 0 else "")


def _numeric_date(match: re.Match) -> str:
    year, month, day = match["year"], int(match["month"]), int(match["day"])
    return _date_words(month, day, year) or match[0]


def _month_day(match: re.Match) -> str:
    day = int(match["day"])
    if not 1 <= day <= 31:
        return match[0]
    words = f"{_month_name(match['month'])} {ordinal_to_words(day)}"
    if match["year"]:
        words += f"{match['comma']} {year_to_words(int(match['year']))}"
    return words


def _day_month(match: re.Match) -> str:
    day = int(match["day"])
    if not 1 <= day <= 31:
        return match[0]
    already_has_the = re.search(r"\bthe\s+$", match.string[: match.start()], re.IGNORECASE)
    words = f"{'' if already_has_the else 'the '}{ordinal_to_words(day)} of {_month_name(match['month'])}"
    if match["year"]:
        return words + f" {year_to_words(int(match['year']))}"
    return words + ("." if _ends_sentence(match) else "")  # "on 5 Jan." swallowed the full stop


def _expand_dates(text: str) -> str:
    year = r"(?P<year>\d{4})"
    text = re.sub(rf"\b{year}-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}})\b", _numeric_date, text)
    text = re.sub(rf"\b(?P<month>\d{{1,2}})/(?P<day>\d{{1,2}})/{year}\b", _numeric_date, text)
    ordinal_suffix = r"(?:st|nd|rd|th)?"
    text = re.sub(
        rf"\b{_MONTH}\s+(?P<day>\d{{1,2}}){ordinal_suffix}\b(?:(?P<comma>,?)\s+{year}\b)?", _month_day, text
    )
    text = re.sub(
        rf"\b(?P<day>\d{{1,2}}){ordinal_suffix}\s+(?:of\s+)?{_MONTH}(?:,?\s+{year}\b)?", _day_month, text
    )
    text = re.sub(
        rf"\b{_MONTH}\s+{year}\b",
        lambda m: f"{_month_name(m['month'])} {year_to_words(int(m['year']))}" if int(m["year"]) else m[0],
        text,
    )
    return text


# ----------------------------------------------------------------------------- 3. times


def _ends_sentence(match: re.Match) -> bool:
    """Did the period this match swallowed also end the sentence? (end of text, or a capital next)"""
    return match[0].endswith(".") and re.match(r"\s*$|\s+[A-Z]", match.string[match.end():]) is not None


def _time(match: re.Match) -> str:
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half_day = (match["half_day"] or "").lower()
    if minute > 59 or hour > (12 if half_day else 23):
        return match[0]
    words = number_to_words(hour)
    if minute == 0 and not half_day:
        words += " o'clock" if 1 <= hour <= 12 else " hundred"
    elif minute:
        words += f" oh {_ONES[minute]}" if minute < 10 else f" {number_to_words(minute)}"
    if half_day:
        words += f" {half_day} m" + ("." if _ends_sentence(match) else "")
    return words


def _expand_times(text: str) -> str:
    half_day = r"\s*(?P<half_day>[AaPp])\.?\s?[Mm](?![A-Za-z])\.?"
    text = re.sub(rf"\b(?P<hour>\d{{1,2}}):(?P<minute>\d{{2}})\b(?:{half_day})?", _time, text)
    return re.sub(rf"\b(?P<hour>\d{{1,2}})(?P<minute>){half_day}", _time, text)


# ----------------------------------------------------------------------------- 4. abbreviations

# (pattern, spoken, can end a sentence). Case-sensitive: "Dr" and "St" are never plain words.
_START = r"(?<![A-Za-z])"  # like \b, but also right after a digit: "33etc."
_ABBREVIATIONS = (
    (_START + r"Mrs\b\.?", "missus", False),
    (_START + r"Mr\b\.?", "mister", False),
    (_START + r"Ms\b\.?", "miz", False),
    (_START + r"Dr\b\.?", "doctor", False),
    (_START + r"Prof\.", "professor", False),
    (_START + r"Mt\.", "mount", False),
    (_START + r"Jr\b\.?", "junior", True),
    (_START + r"Sr\b\.?", "senior", True),
    (_START + r"[Vv]s\b\.?", "versus", False),
    (_START + r"[Ee]tc\.", "et cetera", True),
    (_START + r"[Ee]\.g\.", "for example", False),
    (_START + r"[Ii]\.e\.", "that is", False),
    (_START + r"[Nn]o\.(?=\s*\d)", "number", False),
    (_START + r"[Aa]pprox\.", "approximately", False),
    (_START + r"Ave\.", "avenue", True),
    (_START + r"Rd\.", "road", True),
    (_START + r"Inc\.", "incorporated", True),
    (_START + r"Ltd\.", "limited", True),
    (_START + r"Corp\.", "corporation", True),
    (_START + r"Co\.", "company", True),
    (_START + r"(?:" + "|".join(_MONTH_ABBREVIATIONS) + r")\.", None, True),  # a month on its own: "in Jan."
)


def _saint_or_street(match: re.Match) -> str:
    before, after = match.string[: match.start()], match.string[match.end():]
    if re.search(r"\b[A-Z][a-z]+\s+$", before) is None and re.match(r"\s+[A-Z]", after):
        return "saint"
    return "street" + ("." if _ends_sentence(match) else "")


def _expand_abbreviations(text: str) -> str:
    for pattern, spoken, can_end_sentence in _ABBREVIATIONS:
        def replace(match: re.Match, spoken=spoken, can_end_sentence=can_end_sentence) -> str:
            words = spoken or _month_name(match[0].rstrip("."))
            return words + ("." if can_end_sentence and _ends_sentence(match) else "")

        text = re.sub(pattern, replace, text)
    return re.sub(r"\bSt\b\.?", _saint_or_street, text)


# ----------------------------------------------------------------------------- 5-6. ranges, minus


def _range(match: re.Match) -> str:
    first, second = int(match["first"]), int(match["second"])
    if all(len(m) == 4 and 1000 <= n <= 2099 for m, n in ((match["first"], first), (match["second"], second))):
        return f"{year_to_words(first)} to {year_to_words(second)}"
    return f"{_cardinal(match['first'])} to {_cardinal(match['second'])}"


def _expand_ranges(text: str) -> str:
    return re.sub(r"(?<![\d.,-])(?P<first>\d+)-(?P<second>\d+)(?![\d-]|[.,]\d)", _range, text)


def _expand_minus_signs(text: str) -> str:
    text = re.sub(r"(?<=\d)\s+-\s+(?=\d)", " minus ", text)  # "7 - 2"
    return re.sub(r"(?<![\w.-])-(?=[$\u00a3\u20ac]?\.?\d)", "minus ", text)  # "-5", "-$3", "-.5"


# ----------------------------------------------------------------------------- 7-9. money, percent, symbols

_CURRENCIES = {  # symbol: (one unit, many units, one hundredth, many hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "\u00a3": ("pound", "pounds", "penny", "pence"),
    "\u20ac": ("euro", "euros", "cent", "cents"),
}
_SHORT_SCALES = {"k": "thousand", "m": "million", "b": "billion", "bn": "billion"}


def _money(match: re.Match) -> str:
    unit, units, hundredth, hundredths = _CURRENCIES[match["currency"]]
    integer, fraction = match["integer"], match["fraction"]
    scale = match["scale"] or _SHORT_SCALES.get((match["short"] or "").lower())
    if scale:  # "$2.5 million" -> "two point five million dollars"
        amount = _decimal(integer, fraction) if fraction else _cardinal(integer)
        return f"{amount} {scale} {units}"
    if fraction and len(fraction) > 2:
        return f"{_decimal(integer, fraction)} {units}"
    whole, cents = _parse_int(integer), int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if whole or not cents:
        parts.append(f"{_cardinal(integer)} {unit if whole == 1 else units}")
    if cents:
        parts.append(f"{number_to_words(cents)} {hundredth if cents == 1 else hundredths}")
    return " and ".join(parts)


def _expand_money(text: str) -> str:
    text = re.sub(
        rf"(?P<currency>[$\u00a3\u20ac])\s?(?P<integer>{_NUMBER})(?:\.(?P<fraction>\d+))?"
        r"(?:\s+(?P<scale>thousand|million|billion|trillion)\b|(?P<short>bn|[kKmMbB])\b)?",
        _money,
        text,
    )
    return re.sub(rf"\b(?P<amount>{_NUMBER})\s?\u00a2", lambda m: f"{m['amount']} cents", text)


def _expand_percentages(text: str) -> str:
    def percent(match: re.Match) -> str:
        if match["fraction"]:
            return _decimal(match["integer"], match["fraction"]) + " percent"
        return _cardinal(match["integer"]) + " percent"

    return re.sub(rf"(?<![\d.,])(?P<integer>{_NUMBER})(?:\.(?P<fraction>\d+))?\s?%", percent, text)


_SYMBOLS = {
    "&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "<": "less than",
    ">": "greater than", "\u00d7": "times", "\u00b0": "degrees", "#": "hash",
    "$": "dollars", "\u00a3": "pounds", "\u20ac": "euros", "\u00a2": "cents",
}


def _expand_symbols(text: str) -> str:
    text = re.sub(r"#\s?(?=\d)", " number ", text)  # "#5" -> "number 5"
    return re.sub("|".join(map(re.escape, _SYMBOLS)), lambda m: f" {_SYMBOLS[m[0]]} ", text)


# ----------------------------------------------------------------------------- 10-14. numbers


def _fraction(match: re.Match) -> str:
    numerator, denominator = int(match["numerator"]), int(match["denominator"])
    if denominator < 2 or numerator > LARGEST_NUMBER or denominator > LARGEST_NUMBER:
        return f"{_cardinal(match['numerator'])} over {_cardinal(match['denominator'])}"
    name = {2: "half", 4: "quarter"}.get(denominator) or ordinal_to_words(denominator)
    if numerator != 1:
        name = "halves" if name == "half" else name + "s"
    whole = f"{_cardinal(match['whole'])} and " if match["whole"] else ""
    return f"{whole}{number_to_words(numerator)} {name}"


def _expand_fractions(text: str) -> str:
    whole = r"(?:(?P<whole>\d{1,2})\s+)?"  # "1 1/2"
    return re.sub(rf"(?<![\d/.,]){whole}(?P<numerator>\d+)/(?P<denominator>\d+)(?![\d/]|[.,]\d)", _fraction, text)


def _ordinal(match: re.Match) -> str:
    number = _parse_int(match["number"])
    return ordinal_to_words(number) if number <= LARGEST_NUMBER else match[0]


def _expand_ordinals(text: str) -> str:
    return re.sub(rf"(?<![\d.])(?P<number>{_NUMBER})(?:st|nd|rd|th)\b", _ordinal, text, flags=re.IGNORECASE)


_YEAR_CUES = (
    "in since of by until till from to through during before after around circa year "
    "spring summer autumn fall winter early late mid"
).split()


def _expand_years(text: str) -> str:
    def decade(match: re.Match) -> str:  # "1990s" -> "nineteen nineties", "'60s" -> "sixties"
        return _plural(year_to_words(int(match["decade"])))

    text = re.sub(r"\b(?P<decade>[1-9]\d{3})s\b", decade, text)
    text = re.sub(r"(?<![\w.,])'?(?P<decade>[1-9]0)s\b", decade, text)
    text = re.sub(
        r"\b(?P<year>[1-9]\d{0,3})\s?(?P<era>AD|BC|BCE|CE)\b",
        lambda m: f"{year_to_words(int(m['year']))} {' '.join(m['era'].lower())}",
        text,
    )
    cue = "|".join(_YEAR_CUES)
    return re.sub(
        rf"\b(?P<cue>{cue})(?:\s+|-)(?P<year>1\d{{3}}|20\d{{2}})\b(?![.,]\d)",
        lambda m: f"{m['cue']} {year_to_words(int(m['year']))}",
        text,
        flags=re.IGNORECASE,
    )


def _expand_decimals(text: str) -> str:
    def decimal(match: re.Match) -> str:
        integer, *fractions = match[0].split(".")
        head = _cardinal(integer) if integer else ""
        return " ".join([head] + [f"point {_digits_to_words(part)}" for part in fractions]).strip()

    return re.sub(rf"(?<![\w.])(?:{_NUMBER})?(?:\.\d+)+\b", decimal, text)


def _expand_cardinals(text: str) -> str:
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)  # "10km" -> "10 km"
    return re.sub(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+", lambda m: _cardinal(m[0]), text)


# ----------------------------------------------------------------------------- 15. punctuation

_PAUSE_MARKS = ".,?!"


def _pause(match: re.Match) -> str:
    """A run of pause marks keeps its strongest first mark: "?!" -> "?", ",." -> "."."""
    marks = [mark for mark in match[0] if mark in _PAUSE_MARKS]
    stronger = [mark for mark in marks if mark != ","]
    return (stronger[0] if stronger else ",") + " "


def _clean_punctuation(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[\"*_~/]", " ", text)
    text = re.sub(r"[:;()\[\]{}]", " , ", text)
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)  # "well-known" -> "well known"
    text = re.sub(r"-+", " , ", text)  # dashes are pauses
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, but not "don't"
    text = re.sub(r"\s*[.,?!](?:\s*[.,?!])*\s*", _pause, text)
    text = re.sub(r"^[\s.,?!]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


# ----------------------------------------------------------------------------- normalize

_PASSES = (
    _expand_dates, _expand_times, _expand_abbreviations, _expand_ranges, _expand_minus_signs,
    _expand_money, _expand_percentages, _expand_symbols, _expand_fractions, _expand_ordinals,
    _expand_years, _expand_decimals, _expand_cardinals, _clean_punctuation,
)


def normalize(text: str, strict: bool = True) -> str:
    """Written English -> spoken lowercase form over CHARACTERS (see the module docstring table).

    >>> normalize("Dr. Smith paid $5.50 on Jan. 5, 2020 at 3:30 p.m.")
    'doctor smith paid five dollars and fifty cents on january fifth, twenty twenty at three thirty p m.'

    Raises ValueError for empty text, for text with nothing speakable, and (strict=True) for
    characters no pass can read (emoji, CJK, ...), naming them and their positions.
    Taught in lessons/00_setup_data_text.ipynb, section 4.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize: text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"normalize: text is empty or only whitespace ({text!r}); pass a sentence")
    spoken = _fold_unicode(text, strict)
    for expand in _PASSES:
        spoken = expand(spoken)
    if not re.search("[a-z]", spoken):
        raise ValueError(f"normalize: nothing speakable is left of {text!r}; pass words, numbers or symbols")
    leftover = sorted(set(spoken) - set(CHARACTERS))
    if leftover:  # a bug in a pass above, never the caller's fault
        raise AssertionError(f"normalize left characters {leftover} outside CHARACTERS in {spoken!r}")
    return spoken
