"""The course's command line (also installed as the console script ``cnnedu``).

    python -m cnnedu lessons DIR      copy this version's lesson notebooks into DIR (never overwrites)
    python -m cnnedu data             fetch full Fashion-MNIST once (like ./course.sh data)
    python -m cnnedu grade FOLDER...  grade learners' notebooks: a CSV and a short summary
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cnnedu import course_files

# Where `data` puts the download: the course's data/ in a source checkout (as ./course.sh data),
# else torchvision's usual folder, which cnnedu.data's lookup reads from any working folder.
USER_DATA_DIR = Path("~/.cache/torchvision/FashionMNIST/raw").expanduser()


def _lessons(args: argparse.Namespace) -> int:
    from cnnedu.handout import copy_lessons, report

    handed = copy_lessons(args.dir)
    text = report(handed, args.dir, quiet=args.quiet)
    if text:
        print(text)
    return 0


def _data(args: argparse.Namespace) -> int:
    from cnnedu import data, download

    if args.timeout <= 0:
        raise SystemExit(f"--timeout must be positive, got {args.timeout}")
    installed = course_files.course_path("notebooks").parent == course_files.PACKAGED
    target = args.to or (USER_DATA_DIR if installed else data.COURSE_DATA_DIR)
    return download.ensure_full_data(target=Path(target).expanduser(), timeout=args.timeout)


def _grade(args: argparse.Namespace) -> int:
    from cnnedu.grade import grade
    from cnnedu.grade_report import summary

    lessons = [n.strip().zfill(2) for n in args.lessons.split(",")] if args.lessons else None
    rows = grade([Path(f) for f in args.folders], Path(args.out), read=args.read,
                 limit_s=args.limit, jobs=args.jobs, lessons=lessons)
    print(summary(rows))
    print(f"\nwritten: {Path(args.out) / 'grades.csv'}, {Path(args.out) / 'summary.txt'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnedu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lessons = commands.add_parser("lessons", help="copy the lesson notebooks into a folder")
    lessons.add_argument("dir", help="folder for the learner's copies (made if missing)")
    lessons.add_argument("--quiet", action="store_true", help="say nothing when nothing was copied")
    lessons.set_defaults(run=_lessons)
    fetch = commands.add_parser("data", help="fetch full Fashion-MNIST once (30 MB)")
    fetch.add_argument("--to", help="download folder (default: the checkout's data/, or "
                       f"{USER_DATA_DIR})")
    fetch.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the mirror")
    fetch.set_defaults(run=_data)
    marks = commands.add_parser("grade", help="grade learners' notebooks (one folder per learner)")
    marks.add_argument("folders", nargs="+", metavar="FOLDER", help="a learner's folder of notebooks")
    marks.add_argument("--out", default="grades", help="report folder (default: %(default)s)")
    marks.add_argument("--read", action="store_true",
                       help="read the stored outputs instead of running copies of the notebooks")
    marks.add_argument("--limit", type=float, default=600,
                       help="seconds per notebook (default: %(default)s)")
    marks.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default: 1)")
    marks.add_argument("--lessons", help="lesson numbers to grade, e.g. 00,01 (default: all found)")
    marks.set_defaults(run=_grade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; with none, print the commands and return 2."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as err:            # bad input: one line naming it, no traceback
        print(f"cnnedu {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
