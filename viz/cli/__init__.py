"""The ``dnabert`` command line (SPEC section 8): one entry point, a sub-command per task.

Layout: ``common`` holds what every command shares (inputs, outputs, progress, windows, exit codes); each command group
lives in its own module beside its options (``predict``, ``interpret``, ``motifs``, ``variants``, ``train``) and registers itself here.

Exit codes: 0 when the output was written (rejected records are listed on stderr and the rest processed), 1 when
nothing could be processed, 2 on a usage error (bad option, missing input file). No traceback reaches a user: an
unexpected failure prints one line (``-v`` shows the traceback), a closed pipe (``| head``) ends quietly.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version

from dnabert_core.errors import DnabertError, OptionError
from viz.cli import interpret, motifs, predict, train, variants
from viz.cli.common import EXIT_NOTHING, EXIT_OK, Formatter

GROUPS = (predict, interpret, motifs, variants, train)


def package_version() -> str:
    try:
        return version("dnabert-viz")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnabert",
        description="DNABERT models and their interpretation (DNABERT-viz) from the command line.",
        formatter_class=Formatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log informational messages too")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    try:
        return args.handler(args)
    except OptionError as error:
        parser.error(str(error))  # exits 2 with the usage line
    except FileNotFoundError as error:
        parser.error(f"file not found: {error.filename}")
    except DnabertError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOTHING
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # never a traceback for users; -v shows it
        if args.verbose:
            traceback.print_exc()
        print(f"error: unexpected failure ({type(error).__name__}: {error}); run with -v for details, and please "
              f"report it", file=sys.stderr)
        return EXIT_NOTHING
