"""No hint or failure message of minispeech.grading gives a solution away.

Every non-trivial line of every solution region (`### BEGIN SOLUTION` ... `### END SOLUTION`
in solutions/*.ipynb: stripped, at least 12 characters, not a comment or docstring line) must
not appear in any string the grading modules can print: their string literals and the constant
parts of their f-strings, docstrings excluded (students do not see those in a failure).
Whitespace is removed on both sides before comparing. Issue 10: hints say what is wrong and where, then a
conceptual nudge; never code.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
GRADING_MODULES = sorted((ROOT / "minispeech" / "grading").glob("*.py"))
MIN_LINE_CHARS = 12


def normalize(text: str) -> str:
    """Without any whitespace, so `x @ W.T` and `x@W.T` compare equal."""
    return re.sub(r"\s+", "", text)


def solution_lines(notebook_path: Path) -> list[str]:
    """The non-trivial lines inside the solution regions of one solutions notebook."""
    lines, inside, in_docstring = [], False, False
    for cell in json.loads(notebook_path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for line in "".join(cell["source"]).splitlines():
            stripped = line.strip()
            if stripped.startswith("### BEGIN SOLUTION"):
                inside = True
                continue
            if stripped.startswith("### END SOLUTION"):
                inside = False
                continue
            if not inside:
                continue
            quotes = stripped.count('"""') + stripped.count("'''")
            if in_docstring or quotes:
                in_docstring = in_docstring != (quotes % 2 == 1)
                continue
            if len(stripped) >= MIN_LINE_CHARS and not stripped.startswith("#"):
                lines.append(normalize(stripped))
    return lines


def _docstring_nodes(tree: ast.AST) -> set[int]:
    nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                nodes.add(id(body[0].value))
    return nodes


def message_strings(module_path: Path) -> list[str]:
    """String literals and f-string constant parts of a grading module, docstrings excluded."""
    tree = ast.parse(module_path.read_text())
    docstrings = _docstring_nodes(tree)
    strings = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            strings.append(normalize(node.value))
    return strings


ALL_SOLUTION_LINES = {path.name: solution_lines(path) for path in SOLUTIONS}
ALL_MESSAGES = {path.name: message_strings(path) for path in GRADING_MODULES}


def test_the_scan_finds_solution_lines_and_messages():
    assert len(SOLUTIONS) >= 4 and all(ALL_SOLUTION_LINES.values()), ALL_SOLUTION_LINES.keys()
    assert any("Hint" in s or "hint" in s for strings in ALL_MESSAGES.values() for s in strings)


def test_a_hint_quoting_a_solution_line_is_caught(tmp_path):
    """The scan itself works: an old 5.3-style hint (the full code) would be found."""
    leaky = tmp_path / "leaky.py"
    leaky.write_text('HINT = ("input = torch.cat([embedded, state.context], dim=-1); "\n"done")\n')
    strings = message_strings(leaky)
    assert any(normalize("torch.cat([embedded, state.context], dim=-1)") in s for s in strings)


@pytest.mark.parametrize("notebook", [path.name for path in SOLUTIONS])
def test_no_message_contains_a_solution_line(notebook):
    leaks = [
        (module, line)
        for line in ALL_SOLUTION_LINES[notebook]
        for module, strings in ALL_MESSAGES.items()
        if any(line in string for string in strings)
    ]
    assert not leaks, "grading messages that quote a solution line:\n" + "\n".join(
        f"  minispeech/grading/{module}: {line}" for module, line in leaks
    )
