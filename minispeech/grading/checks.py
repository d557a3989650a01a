"""Generic checks that lesson test cells call: compare a student's answer with the reference.

assert_close     raise AssertionError naming the first wrong element (numbers, strings, arrays,
                 tensors, lists/tuples/dicts of them, recursively); NaN equals NaN at the same place
check_function   call the student's and the reference function on each case and compare results
check_equal      exact comparison of one value, with a one-line success message
random_cases     a reproducible list of random cases built by a function of a NumPy Generator
as_tensor        a NumPy array as a torch tensor (a contiguous copy's view), for torch lessons' cases
tensors_close    True when a student's answer is a tensor of the expected shape and values (diagnoses)
failed_case      (args, kwargs) of the case the last failed check_function call got wrong

On success a check prints one line (`✓ name: 5 cases passed`); on failure it raises
AssertionError whose first line says what differs and where (returned parts by name when the
check names them: `context element [0, 1] is ...`), then what property fails (when the check
can tell), then a hint that says what to look at (never the code), then how to rerun the
failing case. A NotImplementedError from an unfinished exercise propagates unchanged, so the
exercise report files it under TODO.
Lesson-specific checks live in `minispeech/grading/lessonNN.py` and build on these.

Taught in lessons/00_setup_data_text.ipynb, "How your exercises are graded".
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

MAX_DESCRIPTION_CHARS = 60  # longer argument reprs are cut in messages
MAX_SHOWN_ITEMS = 20  # sequences up to this long are printed whole when their lengths differ
RERUN_NOTE = "rerun it: `args, kwargs = minispeech.grading.failed_case()`"
_last_failed_case: tuple[tuple, dict] | None = None


# --- Describing values in messages ------------------------------------------------------------


def _is_tensor(value: Any) -> bool:
    """True for a torch.Tensor, without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or _is_tensor(value)


def _to_numpy(value: Any) -> np.ndarray:
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _type_name(value: Any) -> str:
    if _is_tensor(value):
        return "torch.Tensor"
    if isinstance(value, np.ndarray):
        return "numpy.ndarray"
    return type(value).__name__


def describe(value: Any) -> str:
    """A short one-line description of a value for messages: arrays by shape and dtype."""
    if _is_array(value):
        array = _to_numpy(value)
        if array.size <= 6 and array.ndim <= 1:
            return f"{_type_name(value)}({array.tolist()})"
        return f"{_type_name(value)}(shape={tuple(array.shape)}, dtype={array.dtype})"
    text = repr(value)
    if "\n" in text:  # an nn.Module, a NamedTuple of tensors: the type is enough
        return f"{type(value).__name__}(...)"
    if len(text) > MAX_DESCRIPTION_CHARS:
        text = text[: MAX_DESCRIPTION_CHARS - 3] + "..."
    return text


def describe_call(name: str, case: Any) -> str:
    """`name(arg1, key=arg2)` with each argument described briefly."""
    args, kwargs = _split_case(case)
    parts = [describe(arg) for arg in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


# --- Comparing values --------------------------------------------------------------------------


class _Mismatch(Exception):
    """A difference found while walking two values; `where` is the path, e.g. '[1][0, 2]'."""

    def __init__(self, where: str, detail: str):
        super().__init__(detail)
        self.where = where
        self.detail = detail


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex, np.number, np.bool_))  # bool is an int


def _is_exact(value: Any) -> bool:
    """Integers and booleans compare exactly, whatever the tolerance."""
    return isinstance(value, (int, np.integer, np.bool_))


def _compare_numbers(actual: Any, expected: Any, where: str, atol: float, rtol: float) -> None:
    if actual == expected or (_is_nan(actual) and _is_nan(expected)):
        return
    exact = _is_exact(actual) and _is_exact(expected)
    if (
        exact
        or _is_nan(actual)
        or _is_nan(expected)
        or abs(actual - expected) > atol + rtol * abs(expected)
    ):
        raise _Mismatch(where, f"is {_format_number(actual)}, expected {_format_number(expected)}")


