"""The exercise report: a pytest plugin that sums up notebook cells run by `pytest --nbval-lax`.

pytest_addoption    adds --expect-todo: unfinished exercises become xfail (for CI on lessons/)
pytest_configure    registers ExerciseReport (it acts only on `path.ipynb::Cell N` items)
ExerciseReport      labels each failing cell and prints, per notebook, before pytest's tracebacks:

    Exercise report for work/00_setup_data_text.ipynb
      TODO   Exercise 0.1 (number_to_words) — not implemented yet
      FAIL   Exercise 0.2 (encode) — encode('hi'): element [1] is 9, expected 8
                 Hint: ...
      CHECK  in "6. How good is it?" (not an exercise) — greedy CER 0.41 is above the bar 0.35
      3 passed, 1 todo, 1 failed, 1 check failed

TODO: a cell raised `NotImplementedError("Exercise N.k: ...")` (a lesson's stub).
FAIL: a `# TEST:` cell raised AssertionError: that exercise's answer is wrong.
CHECK: any other cell raised AssertionError: a training or quality bar downstream of the
       exercises failed, not an exercise; the report says what to do about it.
ERROR: anything else (an exception in your code, a timeout, a dead kernel).
A cell is named by its exercise (a `# TEST:` cell: the exercise of the nearest solution cell
above it) or by the nearest markdown heading above it, never by nbval's "Cell N", which counts
code cells Jupyter does not show. pytest's failure section then shows one short traceback per
failing cell (only the notebook's own frames), and none for TODO.
The root conftest.py loads this module. Taught in lessons/00_setup_data_text.ipynb,
"How your exercises are graded".
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from minispeech.grading.release import enclosing_function

# nbval's node ids: 'lessons/00_x.ipynb::Cell 3'; for a notebook outside the rootdir pytest
# writes only '::Cell 3' (or a bare parent folder), so the notebook's path comes from the report.
NOTEBOOK_CELL_ID = re.compile(r"::Cell (?P<number>\d+)$")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
EXERCISE_STUB = re.compile(
    r"NotImplementedError: Exercise (?P<number>\d+\.\d+)(?:: (?P<title>[^\n]*))?"
)
STUB_IN_SOURCE = re.compile(r"NotImplementedError\(\"Exercise (?P<number>\d+\.\d+)(?:: (?P<title>[^\"]*))?\"\)")
SOLUTION_BEGIN = "### BEGIN SOLUTION"
LAST_EXCEPTION_LINE = re.compile(
    r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)): ?(?P<value>.*)$"
)
ARROW_LINE = re.compile(r"^-+> *\d+ (?P<code>.*)$")
NOTEBOOK_FRAME = re.compile(r"^(Cell In ?\[|Input In ?\[)")
MESSAGE_LINES = 4  # lines of an assertion message shown in the report
TRACEBACK_FRAME_LINES = 8  # lines kept of each notebook frame in the short traceback
STATUS_COLOUR = {
    "TODO": {"yellow": True},
    "FAIL": {"red": True},
    "CHECK": {"purple": True},
    "ERROR": {"red": True, "bold": True},
}
CHECK_ADVICE = (
    "CHECK marks a training or quality bar below the exercises, not an exercise. If an exercise "
    "above is TODO or FAIL, finish or fix it first: later cells use it. If every exercise passes, "
    "your exercises are fine: read the number printed above the failing bar and rerun the "
    "notebook; a run on a busy or slow machine, or under the ci profile, can miss a bar that an "
    "idle cpu run reaches."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("exercise report").addoption(
        "--expect-todo",
        action="store_true",
        help="treat cells failing only because an exercise is not implemented yet as xfail",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("exercise-report"):
        config.pluginmanager.register(ExerciseReport(config), "exercise-report")


# --- Reading a failed cell ---------------------------------------------------------------------


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def cell_label(source: str) -> str:
    """The cell's `# TEST:` line, else its first comment line (not an NBVAL directive), else ''."""
    lines = [line.strip() for line in source.splitlines()]
    comments = [line for line in lines if line.startswith("#") and not line.startswith("# NBVAL")]
    test_lines = [line for line in comments if line.startswith("# TEST:")]
    return (test_lines or comments or [""])[0]


def is_test_cell(source: str) -> bool:
    """A `# TEST:` cell grades an exercise; every other cell is a demo or a downstream check."""
    return cell_label(source).startswith("# TEST:")


def _lesson_number(path: str) -> str:
    digits = Path(path).name.split("_", 1)[0]
    return str(int(digits)) if digits.isdigit() else "?"


def _exercises_in(source: str, lesson_number: str, count_before: int) -> list[str]:
    """'0.2 (encode)'-style names of the exercises a cell holds: lesson stubs or solution regions."""
    stubs = [
        match.group("number") + (f" ({match.group('title')})" if match.group("title") else "")
        for match in STUB_IN_SOURCE.finditer(source)
    ]
    if stubs:
        return stubs
    lines = source.splitlines(keepends=True)
    names = []
    for index, line in enumerate(lines):
        if line.strip().startswith(SOLUTION_BEGIN):
            title = line.strip()[len(SOLUTION_BEGIN) :].strip(" :")
            title = title or enclosing_function(lines, index) or ""
            number = f"{lesson_number}.{count_before + len(names) + 1}"
            names.append(f"{number} ({title})" if title else number)
    return names


