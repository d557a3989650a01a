"""Repository-wide pytest setup: the exercise report for notebooks run with `pytest --nbval-lax`.

Prints which exercise cells are TODO / FAIL / ERROR; `--expect-todo` makes unfinished exercises
xfail (CI runs `pytest --nbval-lax --expect-todo lessons/`). The logic is in
minispeech/grading/report.py.
"""

pytest_plugins = ["minispeech.grading.report"]
