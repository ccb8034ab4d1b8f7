"""The ``cornlib`` command line: ``cornlib promoters | run``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cornlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    from cornlib import run

    p_run = sub.add_parser("run", help="run the book's notebooks with a profile (papermill)")
    run.build_parser(p_run)
    p_run.set_defaults(func=lambda a: run.main(_argv_after("run")))
    return parser


def _argv_after(word: str) -> list[str]:
    argv = sys.argv[1:]
    return argv[argv.index(word) + 1:]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
