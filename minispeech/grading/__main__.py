"""Command line: `python -m minispeech.grading release [--check]` and `... clean`.

release          write lessons/ from solutions/ (exit 2 on marker or lint errors)
release --check  write nothing; exit 1 if lessons/ is stale, 0 if it is up to date
clean            clear outputs and execution counts of solutions/ notebooks in place

Folders default to solutions/ and lessons/ at the repository root (the nearest folder
above the current one with pyproject.toml). Taught in README.md, "Writing a lesson".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minispeech.grading.release import (
    NotebookError,
    clean_folder,
    display_path,
    find_repo_root,
    plan_release,
    write_release,
)

FIX = "run python -m minispeech.grading release"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m minispeech.grading", description="Write lessons/ from solutions/."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="write lessons/ from solutions/")
    release.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if lessons/ is stale"
    )
    clean = commands.add_parser("clean", help="clear outputs of solutions/ notebooks in place")
    for command in (release, clean):
        command.add_argument("--solutions", type=Path, help="default: solutions/ at the repo root")
    release.add_argument("--lessons", type=Path, help="default: lessons/ at the repo root")
    return parser.parse_args(argv)


def run_release(solutions_dir: Path, lessons_dir: Path, check: bool) -> int:
    try:
        plan = plan_release(solutions_dir, lessons_dir)
    except NotebookError as error:
        print(error, file=sys.stderr)
        return 2
    if check and not plan.up_to_date:
        for label, paths in (
            ("stale", plan.stale),
            ("missing", plan.missing),
            ("no solution for", plan.extra),
        ):
            for path in paths:
                print(f"{label}: {display_path(path)}")
        print(f"{display_path(lessons_dir)}/ is out of date: {FIX}")
        return 1
    if not check:
        for change in write_release(plan):
            print(change)
    print(f"{display_path(lessons_dir)}/ is up to date ({len(plan.lessons)} notebooks)")
    return 0


def run_clean(solutions_dir: Path) -> int:
    if not solutions_dir.is_dir():
        print(f"{solutions_dir}: no such folder; pass --solutions DIR", file=sys.stderr)
        return 2
    try:
        changed = clean_folder(solutions_dir)
    except NotebookError as error:
        print(error, file=sys.stderr)
        return 2
    for path in changed:
        print(f"cleaned {display_path(path)}")
    print(f"{display_path(solutions_dir)} is clean ({len(changed)} notebooks changed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    root = find_repo_root()
    solutions_dir = arguments.solutions or root / "solutions"
    if arguments.command == "clean":
        return run_clean(solutions_dir)
    return run_release(solutions_dir, arguments.lessons or root / "lessons", arguments.check)


if __name__ == "__main__":
    sys.exit(main())