def _heading(source: str) -> str:
    """The last markdown heading of a markdown cell's source, without the #s, or ''."""
    headings = [line.lstrip("#").strip() for line in source.splitlines() if line.startswith("#")]
    return headings[-1] if headings else ""


def locate_cell(cells: list, index: int, path: str) -> tuple[str, str]:
    """(exercise label or '', nearest heading above or '') of the cell at `index` of `cells`."""
    lesson_number = _lesson_number(path)
    exercises_before, last_exercises, heading = 0, [], ""
    for cell in cells[:index]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            heading = _heading(source) or heading
        elif cell["cell_type"] == "code":
            found = _exercises_in(source, lesson_number, exercises_before)
            if found:
                exercises_before += len(found)
                last_exercises = found
    source = cells[index]["source"]
    source = source if isinstance(source, str) else "".join(source)
    if not is_test_cell(source) or not last_exercises:
        return "", heading
    if len(last_exercises) == 1 and "(" in last_exercises[0]:
        return f"Exercise {last_exercises[0]}", heading  # 'Exercise 2.3 (mfcc_from_log_mel)'
    test_name = cell_label(source).removeprefix("# TEST:").strip()
    plural = "Exercises" if len(last_exercises) > 1 else "Exercise"
    numbers = ", ".join(name.split(" ")[0] for name in last_exercises)
    return f"{plural} {numbers} ({test_name})", heading


def item_location(item: pytest.Item) -> tuple[str, str]:
    """locate_cell for an nbval item; ('', '') when the notebook is not at hand."""
    cell = getattr(item, "cell", None)
    cells = getattr(getattr(getattr(item, "parent", None), "nb", None), "cells", None)
    if cell is None or not cells:
        return "", ""
    index = next((i for i, candidate in enumerate(cells) if candidate is cell), None)
    if index is None:
        return "", ""
    return locate_cell(cells, index, str(getattr(item, "fspath", "")))


def failure_text(excinfo: pytest.ExceptionInfo) -> str:
    """The cell's traceback as plain text (nbval wraps the kernel's error in NbCellError)."""
    error = excinfo.value
    traceback = getattr(error, "inner_traceback", None) or ""
    return strip_ansi(f"{error}\n{traceback}")


def kernel_error(item: pytest.Item, text: str) -> tuple[str, str]:
    """(exception name, message) of the error the cell raised in the kernel."""
    for output in getattr(item, "test_outputs", None) or []:
        if output.get("output_type") == "error":
            return output.get("ename", ""), strip_ansi(output.get("evalue", ""))
    for line in reversed(text.splitlines()):
        match = LAST_EXCEPTION_LINE.match(line.strip())
        if match:
            return match.group("name"), match.group("value")
    return "", text.strip().splitlines()[0] if text.strip() else ""