def _is_nan(value: Any) -> bool:
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def _format_number(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return f"{float(value):.6g}"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _compare_strings(actual: str, expected: str, where: str) -> None:
    if actual == expected:
        return
    first_difference = next(
        (i for i, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e),
        min(len(actual), len(expected)),
    )
    raise _Mismatch(
        where,
        f"is {actual!r}, expected {expected!r} (first difference at character {first_difference})",
    )


def _dtype_kind(array: np.ndarray) -> str:
    """'bool', 'integer', 'float', 'complex' or 'other': the dtype differences that matter."""
    kinds = {"b": "bool", "i": "integer", "u": "integer", "f": "float", "c": "complex"}
    return kinds.get(array.dtype.kind, "other")


def _compare_arrays(actual: Any, expected: Any, where: str, atol: float, rtol: float) -> None:
    if _is_tensor(expected) != _is_tensor(actual):
        raise _Mismatch(where, f"is a {_type_name(actual)}, expected a {_type_name(expected)}")
    got, want = _to_numpy(actual), _to_numpy(expected)
    if got.shape != want.shape:
        raise _Mismatch(where, f"has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    if _dtype_kind(got) != _dtype_kind(want):
        raise _Mismatch(where, f"has dtype {got.dtype} ({_dtype_kind(got)}), expected {want.dtype}")
    if _dtype_kind(want) in ("float", "complex"):
        close = np.isclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    else:
        close = got == want
    if close.all():
        return
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    wrong_count, total = int((~close).sum()), close.size
    element = where + (f"[{', '.join(map(str, index))}]" if index else "")
    raise _Mismatch(
        element,
        f"is {_format_number(got[index])}, expected {_format_number(want[index])}"
        f" ({wrong_count} of {total} elements differ)",
    )


def _compare(actual: Any, expected: Any, where: str, atol: float, rtol: float) -> None:
    """Walk `expected` and `actual` together; raise _Mismatch at the first difference."""
    if _is_array(expected) or _is_array(actual):
        if not (_is_array(expected) and _is_array(actual)):
            raise _Mismatch(where, f"is a {_type_name(actual)}, expected a {_type_name(expected)}")
        _compare_arrays(actual, expected, where, atol, rtol)
    elif isinstance(expected, str) or isinstance(actual, str):
        if not (isinstance(expected, str) and isinstance(actual, str)):
            raise _Mismatch(where, f"is {describe(actual)}, expected the string {expected!r}")
        _compare_strings(actual, expected, where)
    elif _is_number(expected) and _is_number(actual):
        _compare_numbers(actual, expected, where, atol, rtol)
    elif isinstance(expected, Mapping):
        _compare_mappings(actual, expected, where, atol, rtol)
    elif isinstance(expected, Sequence):
        _compare_sequences(actual, expected, where, atol, rtol)
    elif actual != expected:
        raise _Mismatch(where, f"is {describe(actual)}, expected {describe(expected)}")


def _short_sequence(value: Sequence) -> str | None:
    """`[3, 1, 2]` for a short sequence of plain numbers or strings, else None."""
    items = list(value)
    if len(items) > MAX_SHOWN_ITEMS or not all(
        _is_number(item) or isinstance(item, str) for item in items
    ):
        return None
    return "[" + ", ".join(_format_number(item) for item in items) + "]"


def _compare_sequences(
    actual: Any, expected: Sequence, where: str, atol: float, rtol: float
) -> None:
    if not isinstance(actual, Sequence):
        raise _Mismatch(where, f"is a {_type_name(actual)}, expected a {_type_name(expected)}")
    if len(actual) != len(expected):
        shown = (_short_sequence(actual), _short_sequence(expected))
        both = f": {shown[0]}, expected {shown[1]}" if None not in shown else ""
        raise _Mismatch(where, f"has length {len(actual)}, expected {len(expected)}{both}")
    fields = getattr(expected, "_fields", None)  # a NamedTuple: name its fields
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        part = f"{where}.{fields[index]}" if fields else f"{where}[{index}]"
        _compare(got, want, part.lstrip("."), atol, rtol)


def _compare_mappings(actual: Any, expected: Mapping, where: str, atol: float, rtol: float) -> None:
    if not isinstance(actual, Mapping):
        raise _Mismatch(where, f"is a {_type_name(actual)}, expected a {_type_name(expected)}")
    missing = ", ".join(sorted(map(repr, set(expected) - set(actual))))
    extra = ", ".join(sorted(map(repr, set(actual) - set(expected))))
    if missing or extra:
        problems = [
            f"lacks keys {missing}" if missing else "",
            f"has extra keys {extra}" if extra else "",
        ]
        raise _Mismatch(where, " and ".join(filter(None, problems)))
    for key, want in expected.items():
        _compare(actual[key], want, f"{where}[{key!r}]", atol, rtol)


def _compare_parts(
    actual: Any, expected: Any, parts: Sequence[str], atol: float, rtol: float
) -> None:
    """Compare a returned tuple part by part, each part named (e.g. 'context', 'weights')."""
    if not isinstance(actual, tuple) or len(actual) != len(parts):
        raise _Mismatch(
            "", f"is {describe(actual)}, expected a tuple of {len(parts)}: ({', '.join(parts)})"
        )
    for part, got, want in zip(parts, actual, expected, strict=True):
        _compare(got, want, part, atol, rtol)


def _subject(name: str, where: str) -> str:
    """'f: element [1, 2]', 'f: result', 'f: context element [0, 1]', 'f: state.cell'."""
    if not where:
        return f"{name}: result"
    if where.startswith("["):
        return f"{name}: element {where}"
    part, bracket, index = where.partition("[")
    return f"{name}: {part} element {bracket}{index}" if bracket else f"{name}: {part}"


def assert_close(
    actual: Any,
    expected: Any,
    name: str,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    hint: str = "",
    parts: Sequence[str] = (),
    diagnose: Callable[[Any, Any], str | None] | None = None,
) -> None:
    """Raise AssertionError if `actual` differs from `expected` beyond atol + rtol * |expected|.

    The message names the first wrong element, e.g. "encode('hi'): element [1] is 9, expected 8",
    or the differing shape, dtype kind, length or type. `parts` names the elements of a returned
    tuple ("context element [0, 1] is ..."); NamedTuple fields are named by themselves. Then
    `diagnose(actual, expected)`'s sentence about what property fails, when it returns one, and
    "Hint: ..." when a hint is given. Integers, booleans and strings compare exactly; NaN equals
    NaN in the same place.
    Taught in lessons/00_setup_data_text.ipynb, "How your exercises are graded".
    """
    __tracebackhide__ = True
    try:
        if parts:
            _compare_parts(actual, expected, parts, atol, rtol)
        else:
            _compare(actual, expected, "", atol, rtol)
    except _Mismatch as mismatch:
        message = f"{_subject(name, mismatch.where)} {mismatch.detail}"
        problem = _safe_diagnosis(diagnose, actual, expected)
        if problem:
            message += f"\nWhat is wrong: {problem}"
        if hint:
            message += f"\nHint: {hint}"
        raise AssertionError(message) from None


def _safe_diagnosis(
    diagnose: Callable[[Any, Any], str | None] | None, actual: Any, expected: Any
) -> str | None:
    """diagnose(actual, expected), or None if there is none or it fails on an odd answer."""
    if diagnose is None:
        return None
    try:
        return diagnose(actual, expected)
    except Exception:  # a diagnosis is a bonus: an unexpected answer must not hide the mismatch
        return None


# --- Checks with a success line ----------------------------------------------------------------


def _split_case(case: Any) -> tuple[tuple, dict]:
    """A tuple is positional arguments, a dict keyword arguments, anything else one argument."""
    if isinstance(case, tuple):
        return case, {}
    if isinstance(case, dict):
        return (), case
    return (case,), {}


def _call(function: Callable, case: Any, call_description: str) -> Any:
    """Call `function` on a deep copy of the case, so in-place changes cannot leak between calls."""
    __tracebackhide__ = True  # IPython and pytest show the student's frames, not these
    args, kwargs = _split_case(copy.deepcopy(case))
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:
        if hasattr(error, "add_note"):  # Python 3.11+
            error.add_note(f"(raised while checking {call_description})")
        raise


def check_function(
    student_fn: Callable,
    reference_fn: Callable,
    cases: Sequence[Any],
    name: str,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    hint: str = "",
    parts: Sequence[str] = (),
    diagnose: Callable[..., str | None] | None = None,
) -> None:
    """Check `student_fn` against `reference_fn` on every case; print one line if all agree.

    Each case is a tuple of positional arguments, a dict of keyword arguments, or a single
    argument. Results are compared with `assert_close` (`parts` names the parts of a returned
    tuple); the first wrong case raises AssertionError naming the call, e.g.
    "encode('hi'): element [1] is 9, expected 8", then `diagnose(actual, expected, case)`'s
    sentence (what property fails), the hint, and how to rerun the case (`failed_case()`).
    Taught in lessons/00_setup_data_text.ipynb, "How your exercises are graded".
    """
    __tracebackhide__ = True
    global _last_failed_case
    if len(cases) == 0:
        raise ValueError(f"check_function({name!r}): cases is empty; give at least one case")
    for number, case in enumerate(cases, start=1):
        call_description = describe_call(name, case)
        expected = _call(reference_fn, case, call_description)
        actual = _call(student_fn, case, call_description)
        case_diagnosis = None
        if diagnose is not None:
            case_diagnosis = lambda got, want, case=case: diagnose(got, want, case)  # noqa: E731
        try:
            assert_close(actual, expected, call_description, atol=atol, rtol=rtol, hint=hint,
                         parts=parts, diagnose=case_diagnosis)  # fmt: skip
        except AssertionError as error:
            _last_failed_case = _split_case(copy.deepcopy(case))
            raise AssertionError(
                f"{error}\nCase {number} of {len(cases)}; {RERUN_NOTE}"
            ) from None
    print(f"✓ {name}: {len(cases)} cases passed")


def failed_case() -> tuple[tuple, dict]:
    """(args, kwargs) of the case the last failing `check_function` call got wrong.

    In a notebook, after a check failed: `args, kwargs = failed_case(); my_function(*args, **kwargs)`.
    """
    if _last_failed_case is None:
        raise LookupError("no check has failed in this kernel yet: failed_case() has nothing to return")
    return copy.deepcopy(_last_failed_case)


def check_equal(actual: Any, expected: Any, name: str, hint: str = "") -> None:
    """Check that `actual` equals `expected` exactly (NaN equals NaN); print one line if so.

    Taught in lessons/00_setup_data_text.ipynb, "How your exercises are graded".
    """
    __tracebackhide__ = True
    assert_close(actual, expected, name, atol=0.0, rtol=0.0, hint=hint)
    print(f"✓ {name}: correct")


def random_cases(seed: int, count: int, make_case: Callable[[np.random.Generator], Any]) -> list:
    """`count` cases from `make_case(rng)`, with one Generator seeded by `seed`: reproducible.

    Example: `random_cases(0, 5, lambda rng: (rng.standard_normal((3, 4)),))`.
    Taught in lessons/00_setup_data_text.ipynb, "How your exercises are graded".
    """
    rng = np.random.default_rng(seed)
    return [make_case(rng) for _ in range(count)]


def as_tensor(array: np.ndarray):
    """A NumPy array as a torch tensor sharing a contiguous copy's memory (torch imported lazily)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array))


def tensors_close(actual: Any, expected: Any, atol: float = 1e-9, rtol: float = 1e-7) -> bool:
    """Same shape and values within the tolerance; False for anything that is not a tensor. For
    diagnoses that compare an answer with the value a known mistake gives."""
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return False
    return bool(torch.allclose(actual.detach().double(), expected.detach().double(), atol=atol, rtol=rtol))
