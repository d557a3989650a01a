"""Start a lesson: copy lessons/NN_topic.ipynb to work/ (git-ignored), where your answers live.

Usage:  python -m minispeech.start 04          (also: 4, 04_ctc, 04_ctc.ipynb, ctc)
        python -m minispeech.start 04 --force  (replace your work copy with a fresh one; the old
                                                copy is kept as 04_ctc.<time>.ipynb.bak)
        python -m minispeech.start --all       (copy every lesson not in work/ yet; `make lab`)

`git pull` never conflicts with your work, because work/ is not tracked. Grade your answers
from the repository root with `pytest --nbval-lax work/04_ctc.ipynb`.

find_lesson   the lessons/ notebook a student's argument names, or ValueError listing them all
start_lesson  copy it into work/; FileExistsError if a work copy exists (unless force)
start_all     copy every lesson that work/ lacks, never touching an existing copy
Taught in README.md, "Getting started".
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime
from pathlib import Path

from minispeech.grading.release import display_path, find_repo_root, numbered_notebooks


def find_lesson(lessons_dir: Path, name: str) -> Path:
    """The notebook in `lessons_dir` that `name` means: a number, a file name, or a topic."""
    lessons = numbered_notebooks(lessons_dir)
    wanted = name.strip().removesuffix(".ipynb")
    for lesson in lessons:
        number, topic = lesson.stem.split("_", 1)
        if wanted in (lesson.stem, topic) or (wanted.isdigit() and int(wanted) == int(number)):
            return lesson
    available = "\n".join(f"  {lesson.stem}" for lesson in lessons) or "  (none: lessons/ is empty)"
    raise ValueError(
        f"no lesson matches {name!r} in {display_path(lessons_dir)}/. Available lessons:\n{available}"
    )


def backup_path(target: Path, now: datetime | None = None) -> Path:
    """`work/04_ctc.20260301-142530.ipynb.bak`: a new name per second, never an existing file."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = target.with_name(f"{target.stem}.{stamp}{target.suffix}.bak")
    count = 1
    while candidate.exists():  # two --force runs in the same second
        count += 1
        candidate = target.with_name(f"{target.stem}.{stamp}-{count}{target.suffix}.bak")
    return candidate


def start_lesson(lesson: Path, work_dir: Path, force: bool = False) -> Path:
    """Copy `lesson` into `work_dir`; with force, every earlier copy is kept, timestamped."""
    target = work_dir / lesson.name
    if target.exists():
        if not force:
            raise FileExistsError(
                f"{display_path(target)} already exists and holds your work; it was left unchanged. "
                f"To start over from a fresh copy, add --force (the old copy is kept as "
                f"{backup_path(target).name})."
            )
        shutil.copyfile(target, backup_path(target))
    work_dir.mkdir(exist_ok=True)
    shutil.copyfile(lesson, target)
    return target


def start_all(lessons_dir: Path, work_dir: Path) -> list[Path]:
    """Copy every lesson of `lessons_dir` that `work_dir` lacks; existing copies stay as they are."""
    copied = []
    for lesson in numbered_notebooks(lessons_dir):
        if not (work_dir / lesson.name).exists():
            copied.append(start_lesson(lesson, work_dir))
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minispeech.start", description=__doc__.split("\n")[0]
    )
    parser.add_argument("lesson", nargs="?", help="lesson number or name, e.g. 04, 4, 04_ctc")
    parser.add_argument("--force", action="store_true", help="replace an existing work copy")
    parser.add_argument("--all", action="store_true", help="copy every lesson work/ lacks")
    arguments = parser.parse_args(argv)
    root = find_repo_root()
    if arguments.all:
        copied = start_all(root / "lessons", root / "work")
        names = ", ".join(path.name for path in copied) or "none (work/ has every lesson)"
        print(f"Copied into work/: {names}")
        return 0
    if arguments.lesson is None:
        parser.error("name a lesson (e.g. 04) or pass --all")
    try:
        lesson = find_lesson(root / "lessons", arguments.lesson)
        target = start_lesson(lesson, root / "work", force=arguments.force)
    except (ValueError, FileExistsError) as error:
        print(error, file=sys.stderr)
        return 1
    relative = target.relative_to(root).as_posix()
    print(f"Copied {lesson.relative_to(root).as_posix()} -> {relative}")
    print(f"Open it:      jupyter lab {relative}")
    print(f"Grade it:     pytest --nbval-lax {relative}   (from {root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