def classify(item: pytest.Item, excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    """(status, message) of a failed cell: TODO, FAIL, CHECK or ERROR."""
    text = failure_text(excinfo)
    stub = EXERCISE_STUB.search(text)
    if stub:
        title = f" ({stub.group('title')})" if stub.group("title") else ""
        return "TODO", f"Exercise {stub.group('number')}{title} not implemented yet"
    name, value = kernel_error(item, text)
    if name == "AssertionError":
        source = getattr(getattr(item, "cell", None), "source", "")
        status = "FAIL" if is_test_cell(source) else "CHECK"
        return status, value.strip() or _failed_assert_line(text)
    if name == "KeyboardInterrupt" or not name:  # a timeout, or a dead kernel
        return "ERROR", str(excinfo.value).splitlines()[0]
    return "ERROR", f"{name}: {value}".strip()


def _failed_assert_line(text: str) -> str:
    """For a bare `assert x == 3`: the arrowed line of the traceback, 'assert x == 3 failed'."""
    arrowed = [m.group("code") for m in map(ARROW_LINE.match, text.splitlines()) if m]
    return f"{arrowed[-1].strip()} failed" if arrowed else "assertion failed"


def short_traceback(text: str) -> str:
    """Only the notebook's own frames (`Cell In[3], line 2` blocks), each cut short."""
    blocks, current = [], []
    for line in text.splitlines():
        if NOTEBOOK_FRAME.match(line) or line.startswith("File ") or not line.strip():
            if current:
                blocks.append(current)
            current = [line] if line.strip() else []
        elif current:
            current.append(line)
    if current:
        blocks.append(current)
    kept = [block[:TRACEBACK_FRAME_LINES] for block in blocks if NOTEBOOK_FRAME.match(block[0])]
    return "\n".join("\n".join(block) for block in kept)


# --- The plugin --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellResult:
    status: str  # PASS, SKIP, TODO, FAIL, CHECK or ERROR
    name: str  # 'Exercise 0.2 (encode)' or 'in "5. The tiny corpus"' or 'Cell 7'
    message: str  # the first lines of the error message


class ExerciseReport:
    """Annotates notebook-cell reports with a status, collects them, and prints the report.

    Statuses are plain attributes of the reports, which pytest serializes with them, so the
    report should also work under pytest-xdist `--dist loadfile` (not tested here).
    """

    def __init__(self, config: pytest.Config):
        self.expect_todo = bool(config.getoption("expect_todo", False))
        self.cells: dict[str, dict[int, CellResult]] = defaultdict(dict)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if not NOTEBOOK_CELL_ID.search(item.nodeid):
            return report
        if report.failed:
            status, message = classify(item, call.excinfo) if call.excinfo else ("ERROR", "")
        elif report.when == "call":
            status, message = ("SKIP" if report.skipped else "PASS"), ""
        else:
            return report
        exercise, heading = item_location(item)
        comment = cell_label(getattr(getattr(item, "cell", None), "source", ""))
        if exercise:
            name = exercise
        elif heading:
            name = f'in "{heading}"' + (f" {comment}" if comment else "")
        else:
            name = comment or f"Cell {getattr(item, 'cell_num', '?')}"
        if status == "CHECK":
            name += " (not an exercise)"
        report.exercise_status = status
        report.exercise_label = name
        report.exercise_message = message
        if report.failed:
            report.longrepr = self._short_longrepr(status, name, message, call.excinfo)
        if status == "TODO" and self.expect_todo:
            report.outcome, report.wasxfail = "skipped", message
        return report

    @staticmethod
    def _short_longrepr(status: str, name: str, message: str, excinfo) -> str:
        """What pytest prints for a failed cell: no traceback for TODO, a short one otherwise."""
        if status == "TODO" or excinfo is None:
            return f"{status}: {message}"
        text = failure_text(excinfo)
        frames = short_traceback(text)
        parts = [f"{status} {name}", frames, message] if frames else [f"{status} {name}", message]
        return "\n".join(part for part in parts if part)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        match = NOTEBOOK_CELL_ID.search(report.nodeid)
        status = getattr(report, "exercise_status", None)
        if match and status:
            cell = CellResult(status, report.exercise_label, report.exercise_message)
            path = report.location[0] if report.location else report.nodeid[: match.start()]
            self.cells[path][int(match.group("number"))] = cell

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter):
        """The report comes first, before pytest's failure tracebacks."""
        if self.cells:
            terminalreporter.section("Exercise report", sep="=")
            for index, (path, cells) in enumerate(self.cells.items()):
                if index:
                    terminalreporter.write_line("")
                self._write_notebook(terminalreporter, path, cells)
        return (yield)

    def _write_notebook(self, terminal, path: str, cells: dict[int, CellResult]) -> None:
        terminal.write_line(f"Exercise report for {path}", bold=True)
        for number, cell in sorted(cells.items()):
            if cell.status in ("PASS", "SKIP"):
                continue
            message = _explain(cell.status, cell.message, cells, number)
            first, *rest = message.splitlines() or [""]
            if first.startswith(cell.name):  # 'Exercise 0.1 (x) — not implemented yet', once
                first = first[len(cell.name) :].strip()
            row = f"  {cell.status:<5}  " + " — ".join(filter(None, [cell.name, first]))
            terminal.write_line(row, **STATUS_COLOUR[cell.status])
            for line in rest[: MESSAGE_LINES - 1]:
                terminal.write_line(f"{'':11}{line}")
        terminal.write_line(f"  {_counts(cells)}")
        if any(cell.status == "CHECK" for cell in cells.values()):
            terminal.write_line(f"  {CHECK_ADVICE}")


def _explain(status: str, message: str, cells: dict[int, CellResult], number: int) -> str:
    """Add a likely cause to a NameError that follows an unfinished exercise."""
    todo_above = any(cell.status == "TODO" for n, cell in cells.items() if n < number)
    if status == "ERROR" and message.startswith("NameError") and todo_above:
        return message + " (probably because an exercise above is not finished yet)"
    return message


def _counts(cells: dict[int, CellResult]) -> str:
    """'3 passed, 1 todo, 1 failed, 1 check failed', or 'all 4 cells passed'."""
    statuses = [cell.status for cell in cells.values()]
    if all(status in ("PASS", "SKIP") for status in statuses) and "PASS" in statuses:
        return f"all {statuses.count('PASS')} cells passed" + (
            f", {statuses.count('SKIP')} skipped" if "SKIP" in statuses else ""
        )
    words = {"TODO": "todo", "FAIL": "failed", "CHECK": "check failed", "ERROR": "error",
             "SKIP": "skipped"}  # fmt: skip
    parts = [f"{statuses.count(s)} {word}" for s, word in words.items() if s in statuses]
    return ", ".join([f"{statuses.count('PASS')} passed", *parts])
