"""Generate lessons/ from solutions/: exercises stripped, hidden tests removed, outputs cleared.

release_notebook   one solutions notebook (a dict) -> the lesson notebook, or NotebookError
lint_notebook      the authoring rules: a `# TEST:` cell after each exercise, no
                   NBVAL_CHECK_OUTPUT (in code cells), no committed outputs
clean_notebook     outputs, execution counts and metadata noise removed (for solutions/)
notebook_bytes     the deterministic on-disk form (what Jupyter/nbformat writes)
plan_release       every lesson built in memory, with the stale, missing and extra files
write_release      write that plan to lessons/
clean_folder       clear outputs in solutions/ in place
find_repo_root     the nearest folder above the current one holding pyproject.toml

Markers, each on its own line inside one code cell:
    ### BEGIN SOLUTION[: title]  ...  ### END SOLUTION      -> raise NotImplementedError("Exercise N.k: title")
    ### BEGIN HIDDEN TESTS       ...  ### END HIDDEN TESTS  -> removed
N is the lesson number from the file name (`04_ctc.ipynb` -> 4), k counts exercises in the
notebook from 1; the title defaults to the name of the enclosing `def`, else "exercise".
Notebooks are read and written as plain JSON, so nbformat is not needed at run time.
Taught in README.md, "Writing a lesson".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

NOTEBOOK_NAME = re.compile(r"^(\d\d)_.+\.ipynb$")
DEF_LINE = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
CELL_METADATA_NOISE = ("collapsed", "scrolled", "execution", "ExecuteTime")
NOTEBOOK_METADATA_NOISE = ("widgets",)


@dataclass(frozen=True)
class Marker:
    """One kind of region: solution code (replaced) or hidden tests (removed)."""

    begin: str
    end: str


SOLUTION = Marker("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = Marker("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


class NotebookError(ValueError):
    """A problem in a solutions notebook; the message names the file, cell and line."""


@dataclass(frozen=True)
class Region:
    """Lines `begin`..`end` (0-based, inclusive) of one cell's source hold a marked region."""

    cell_index: int
    begin: int
    end: int
    title: str  # text after the BEGIN marker, or ""


# --- Reading and writing -----------------------------------------------------------------------


