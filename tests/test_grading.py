"""Tests for minispeech.grading (checks, the release tool, the exercise report) and minispeech.start."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minispeech.grading import (
    assert_close,
    check_equal,
    check_function,
    failed_case,
    random_cases,
)
from minispeech.grading.__main__ import main as grading_main
from minispeech.grading.checks import describe_call
from minispeech.grading.release import (
    NotebookError,
    clean_notebook,
    notebook_bytes,
    release_notebook,
)
from minispeech.grading.report import cell_label, locate_cell, strip_ansi
from minispeech.start import find_lesson, start_all, start_lesson
from minispeech.start import main as start_main

pytest_plugins = ["pytester"]

# --- checks ------------------------------------------------------------------------------------


def double(x):
    return 2 * x


def test_check_function_passes_and_prints_one_line(capsys):
    check_function(lambda x: x + x, double, [(1,), (2.5,), {"x": -3}], "double")
    assert capsys.readouterr().out == "✓ double: 3 cases passed\n"


def test_check_function_names_the_wrong_case_and_the_hint():
    def wrong(x):
        return 2 * x + (x == 3)

    with pytest.raises(AssertionError) as error:
        check_function(wrong, double, [(1,), (3,), (5,)], "double", hint="multiply by two")
    assert str(error.value) == (
        "double(3): result is 7, expected 6\nHint: multiply by two\n"
        "Case 2 of 3; rerun it: `args, kwargs = minispeech.grading.failed_case()`"
    )
    assert failed_case() == ((3,), {})


def test_first_wrong_element_of_an_array_is_named():
    expected = np.arange(6.0).reshape(2, 3)
    actual = expected.copy()
    actual[1, 1], actual[1, 2] = 9.0, 8.0
    with pytest.raises(
        AssertionError, match=r"^f: element \[1, 1\] is 9, expected 4 \(2 of 6 elements differ\)$"
    ):
        assert_close(actual, expected, "f")


def test_shape_and_dtype_mismatches_are_reported():
    with pytest.raises(AssertionError, match=r"f: result has shape \(3, 2\), expected \(2, 3\)"):
        assert_close(np.zeros((3, 2)), np.zeros((2, 3)), "f")
    with pytest.raises(AssertionError, match=r"has dtype float64 \(float\), expected int64"):
        assert_close(np.zeros(3), np.zeros(3, dtype=np.int64), "f")
    with pytest.raises(AssertionError, match=r"is a list, expected a numpy.ndarray"):
        assert_close([0.0, 0.0], np.zeros(2), "f")


def test_nan_equals_nan_only_in_the_same_place():
    assert_close(np.array([1.0, np.nan]), np.array([1.0, np.nan]), "f")
    assert_close(float("nan"), float("nan"), "f")
    with pytest.raises(AssertionError, match=r"element \[0\] is nan, expected 1"):
        assert_close(np.array([np.nan, np.nan]), np.array([1.0, np.nan]), "f")
    with pytest.raises(AssertionError, match=r"result is 1, expected nan"):
        assert_close(1.0, float("nan"), "f")


def test_tolerances_apply_to_floats_but_integers_and_strings_are_exact():
    assert_close(1.0 + 1e-7, 1.0, "f")  # within atol=1e-6
    assert_close(1e6 + 1.0, 1e6, "f")  # within rtol=1e-5 * 1e6
    with pytest.raises(AssertionError, match="result is 100001, expected 100000"):
        assert_close(100001, 100000, "f")
    with pytest.raises(
        AssertionError, match=r"is 'hello', expected 'help' \(first difference at character 3\)"
    ):
        assert_close("hello", "help", "f")


def test_nested_sequences_and_dicts_name_the_path():
    with pytest.raises(AssertionError, match=r"element \[1\]\[0\] is 5, expected 4"):
        assert_close([[1, 2], (5, 6)], [[1, 2], [4, 6]], "f")
    with pytest.raises(AssertionError, match=r"element \['b'\]\[2\] is 0.5, expected 0.25"):
        assert_close(
            {"a": 1, "b": np.array([0, 0, 0.5])}, {"a": 1, "b": np.array([0, 0, 0.25])}, "f"
        )
    with pytest.raises(AssertionError, match=r"result has length 2, expected 3"):
        assert_close([1, 2], [1, 2, 3], "f")
    with pytest.raises(AssertionError, match=r"f: result lacks keys 'b' and has extra keys 'c'$"):
        assert_close({"a": 1, "c": 2}, {"a": 1, "b": 2}, "f")


def test_torch_tensors_compare_and_must_not_be_numpy_arrays():
    torch = pytest.importorskip("torch")
    assert_close(torch.ones(2, 3), torch.ones(2, 3) + 1e-8, "f")
    with pytest.raises(AssertionError, match=r"element \[0, 2\] is 2, expected 1"):
        assert_close(torch.tensor([[1.0, 1.0, 2.0]]), torch.ones(1, 3), "f")
    with pytest.raises(AssertionError, match=r"is a numpy.ndarray, expected a torch.Tensor"):
        assert_close(np.ones(3), torch.ones(3), "f")


def test_unfinished_exercise_propagates_unchanged():
    def stub(x):
        raise NotImplementedError("Exercise 0.1: double")

    with pytest.raises(NotImplementedError) as error:
        check_function(stub, double, [(1,)], "double")
    assert str(error.value) == "Exercise 0.1: double"
    assert not getattr(error.value, "__notes__", None)


def test_inputs_are_copied_so_in_place_changes_cannot_leak():
    def reference_sum(values):
        return float(values.sum())

    def student_sum_that_mutates(values):
        values[:] = 0.0  # a buggy student function: changes its input
        return 6.0

    check_function(student_sum_that_mutates, reference_sum, [(np.array([1.0, 2.0, 3.0]),)], "sum")


def test_check_equal_and_random_cases(capsys):
    check_equal([1, "a"], [1, "a"], "pair")
    assert capsys.readouterr().out == "✓ pair: correct\n"
    with pytest.raises(AssertionError):
        check_equal(1.0 + 1e-12, 1.0, "exact")
    make = lambda rng: (rng.standard_normal(3),)  # noqa: E731
    first, second = random_cases(7, 4, make), random_cases(7, 4, make)
    assert len(first) == 4
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, second, strict=True))
    with pytest.raises(ValueError, match="cases is empty"):
        check_function(double, double, [], "double")


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(max_dims=3, max_side=4),
        elements=st.floats(-1e6, 1e6) | st.just(float("nan")),
    ),
    st.data(),
)
def test_assert_close_finds_a_planted_error(array, data):
    assert_close(array.copy(), array, "f")  # equal arrays, NaNs included, always pass
    flat_index = data.draw(st.integers(0, array.size - 1))
    index = np.unravel_index(flat_index, array.shape)
    wrong = array.copy()
    wrong[index] = 1.0 if np.isnan(array[index]) else array[index] + 1.0 + abs(array[index])
    expected_where = "result" if array.ndim == 0 else f"element [{', '.join(map(str, index))}]"
    with pytest.raises(AssertionError, match=re.escape(f"f: {expected_where} is")):
        assert_close(wrong, array, "f")


# --- release: notebooks as dicts ---------------------------------------------------------------


def code_cell(source: str, cell_id: str, **fields) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {},
            "outputs": [], "source": source, **fields}  # fmt: skip


def markdown_cell(source: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def notebook(*cells: dict, kernel: str = "minispeech-venv") -> dict:
    metadata = {
        "kernelspec": {"display_name": "venv", "language": "python", "name": kernel},
        "language_info": {"name": "python", "version": "3.12.1", "mimetype": "text/x-python"},
    }
    return {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


SOLVED_FUNCTION = """\
def number_to_words(n: int) -> str:
    \"\"\"Spell out 0..9.\"\"\"
    words = "zero one two".split()
    if n >= 0:
        ### BEGIN SOLUTION
        return words[n]
        ### END SOLUTION
    return "minus"
