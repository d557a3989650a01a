"""Repository-wide pytest setup: the exercise report, and the opt-in slow notebook tests.

The exercise report for notebooks run with `pytest --nbval-lax` prints which exercise cells are
TODO / FAIL / CHECK / ERROR; `--expect-todo` makes unfinished exercises xfail (CI runs
`pytest --nbval-lax --expect-todo lessons/`). Its logic is in minispeech/grading/report.py.

Tests marked `@pytest.mark.notebook` run whole lesson notebooks in a subprocess (minutes); they
are skipped unless `--run-notebooks` is given, e.g.
`MINISPEECH_PROFILE=ci pytest -q --run-notebooks tests/test_mutations.py`.
"""

import pytest

pytest_plugins = ["minispeech.grading.report"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-notebooks",
        action="store_true",
        help="run the slow tests marked `notebook` (whole lesson notebooks in a subprocess)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "notebook: runs a whole lesson notebook in a subprocess (slow; --run-notebooks)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-notebooks"):
        return
    skip = pytest.mark.skip(reason="runs a whole notebook (slow): pass --run-notebooks")
    for item in items:
        if "notebook" in item.keywords:
            item.add_marker(skip)
