"""The lesson-00 checks pass the reference, fail wrong answers with a useful message, and let TODO through."""

import pytest

from minispeech.grading import lesson00
from minispeech.text import SymbolTable, number_to_words


def test_reference_passes(capsys):
    lesson00.check_number_to_words(number_to_words)
    lesson00.check_encode(lambda text, alphabet: SymbolTable(alphabet).encode(text))
    lesson00.check_decode(lambda ids, alphabet: SymbolTable(alphabet).decode(ids))
    assert "✓ number_to_words" in capsys.readouterr().out


def test_hyphenated_answer_fails_with_a_hint():
    def hyphenated(n):
        return number_to_words(n).replace("twenty one", "twenty-one")

    with pytest.raises(AssertionError, match="no hyphens"):
        lesson00.check_number_to_words(hyphenated)


def test_off_by_one_ids_fail_naming_the_element():
    def encode(text, alphabet):
        return [alphabet.index(ch) + 2 for ch in text]

    with pytest.raises(AssertionError, match=r"encode\('a'.*element \[0\] is 3, expected 4") as error:
        lesson00.check_encode(encode)
    assert "every id is 1 too small" in str(error.value)


def test_decode_that_keeps_specials_fails():
    def decode(ids, alphabet):
        return "".join(("_" * 3 + alphabet)[i] for i in ids)

    with pytest.raises(AssertionError, match=r"(?s)decode\(\[1, 5.*Special ids"):
        lesson00.check_decode(decode)


def test_silently_dropping_unknown_characters_fails():
    def encode(text, alphabet):
        return [alphabet.index(ch) + 3 for ch in text if ch in alphabet]

    with pytest.raises(AssertionError, match="instead of raising ValueError"):
        lesson00.check_encode(encode)


def test_unfinished_exercise_propagates_not_implemented():
    def todo(n):
        raise NotImplementedError("Exercise 0.1: number_to_words")

    with pytest.raises(NotImplementedError, match="Exercise 0.1"):
        lesson00.check_number_to_words(todo)
