"""The ``framecryptor`` command (also ``python -m framecryptor``)."""

from __future__ import annotations

import argparse
import sys

from . import demo

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="framecryptor",
        description="LiveKit end-to-end encryption tools: demo, inspect frames, decrypt recordings, self-test.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one clear line unless --debug
        if args.debug:
            raise
        print(f"framecryptor {args.command}: error: {e}", file=sys.stderr)
        return 1