def read_notebook(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise NotebookError(f"{path}: not valid notebook JSON ({error})") from None


def notebook_bytes(notebook: dict) -> bytes:
    """The notebook as nbformat writes it: sorted keys, indent 1, sources split into lines."""
    notebook = json.loads(json.dumps(notebook))  # a deep copy
    for cell in notebook["cells"]:
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(keepends=True)
    text = json.dumps(
        notebook, indent=1, sort_keys=True, ensure_ascii=False, separators=(",", ": ")
    )
    return (text + "\n").encode("utf-8")


def source_lines(cell: dict) -> list[str]:
    """The cell's source as lines with their line endings, whatever form the file stored."""
    source = cell.get("source", "")
    return ("".join(source) if isinstance(source, list) else source).splitlines(keepends=True)


def code_cells(notebook: dict) -> list[tuple[int, dict]]:
    return [
        (index, cell) for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"
    ]


def where(name: str, notebook: dict, cell_index: int, line_index: int | None = None) -> str:
    """'solutions/04_ctc.ipynb: cell 7 (id 3f2a9c), line 12' for error messages (1-based line)."""
    cell_id = notebook["cells"][cell_index].get("id")
    text = f"{name}: cell {cell_index}" + (f" (id {cell_id})" if cell_id else "")
    return text + (f", line {line_index + 1}" if line_index is not None else "")


# --- Finding regions ---------------------------------------------------------------------------


def find_regions(name: str, notebook: dict, marker: Marker) -> list[Region]:
    """All `marker` regions in notebook order; NotebookError for unclosed, nested or stray markers."""
    regions = []
    for cell_index, cell in code_cells(notebook):
        begin, title = None, ""
        lines = source_lines(cell)
        for line_index, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith(marker.begin):
                if begin is not None:
                    raise NotebookError(
                        f"{where(name, notebook, cell_index, line_index)}: {marker.begin} inside the "
                        f"region opened on line {begin + 1}; add {marker.end} before it"
                    )
                begin, title = line_index, stripped[len(marker.begin) :].strip(" :")
            elif stripped.startswith(marker.end):
                if begin is None:
                    raise NotebookError(
                        f"{where(name, notebook, cell_index, line_index)}: {marker.end} without "
                        f"{marker.begin}; add the BEGIN marker or delete this line"
                    )
                regions.append(Region(cell_index, begin, line_index, title))
                begin = None
        if begin is not None:
            raise NotebookError(
                f"{where(name, notebook, cell_index, begin)}: {marker.begin} is never closed in "
                f"this cell; add {marker.end} (a region cannot span cells)"
            )
    return regions


def enclosing_function(lines: list[str], line_index: int) -> str | None:
    """Name of the innermost `def` around line `line_index`, by indentation; None at top level."""
    indent = _indentation(lines[line_index])
    for line in reversed(lines[:line_index]):
        if not line.strip() or _indentation(line) >= indent:
            continue
        match = DEF_LINE.match(line)
        if match:
            return match.group(1)
        if line.lstrip().startswith(")") or line.rstrip().endswith(","):
            continue  # a multi-line signature: its parameters and closing `) -> ...:`
        indent = _indentation(line)
    return None


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


# --- Lint --------------------------------------------------------------------------------------


def first_line(cell: dict) -> str:
    """The first non-blank line of a cell, stripped."""
    return next((line.strip() for line in source_lines(cell) if line.strip()), "")


def lint_notebook(name: str, notebook: dict, solution_regions: list[Region]) -> list[str]:
    """Authoring-rule violations, one message each (see the module docstring)."""
    problems = []
    for cell_index, cell in code_cells(notebook):
        if cell.get("outputs") or cell.get("execution_count") is not None:
            problems.append(
                f"{where(name, notebook, cell_index)}: has outputs or an execution count; "
                "run python -m minispeech.grading clean"
            )
        for line_index, line in enumerate(source_lines(cell)):
            if "NBVAL_CHECK_OUTPUT" in line:
                problems.append(
                    f"{where(name, notebook, cell_index, line_index)}: NBVAL_CHECK_OUTPUT compares "
                    "a student's output with their own saved output; check with an assert instead"
                )
    region_cells = sorted({region.cell_index for region in solution_regions})
    for position, cell_index in enumerate(region_cells):
        next_region_cell = region_cells[position + 1] if position + 1 < len(region_cells) else None
        if not _has_test_cell(notebook, cell_index, next_region_cell):
            first = next(r for r in solution_regions if r.cell_index == cell_index)
            problems.append(
                f"{where(name, notebook, cell_index, first.begin)}: exercise without a test cell; "
                "add a code cell starting with '# TEST: <exercise>' after it, before the next exercise"
            )
    return problems


def _has_test_cell(notebook: dict, after: int, before: int | None) -> bool:
    cells = notebook["cells"][after + 1 : before]
    return any(c["cell_type"] == "code" and first_line(c).startswith("# TEST:") for c in cells)


# --- Transforming ------------------------------------------------------------------------------


def clean_notebook(notebook: dict) -> dict:
    """A copy without outputs, execution counts or metadata noise; kernel name `python3`."""
    notebook = json.loads(json.dumps(notebook))
    for cell in notebook["cells"]:
        for key in CELL_METADATA_NOISE:
            cell.get("metadata", {}).pop(key, None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    metadata = notebook.setdefault("metadata", {})
    for key in NOTEBOOK_METADATA_NOISE:
        metadata.pop(key, None)
    metadata["kernelspec"] = dict(KERNELSPEC)
    metadata["language_info"] = {"name": "python"}
    return notebook


def release_notebook(name: str, notebook: dict, lesson_number: int) -> dict:
    """The lesson notebook made from a solutions notebook; NotebookError on bad markers or lint."""
    solutions = find_regions(name, notebook, SOLUTION)
    hidden = find_regions(name, notebook, HIDDEN_TESTS)
    _reject_overlaps(name, notebook, solutions, hidden)
    problems = lint_notebook(name, notebook, solutions)
    if problems:
        raise NotebookError("\n".join(problems))
    lesson = clean_notebook(notebook)
    exercise_numbers = {
        region: f"{lesson_number}.{k}" for k, region in enumerate(solutions, start=1)
    }
    # Edit from the bottom of each cell up, so earlier line numbers stay valid.
    for region in sorted(solutions + hidden, key=lambda r: (r.cell_index, r.begin), reverse=True):
        cell = lesson["cells"][region.cell_index]
        if region in exercise_numbers:
            _replace_solution(cell, region, exercise_numbers[region])
        else:
            _remove_lines(cell, region.begin, region.end)
    return lesson


def _reject_overlaps(
    name: str, notebook: dict, solutions: list[Region], hidden: list[Region]
) -> None:
    for solution in solutions:
        for test in hidden:
            if solution.cell_index == test.cell_index and not (
                test.end < solution.begin or solution.end < test.begin
            ):
                raise NotebookError(
                    f"{where(name, notebook, test.cell_index, test.begin)}: hidden tests overlap the "
                    f"solution region on lines {solution.begin + 1}-{solution.end + 1}; separate them"
                )


def _replace_solution(cell: dict, region: Region, exercise: str) -> None:
    lines = source_lines(cell)
    title = region.title or enclosing_function(lines, region.begin) or "exercise"
    message = json.dumps(f"Exercise {exercise}: {title}", ensure_ascii=False)
    ending = "\n" if lines[region.end].endswith("\n") else ""
    indent = lines[region.begin][: _indentation(lines[region.begin])]
    lines[region.begin : region.end + 1] = [f"{indent}raise NotImplementedError({message}){ending}"]
    cell["source"] = lines


def _remove_lines(cell: dict, begin: int, end: int) -> None:
    lines = source_lines(cell)
    del lines[begin : end + 1]
    if begin == len(lines):  # the region ended the cell: drop blank lines and the final newline
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            lines[-1] = lines[-1].rstrip("\n")
    cell["source"] = lines


# --- Whole folders -----------------------------------------------------------------------------


@dataclass
class ReleasePlan:
    """What `release` would write: every lesson's bytes, and which files differ on disk."""

    lessons: dict[Path, bytes]
    stale: list[Path]  # exists but differs from what solutions/ makes
    missing: list[Path]  # no lesson file yet
    extra: list[Path]  # a lesson with no solutions notebook

    @property
    def up_to_date(self) -> bool:
        return not (self.stale or self.missing or self.extra)


def numbered_notebooks(folder: Path) -> list[Path]:
    """`NN_topic.ipynb` files in `folder`, sorted; other files are not lessons."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and NOTEBOOK_NAME.match(p.name))


def plan_release(solutions_dir: Path, lessons_dir: Path) -> ReleasePlan:
    """Build every lesson in memory; NotebookError listing every problem in every notebook."""
    if not solutions_dir.is_dir():
        raise NotebookError(f"{solutions_dir}: no such folder; pass --solutions DIR")
    lessons, problems = {}, []
    for path in numbered_notebooks(solutions_dir):
        lesson_number = int(NOTEBOOK_NAME.match(path.name).group(1))
        try:
            lesson = release_notebook(display_path(path), read_notebook(path), lesson_number)
        except NotebookError as error:
            problems.append(str(error))
            continue
        lessons[lessons_dir / path.name] = notebook_bytes(lesson)
    if problems:
        raise NotebookError("\n".join(problems))
    stale = [p for p, data in lessons.items() if p.exists() and p.read_bytes() != data]
    missing = [p for p in lessons if not p.exists()]
    extra = [p for p in numbered_notebooks(lessons_dir) if p not in lessons]
    return ReleasePlan(lessons, stale, missing, extra)


def write_release(plan: ReleasePlan) -> list[str]:
    """Write stale and missing lessons, delete extra ones; one line per change."""
    changes = []
    for path in plan.stale + plan.missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(plan.lessons[path])
        changes.append(f"wrote {display_path(path)}")
    for path in plan.extra:
        path.unlink()
        changes.append(f"removed {display_path(path)} (its solutions notebook is gone)")
    return changes


def clean_folder(solutions_dir: Path) -> list[Path]:
    """Clear outputs and metadata noise of every notebook in `solutions_dir`; the files changed."""
    changed = []
    for path in numbered_notebooks(solutions_dir):
        data = notebook_bytes(clean_notebook(read_notebook(path)))
        if path.read_bytes() != data:
            path.write_bytes(data)
            changed.append(path)
    return changed


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the current folder) with pyproject.toml."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def display_path(path: Path) -> str:
    """`path` relative to the current folder when it is below it, for short messages."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
