"""The committed notebooks: lessons/ is what solutions/ generates, and nothing carries outputs.

Running the notebooks themselves is CI's job, not the unit tests':
    pytest --nbval-lax solutions/                  every solution passes
    pytest --nbval-lax --expect-todo lessons/      lessons fail only at their exercises
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minispeech.grading.release import numbered_notebooks

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = numbered_notebooks(REPO_ROOT / "solutions") + numbered_notebooks(REPO_ROOT / "lessons")


def test_lessons_are_generated_from_solutions():
    result = subprocess.run(
        [sys.executable, "-m", "minispeech.grading", "release", "--check"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("lessons/ is up to date")
    if not numbered_notebooks(REPO_ROOT / "solutions"):
        pytest.skip("the release tool runs, but solutions/ holds no notebooks yet")


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks yet"))],
    ids=lambda path: str(path.relative_to(REPO_ROOT)) if path else "none",
)
def test_notebook_has_no_outputs_or_execution_counts(path: Path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, (
                f"{path.name}: cell {index} has outputs; run python -m minispeech.grading clean, then release"
            )
