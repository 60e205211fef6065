"""``ms2l``: the program -- the MS²L library's commands plus the app's (infer, extract, clips).

argparse and printing only: each command calls into :mod:`app` or :mod:`ms2l`.  The
library's commands are registered by :func:`ms2l.cli.add_commands`; ``train`` and
``evaluate`` gain ``--library DIR`` here (the user's clip library instead of a dataset).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

DESCRIPTION = """Skeleton action recognition with MS²L models.

  pretrain / train / evaluate / prepare / export   models and datasets (the MS²L library)
  infer      recognise actions in a video, folder, stream or camera (JSON lines)
  extract    pose extraction: a video -> a skeleton clip (.npz)
  clips      your clip library: import, list, relabel, trim, delete, export

Every command has --help, shows progress on stderr and writes a JSON summary.
The live window is a separate program: ms2l-live."""

Handler = Callable[[argparse.Namespace], int]


def _with_library(lib_handler: Handler, data_handler: Handler) -> Handler:
    """``--library`` chooses the library path of a command; else ``--data`` is required."""
    def run(a: argparse.Namespace) -> int:
        if a.library is not None:
            return lib_handler(a)
        if a.data is None:
            print(f"ms2l {a.command}: error: the following arguments are required: --data (or --library)",
                  file=sys.stderr)
            raise SystemExit(2)
        return data_handler(a)
    return run


def build_parser() -> argparse.ArgumentParser:
    from ms2l.cli import add_commands as library_commands

    from . import clips, extract, infer

    p = argparse.ArgumentParser(prog="ms2l", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = library_commands(sub, optional_data=True)
    for name, lib_handler in (("train", clips.cmd_train_library), ("evaluate", clips.cmd_evaluate_library)):
        q = parsers[name]
        q.add_argument("--library", type=Path, metavar="DIR",
                       help="use your clip library (ms2l clips) instead of --data (docs/library.md)")
        q.set_defaults(func=_with_library(lib_handler, q.get_default("func")))
    t = parsers["train"]
    t.add_argument("--labels", help="--library: comma list of the actions to learn (default: every label)")
    t.add_argument("--val-fraction", type=float, default=0.2,
                   help="--library: share of each action's clips held out for validation when every action has at "
                        "least 5 clips (default: 0.2)")
    t.add_argument("--cv", choices=["auto", "always", "never"], default="auto",
                   help="--library: cross-validate and train the final model on every clip -- auto: when an action "
                        "has fewer than 5 clips (default); always; never (hold out --val-fraction instead)")
    infer.add_commands(sub)
    extract.add_commands(sub)
    clips.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from ms2l.cli import run

    from ..errors import USER_ERRORS

    return run(build_parser().parse_args(argv), USER_ERRORS)


if __name__ == "__main__":
    sys.exit(main())