"""

SOLUTIONS = notebook(
    markdown_cell("# Lesson\n", "m0"),
    code_cell(
        SOLVED_FUNCTION, "c1", metadata={"tags": ["keep"], "scrolled": True, "execution": {"a": 1}}
    ),
    code_cell(
        "# TEST: number_to_words\nassert number_to_words(2) == 'two'\n"
        "### BEGIN HIDDEN TESTS\nassert number_to_words(0) == 'zero'\n### END HIDDEN TESTS",
        "c2",
    ),
    code_cell("### BEGIN SOLUTION: symbol table\nsymbols = ['a', 'b']\n### END SOLUTION\n", "c3"),
    code_cell("# TEST: symbol table\nassert symbols == ['a', 'b']", "c4"),
)


def test_release_replaces_solutions_and_removes_hidden_tests():
    lesson = release_notebook("solutions/00_x.ipynb", SOLUTIONS, 0)
    sources = ["".join(cell["source"]) for cell in lesson["cells"]]
    assert sources[1] == SOLVED_FUNCTION.replace(
        "        ### BEGIN SOLUTION\n        return words[n]\n        ### END SOLUTION\n",
        '        raise NotImplementedError("Exercise 0.1: number_to_words")\n',
    )
    assert sources[2] == "# TEST: number_to_words\nassert number_to_words(2) == 'two'"
    assert sources[3] == 'raise NotImplementedError("Exercise 0.2: symbol table")\n'
    for source in sources[1:]:
        compile(source, "<cell>", "exec")  # still valid Python


def test_release_cleans_metadata_and_keeps_ids_and_order():
    lesson = release_notebook("solutions/04_x.ipynb", SOLUTIONS, 4)
    assert [cell["id"] for cell in lesson["cells"]] == ["m0", "c1", "c2", "c3", "c4"]
    assert lesson["cells"][1]["metadata"] == {"tags": ["keep"]}
    assert lesson["metadata"]["kernelspec"] == {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    assert lesson["metadata"]["language_info"] == {"name": "python"}
    assert "Exercise 4.2" in "".join(lesson["cells"][3]["source"])
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(notebook_bytes(lesson).decode(), as_version=4))


def test_notebook_bytes_are_deterministic_and_match_nbformat():
    as_lines = json.loads(json.dumps(SOLUTIONS))
    for cell in as_lines["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    data = notebook_bytes(release_notebook("s.ipynb", SOLUTIONS, 0))
    assert data == notebook_bytes(release_notebook("s.ipynb", as_lines, 0))
    nbformat = pytest.importorskip("nbformat")
    assert data.decode() == nbformat.writes(nbformat.reads(data.decode(), as_version=4)) + "\n"


def test_a_region_in_a_nested_block_is_titled_by_its_function_and_top_level_by_exercise():
    source = "def outer():\n    for i in range(3):\n        ### BEGIN SOLUTION\n        pass\n        ### END SOLUTION\n"
    top_level = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"
    solutions = notebook(
        code_cell(source, "a"), code_cell("# TEST: outer", "b"),
        code_cell(top_level, "c"), code_cell("# TEST: y", "d"),
    )  # fmt: skip
    lesson = release_notebook("s.ipynb", solutions, 3)
    assert "".join(lesson["cells"][0]["source"]).endswith(
        '        raise NotImplementedError("Exercise 3.1: outer")\n'
    )
    assert (
        "".join(lesson["cells"][2]["source"])
        == 'x = 1\nraise NotImplementedError("Exercise 3.2: exercise")'
    )


def test_a_multi_line_signature_still_titles_the_exercise():
    source = (
        "def reestimate(\n    gamma: list,\n    xi: list,\n) -> list:\n"
        "    ### BEGIN SOLUTION\n    return gamma\n    ### END SOLUTION\n"
    )
    lesson = release_notebook("s.ipynb", notebook(code_cell(source, "a"), code_cell("# TEST: r", "b")), 3)
    assert 'raise NotImplementedError("Exercise 3.1: reestimate")' in "".join(lesson["cells"][0]["source"])
    wrapped = (
        "def griffin_lim(a: int, b: int = 2,\n                c: int = 3) -> int:\n"
        "    ### BEGIN SOLUTION\n    return a\n    ### END SOLUTION\n"
    )
    lesson = release_notebook("s.ipynb", notebook(code_cell(wrapped, "a"), code_cell("# TEST: g", "b")), 1)
    assert 'raise NotImplementedError("Exercise 1.1: griffin_lim")' in "".join(lesson["cells"][0]["source"])


@pytest.mark.parametrize("kind", ["SOLUTION", "HIDDEN TESTS"])
@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "a = 1\n### BEGIN {kind}\nb = 2\n",
            r"cell 1 \(id bad\), line 2: ### BEGIN {kind} is never closed",
        ),
        (
            "### BEGIN {kind}\n### BEGIN {kind}\n### END {kind}\n",
            r"cell 1 \(id bad\), line 2: ### BEGIN {kind} inside",
        ),
        ("a = 1\n### END {kind}\n", r"cell 1 \(id bad\), line 2: ### END {kind} without ### BEGIN"),
    ],
)
def test_bad_markers_name_the_file_cell_and_line(kind, source, problem):
    solutions = notebook(
        code_cell("x = 1", "ok"),
        code_cell(source.format(kind=kind), "bad"),
        code_cell("# TEST: x", "t"),
    )
    with pytest.raises(NotebookError, match=r"^solutions/01_x.ipynb: " + problem.format(kind=kind)):
        release_notebook("solutions/01_x.ipynb", solutions, 1)


def test_lint_rules():
    region = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
    cases = {
        "exercise without a test cell": [
            code_cell(region, "a"),
            code_cell(region, "b"),
            code_cell("# TEST: b", "t"),
        ],
        "NBVAL_CHECK_OUTPUT compares": [code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", "a")],
        "has outputs or an execution count": [code_cell("print(1)", "a", execution_count=3)],
        "hidden tests overlap": [
            code_cell(region.replace("x = 1", "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"), "a"),
            code_cell("# TEST: x", "t"),
        ],
    }
    for problem, cells in cases.items():
        with pytest.raises(NotebookError, match=problem):
            release_notebook("s.ipynb", notebook(*cells), 0)
    two_regions_one_test = [
        code_cell(region + region, "a"),
        markdown_cell("text", "m"),
        code_cell("\n# TEST: x", "t"),
    ]
    release_notebook("s.ipynb", notebook(*two_regions_one_test), 0)  # no error


def test_clean_notebook_clears_outputs_and_noise():
    dirty = notebook(
        code_cell(
            "print(1)",
            "a",
            execution_count=1,
            outputs=[{"output_type": "stream", "name": "stdout", "text": "1\n"}],
        )
    )
    dirty["metadata"]["widgets"] = {"state": {}}
    cleaned = clean_notebook(dirty)
    assert cleaned["cells"][0]["outputs"] == [] and cleaned["cells"][0]["execution_count"] is None
    assert "widgets" not in cleaned["metadata"]
    assert dirty["cells"][0]["execution_count"] == 1  # the input is not modified


# --- release: the command line on folders ------------------------------------------------------


def write_notebook(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(notebook_bytes(content))


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A repository with one solutions notebook, the current folder set to its root."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    write_notebook(tmp_path / "solutions" / "00_setup.ipynb", SOLUTIONS)
    (tmp_path / "solutions" / "notes.ipynb").write_text("not a lesson")  # ignored: no NN_ prefix
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_release_then_check(repo, capsys):
    assert grading_main(["release", "--check"]) == 1
    assert "missing: lessons/00_setup.ipynb" in capsys.readouterr().out
    assert grading_main(["release"]) == 0
    assert "wrote lessons/00_setup.ipynb" in capsys.readouterr().out
    first = (repo / "lessons" / "00_setup.ipynb").read_bytes()
    assert grading_main(["release", "--check"]) == 0
    assert capsys.readouterr().out == "lessons/ is up to date (1 notebooks)\n"
    assert grading_main(["release"]) == 0
    assert (repo / "lessons" / "00_setup.ipynb").read_bytes() == first


def test_check_lists_stale_and_extra_lessons_and_release_fixes_them(repo, capsys):
    grading_main(["release"])
    lesson = repo / "lessons" / "00_setup.ipynb"
    lesson.write_bytes(lesson.read_bytes().replace(b"Exercise 0.1", b"Exercise 9.9"))
    (repo / "lessons" / "01_gone.ipynb").write_text("{}")
    capsys.readouterr()
    assert grading_main(["release", "--check"]) == 1
    output = capsys.readouterr().out
    assert "stale: lessons/00_setup.ipynb" in output
    assert "no solution for: lessons/01_gone.ipynb" in output
    assert "run python -m minispeech.grading release" in output
    assert grading_main(["release"]) == 0
    assert not (repo / "lessons" / "01_gone.ipynb").exists()
    assert grading_main(["release", "--check"]) == 0


def test_release_errors_exit_2_and_clean_fixes_outputs(repo, capsys):
    dirty = json.loads(json.dumps(SOLUTIONS))
    dirty["cells"][2]["execution_count"] = 5
    write_notebook(repo / "solutions" / "00_setup.ipynb", dirty)
    assert grading_main(["release"]) == 2
    assert "solutions/00_setup.ipynb: cell 2 (id c2): has outputs" in capsys.readouterr().err
    assert not (repo / "lessons").exists()
    assert grading_main(["clean"]) == 0
    assert "cleaned solutions/00_setup.ipynb" in capsys.readouterr().out
    assert grading_main(["release"]) == 0


def test_module_runs_as_a_command(repo):
    result = subprocess.run(
        [sys.executable, "-m", "minispeech.grading", "release", "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "missing: lessons/00_setup.ipynb" in result.stdout


# --- start -------------------------------------------------------------------------------------


def test_find_lesson_accepts_numbers_and_names(tmp_path):
    for name in ("00_setup.ipynb", "04_ctc.ipynb"):
        (tmp_path / name).write_text("{}")
    for query in ("04", "4", "04_ctc", "04_ctc.ipynb", "ctc"):
        assert find_lesson(tmp_path, query).name == "04_ctc.ipynb"
    with pytest.raises(
        ValueError, match="no lesson matches '7'.*Available lessons:\n  00_setup\n  04_ctc"
    ):
        find_lesson(tmp_path, "7")


def test_start_lesson_refuses_to_overwrite_without_force(tmp_path):
    lesson = tmp_path / "lessons" / "04_ctc.ipynb"
    lesson.parent.mkdir()
    lesson.write_text("fresh")
    target = start_lesson(lesson, tmp_path / "work")
    target.write_text("my answers")
    with pytest.raises(FileExistsError, match="already exists.*--force"):
        start_lesson(lesson, tmp_path / "work")
    assert target.read_text() == "my answers"
    start_lesson(lesson, tmp_path / "work", force=True)
    assert target.read_text() == "fresh"
    start_lesson(lesson, tmp_path / "work", force=True)
    backups = sorted(path.name for path in (tmp_path / "work").glob("04_ctc.*.ipynb.bak"))
    assert len(backups) == 2, backups  # every --force keeps the copy it replaces
    assert sorted((tmp_path / "work" / name).read_text() for name in backups) == ["fresh", "my answers"]


def test_start_all_copies_only_missing_lessons(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    for name in ("00_setup.ipynb", "04_ctc.ipynb"):
        (lessons / name).write_text("fresh")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "00_setup.ipynb").write_text("my answers")
    copied = start_all(lessons, tmp_path / "work")
    assert [path.name for path in copied] == ["04_ctc.ipynb"]
    assert (tmp_path / "work" / "00_setup.ipynb").read_text() == "my answers"


def test_start_prints_the_grading_command(repo, capsys):
    grading_main(["release"])
    assert start_main(["0"]) == 0
    assert "pytest --nbval-lax work/00_setup.ipynb" in capsys.readouterr().out
    assert (repo / "work" / "00_setup.ipynb").exists()
    assert start_main(["0"]) == 1
    assert "already exists" in capsys.readouterr().err


# --- the exercise report -----------------------------------------------------------------------


def test_cell_label_prefers_the_test_line():
    assert (
        cell_label("# NBVAL_IGNORE_OUTPUT\n# plot it\n# TEST: ctc alpha\nx = 1")
        == "# TEST: ctc alpha"
    )
    assert cell_label("# NBVAL_SKIP\nx = 1  # not first\n# the plot\n") == "# the plot"
    assert cell_label("x = 1") == ""
    assert strip_ansi("\x1b[31mAssertionError\x1b[39m: x") == "AssertionError: x"


def test_root_conftest_loads_the_report_plugin(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("exercise-report")


STUDENT_NOTEBOOKS = {
    "solved": ["x = 1", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"],
    "unsolved": ["x = 1", 'def double(x):\n    raise NotImplementedError("Exercise 0.1: double")'],
    "wrong": ["x = 1", "def double(x):\n    return 2 * x + (x > 2)"],
    "broken": [
        "x = 1",
        "def double(x):\n    return 2 * x",
        "# load the data\nimport json\njson.loads('{')",
    ],
}
TEST_CELL = (
    "# TEST: double\nfrom minispeech.grading import check_function\n"
    "check_function(double, lambda x: 2 * x, [1, 3, 5], 'double', hint='multiply by two')"
)
USES_EXERCISE = "# uses double\nassert double(4) == 8, 'double(4) is not 8: the bar is missed'"


def run_notebooks(pytester: pytest.Pytester, names: list[str], *options: str) -> pytest.RunResult:
    """pytest --nbval-lax on fixture notebooks with the report plugin (in this process: fast).

    Each notebook: a code cell, '## 1. Doubling', the exercise cell, its test cell,
    '## 2. Using it', a downstream check, then any extra cells.
    """
    for name in names:
        first, exercise, *extra = STUDENT_NOTEBOOKS[name]
        cells = [
            code_cell(first, "c0"),
            markdown_cell("## 1. Doubling\n\nWrite `double`.", "m1"),
            code_cell(exercise, "c1"),
            code_cell(TEST_CELL, "c2"),
            markdown_cell("## 2. Using it", "m2"),
            code_cell(USES_EXERCISE, "c3"),
            *(code_cell(source, f"c{4 + i}") for i, source in enumerate(extra)),
        ]
        write_notebook(pytester.path / f"00_{name}.ipynb", notebook(*cells))
    result = pytester.runpytest_inprocess(
        "--nbval-lax", "--nbval-current-env", "-p", "minispeech.grading.report", "--color=no", "-rA",
        *options, *(f"00_{name}.ipynb" for name in names),
    )  # fmt: skip
    gc.collect()  # close nbval's leaked /dev/null inside this test, where it is filtered
    return result


def report_section(output: str) -> str:
    return output.split("Exercise report ==", 1)[1].split("short test summary")[0]


# nbval opens /dev/null for each kernel's stderr and never closes it.
NBVAL_DEVNULL_LEAK = "ignore:Exception ignored.*/dev/null:pytest.PytestUnraisableExceptionWarning"
NBVAL_DEVNULL_WARNING = "ignore:unclosed file.*/dev/null:ResourceWarning"


def test_locate_cell_names_the_exercise_or_the_heading():
    cells = [
        markdown_cell("## 4. Symbol tables\n\n### Exercise 0.2 — encode", "m0"),
        code_cell("def encode(text):\n    ### BEGIN SOLUTION\n    return []\n    ### END SOLUTION", "c0"),
        code_cell("# TEST: encode\ncheck_encode(encode)", "c1"),
        code_cell('def decode(ids):\n    raise NotImplementedError("Exercise 0.3: decode")', "c2"),
        code_cell("# TEST: decode\ncheck_decode(decode)", "c3"),
        markdown_cell("## 5. The tiny corpus", "m1"),
        code_cell("assert 1 == 2", "c4"),
    ]
    assert locate_cell(cells, 2, "lessons/00_setup.ipynb") == ("Exercise 0.1 (encode)", "Exercise 0.2 — encode")
    assert locate_cell(cells, 4, "lessons/00_setup.ipynb")[0] == "Exercise 0.3 (decode)"
    assert locate_cell(cells, 6, "lessons/00_setup.ipynb") == ("", "5. The tiny corpus")


@pytest.mark.filterwarnings(NBVAL_DEVNULL_LEAK)
@pytest.mark.filterwarnings(NBVAL_DEVNULL_WARNING)
def test_exercise_report_sorts_cells_into_todo_fail_check_error(pytester):
    result = run_notebooks(pytester, ["solved", "unsolved", "wrong", "broken"])
    output = result.stdout.str()
    assert result.ret == 1, output
    report = report_section(output)
    assert "\x1b[" not in report
    assert output.index("Exercise report ==") < output.index("FAILURES ==")  # the report first
    expected_lines = [
        "Exercise report for 00_solved.ipynb\n  all 4 cells passed\n",
        "Exercise report for 00_unsolved.ipynb\n"
        "  TODO   Exercise 0.1 (double) — not implemented yet\n"
        '  TODO   in "2. Using it" # uses double — Exercise 0.1 (double) not implemented yet\n'
        "  2 passed, 2 todo\n",
        "Exercise report for 00_wrong.ipynb\n"
        "  FAIL   in \"1. Doubling\" # TEST: double — double(3): result is 7, expected 6\n"
        "           Hint: multiply by two\n",
        '  CHECK  in "2. Using it" # uses double (not an exercise) — double(4) is not 8: the bar is missed\n'
        "  2 passed, 1 failed, 1 check failed\n  CHECK marks a training or quality bar",
        "Exercise report for 00_broken.ipynb\n"
        '  ERROR  in "2. Using it" # load the data — JSONDecodeError: Expecting property name',
    ]
    for lines in expected_lines:
        assert lines in report, report
    failures = output.split("FAILURES ==", 1)[1]
    assert "Traceback" not in failures and "Input:" not in failures  # nbval's long form is gone
    assert "TODO: Exercise 0.1 (double) not implemented yet" in failures
    assert "----> 3 check_function(double" in failures  # the test cell's own frame, short


@pytest.mark.filterwarnings(NBVAL_DEVNULL_LEAK)
@pytest.mark.filterwarnings(NBVAL_DEVNULL_WARNING)
def test_expect_todo_turns_only_unfinished_exercises_into_xfail(pytester):
    result = run_notebooks(pytester, ["unsolved", "broken"], "--expect-todo")
    summary = result.stdout.str().split("short test summary info")[1]
    assert result.ret == 1, result.stdout.str()
    assert "XFAIL 00_unsolved.ipynb::Cell 2 - Exercise 0.1 (double) not implemented yet" in summary
    assert "XFAIL 00_unsolved.ipynb::Cell 3" in summary
    assert "FAILED 00_broken.ipynb::Cell 4" in summary
    assert "FAILED 00_unsolved" not in summary


# --- readable failures (issue 10) --------------------------------------------------------------


def test_returned_parts_and_named_tuple_fields_are_named():
    from typing import NamedTuple

    class State(NamedTuple):
        hidden: list
        cumulative_weights: list

    expected = (np.zeros(2), State([1.0], [0.5, 0.5]))
    actual = (np.zeros(2), State([1.0], [0.5, 0.25]))
    with pytest.raises(
        AssertionError, match=r"^step: state.cumulative_weights element \[1\] is 0.25, expected 0.5$"
    ):
        assert_close(actual, expected, "step", parts=("logits", "state"))
    with pytest.raises(AssertionError, match=r"^f: context element \[1\] is 1, expected 0"):
        assert_close((np.array([0.0, 1.0]), 2), (np.zeros(2), 2), "f", parts=("context", "weights"))
    with pytest.raises(AssertionError, match=r"expected a tuple of 2: \(context, weights\)"):
        assert_close(np.zeros(2), (np.zeros(2), 2), "f", parts=("context", "weights"))


def test_a_length_mismatch_shows_both_short_sequences_and_the_diagnosis():
    with pytest.raises(
        AssertionError,
        match=r"^beam\(2\): result has length 3, expected 2: \[1, 2, 2\], expected \[1, 2\]\n"
        r"What is wrong: one label too many\nHint: merge\nCase 1 of 1",
    ):
        check_function(lambda x: [1, 2, 2], lambda x: [1, 2], [2], "beam", hint="merge",
                       diagnose=lambda got, want, case: "one label too many")  # fmt: skip
    args, kwargs = failed_case()
    assert args == (2,) and kwargs == {}


def test_a_failing_diagnosis_never_hides_the_mismatch():
    def broken_diagnosis(got, want, case):
        raise IndexError("the diagnosis met an answer it did not expect")

    with pytest.raises(AssertionError, match=r"^f\(1\): result is 2, expected 1\nCase 1 of 1"):
        check_function(lambda x: 2, lambda x: 1, [1], "f", diagnose=broken_diagnosis)


def test_multi_line_reprs_are_described_in_one_line():
    class Module:
        def __repr__(self):
            return "Module(\n  (layer): Linear()\n)"

    assert describe_call("f", {"attention": Module()}) == "f(attention=Module(...))"


def test_profile_banner_prints_only_under_ci(capsys):
    from minispeech import profiles
    from minispeech.grading import profile_banner

    profile_banner(profiles.get("cpu"))
    assert capsys.readouterr().out == ""
    profile_banner(profiles.get("ci"))
    printed = capsys.readouterr().out
    assert printed.startswith("ci profile: numbers below are smoke-test numbers")
    assert printed.count("\n") == 1


def test_tensor_helpers_for_torch_lessons():
    import torch

    from minispeech.grading.checks import as_tensor, tensors_close

    array = np.arange(6.0).reshape(2, 3).T  # not contiguous
    tensor = as_tensor(array)
    assert isinstance(tensor, torch.Tensor) and tensor.is_contiguous() and tensor.tolist() == array.tolist()
    assert tensors_close(tensor + 1e-12, tensor)
    assert not tensors_close(tensor + 1e-3, tensor)
    assert not tensors_close(tensor.T, tensor)  # another shape
    assert not tensors_close(array, tensor)  # not a tensor
