"""Grading: check helpers for lesson test cells, the solutions -> lessons tool, the exercise report.

check_function   compare a student's function with the reference on a list of cases
check_equal      exact comparison of one value
assert_close     the comparison both use; raises AssertionError naming the first wrong element
random_cases     reproducible random cases from a seeded NumPy Generator
failed_case      (args, kwargs) of the case the last failed check got wrong, to rerun it
profile_banner   one line under the ci profile: its numbers are smoke-test numbers

Test cells start with `# TEST: <exercise>` and call these (or lesson-specific checks in
`minispeech.grading.lessonNN`, built on them). `python -m minispeech.grading release` writes
lessons/ from solutions/ (see release.py); the exercise report printed by `pytest --nbval-lax`
lives in report.py. Taught in lessons/00_setup_data_text.ipynb, "How your exercises are graded".
"""

from minispeech.grading.banner import profile_banner
from minispeech.grading.checks import (
    assert_close,
    check_equal,
    check_function,
    failed_case,
    random_cases,
)

__all__ = [
    "assert_close",
    "check_equal",
    "check_function",
    "failed_case",
    "profile_banner",
    "random_cases",
]
