"""The exercise report: a pytest plugin that sums up notebook cells run by `pytest --nbval-lax`.

pytest_addoption    adds --expect-todo: unfinished exercises become xfail (for CI on lessons/)
pytest_configure    registers ExerciseReport (it acts only on `path.ipynb::Cell N` items)
ExerciseReport      labels each failing cell and prints, per notebook:

    Exercise report for lessons/00_setup_data_text.ipynb
      TODO   Cell 3   # TEST: number_to_words — Exercise 0.1 (number_to_words) not implemented yet
      FAIL   Cell 7   # TEST: symbol table — encode('hi'): element [1] is 9, expected 8
      3 passed, 1 todo, 1 failed

TODO: the cell raised `NotImplementedError("Exercise N.k: ...")` (from a lesson's stub);
FAIL: an AssertionError (a check found a wrong answer); ERROR: anything else.
The root conftest.py loads this module. Taught in lessons/00_setup_data_text.ipynb,
"How your exercises are graded".
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

NOTEBOOK_CELL_ID = re.compile(r"^(?P<path>.+\.ipynb)::Cell (?P<number>\d+)$")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
EXERCISE_STUB = re.compile(
    r"NotImplementedError: Exercise (?P<number>\d+\.\d+)(?:: (?P<title>[^\n]*))?"
)
LAST_EXCEPTION_LINE = re.compile(
    r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)): ?(?P<value>.*)$"
)
ARROW_LINE = re.compile(r"^-+> *\d+ (?P<code>.*)$")
MESSAGE_LINES = 4  # lines of an assertion message shown in the report
STATUS_COLOUR = {
    "TODO": {"yellow": True},
    "FAIL": {"red": True},
    "ERROR": {"red": True, "bold": True},
}


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
    """(status, message) of a failed cell: TODO, FAIL or ERROR."""
    text = failure_text(excinfo)
    stub = EXERCISE_STUB.search(text)
    if stub:
        title = f" ({stub.group('title')})" if stub.group("title") else ""
        return "TODO", f"Exercise {stub.group('number')}{title} not implemented yet"
    name, value = kernel_error(item, text)
    if name == "AssertionError":
        return "FAIL", value.strip() or _failed_assert_line(text)
    if name == "KeyboardInterrupt" or not name:  # a timeout, or a dead kernel
        return "ERROR", str(excinfo.value).splitlines()[0]
    return "ERROR", f"{name}: {value}".strip()


def _failed_assert_line(text: str) -> str:
    """For a bare `assert x == 3`: the arrowed line of the traceback, 'assert x == 3 failed'."""
    arrowed = [m.group("code") for m in map(ARROW_LINE.match, text.splitlines()) if m]
    return f"{arrowed[-1].strip()} failed" if arrowed else "assertion failed"


# --- The plugin --------------------------------------------------------------------------------


class ExerciseReport:
    """Annotates notebook-cell reports with a status, collects them, and prints the report.

    Statuses are plain attributes of the reports, which pytest serializes with them, so the
    report should also work under pytest-xdist `--dist loadfile` (not tested here).
    """

    def __init__(self, config: pytest.Config):
        self.expect_todo = bool(config.getoption("expect_todo", False))
        self.cells: dict[str, dict[int, tuple[str, str, str]]] = defaultdict(dict)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if not NOTEBOOK_CELL_ID.match(item.nodeid):
            return report
        if report.failed:
            status, message = classify(item, call.excinfo) if call.excinfo else ("ERROR", "")
        elif report.when == "call":
            status, message = ("SKIP" if report.skipped else "PASS"), ""
        else:
            return report
        if isinstance(report.longrepr, str) and not item.config.get_terminal_writer().hasmarkup:
            report.longrepr = strip_ansi(report.longrepr)  # readable CI logs and pipes
        report.exercise_status = status
        report.exercise_label = cell_label(getattr(getattr(item, "cell", None), "source", ""))
        report.exercise_message = message
        if status == "TODO" and self.expect_todo:
            report.outcome, report.wasxfail = "skipped", message
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        match = NOTEBOOK_CELL_ID.match(report.nodeid)
        status = getattr(report, "exercise_status", None)
        if match and status:
            cell = (status, report.exercise_label, report.exercise_message)
            self.cells[match.group("path")][int(match.group("number"))] = cell

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.cells:
            return
        terminalreporter.section("Exercise report", sep="=")
        for index, (path, cells) in enumerate(self.cells.items()):
            if index:
                terminalreporter.write_line("")
            self._write_notebook(terminalreporter, path, cells)

    def _write_notebook(self, terminal, path: str, cells: dict[int, tuple[str, str, str]]) -> None:
        terminal.write_line(f"Exercise report for {path}", bold=True)
        for number, (status, label, message) in sorted(cells.items()):
            if status in ("PASS", "SKIP"):
                continue
            message = _explain(status, message, cells, number)
            first, *rest = message.splitlines() or [""]
            row = f"  {status:<5}  Cell {number:<3} " + " — ".join(filter(None, [label, first]))
            terminal.write_line(row, **STATUS_COLOUR[status])
            for line in rest[: MESSAGE_LINES - 1]:
                terminal.write_line(f"{'':20}{line}")
        terminal.write_line(f"  {_counts(cells)}")


def _explain(status: str, message: str, cells: dict, number: int) -> str:
    """Add a likely cause to a NameError that follows an unfinished exercise."""
    todo_above = any(s == "TODO" for n, (s, _, _) in cells.items() if n < number)
    if status == "ERROR" and message.startswith("NameError") and todo_above:
        return message + " (probably because an exercise above is not finished yet)"
    return message


def _counts(cells: dict[int, tuple[str, str, str]]) -> str:
    """'3 passed, 1 todo, 1 failed', or 'all 4 cells passed'."""
    statuses = [status for status, _, _ in cells.values()]
    if all(status in ("PASS", "SKIP") for status in statuses) and "PASS" in statuses:
        return f"all {statuses.count('PASS')} cells passed" + (
            f", {statuses.count('SKIP')} skipped" if "SKIP" in statuses else ""
        )
    words = {"TODO": "todo", "FAIL": "failed", "ERROR": "error", "SKIP": "skipped"}
    parts = [f"{statuses.count(s)} {word}" for s, word in words.items() if s in statuses]
    return ", ".join([f"{statuses.count('PASS')} passed", *parts])
