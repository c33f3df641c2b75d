"""The ``framecryptor`` command (also ``python -m framecryptor``).

Subcommands: ``demo``, ``inspect``, ``decrypt-recording``, ``selftest``; ``--help`` on each.
Errors are one line on stderr with a non-zero exit status (tracebacks with ``--debug``).
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import demo, inspect, recording, selftest
from .common import EXIT_ERROR, EXIT_USAGE, CliError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="framecryptor",
        description="LiveKit end-to-end encryption tools: demo, inspect frames, decrypt recordings, self-test.",
        epilog="Run 'framecryptor COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"framecryptor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.register(sub)
    inspect.register(sub)
    recording.register(sub)
    selftest.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as e:
        if args.debug:
            raise
        print(f"framecryptor {args.command}: error: {e}", file=sys.stderr)
        return e.status
    except Exception as e:  # one clear line unless --debug
        if args.debug:
            raise
        text = str(e) or type(e).__name__
        print(f"framecryptor {args.command}: error: {text}", file=sys.stderr)
        return EXIT_ERROR
