"""The ``ntk-eoc`` command.

- ``ntk-eoc verify PATH [--full] [--repair]``: verify every store at or under PATH, one line per bad
  store (naming the array and the chunk); ``--repair`` (implies ``--full``) moves bad stores aside so
  that Snakemake rewrites them (:mod:`ntk_eoc.storage.scan` says exactly when).
- ``ntk-eoc archive pack|verify|restore``: one zip of an experiment's results
  (:mod:`ntk_eoc.storage.archive`).

Exit status: 0 success, 1 a failed check or an error (one line ``ntk-eoc: error: ...`` on stderr,
never a traceback), 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..storage.archive import ArchiveError, pack, restore, verify
from ..storage.integrity import StoreError
from ..storage.scan import verify_tree

__all__ = ["main"]

log = logging.getLogger("ntk_eoc.pipeline.cli")


def _archive_parser(commands: argparse._SubParsersAction) -> None:
    archive = commands.add_parser("archive", help="pack, verify or restore an experiment's results")
    actions = archive.add_subparsers(dest="action", required=True)
    p = actions.add_parser("pack", help="pack results/<experiment>/ into one zip")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="the experiment directory, results/<experiment>")
    p.add_argument("out", metavar="OUT.zip", help="the archive to write")
    p.add_argument(
        "--root", action="append", default=[], metavar="DIR", help="also pack this folder of the results folder"
    )
    v = actions.add_parser("verify", help="check every member against MANIFEST.json")
    v.add_argument("path", metavar="PATH", help="the archive")
    r = actions.add_parser("restore", help="unpack into DIR/results/<experiment>/, all or nothing")
    r.add_argument("path", metavar="PATH", help="the archive")
    r.add_argument("dest", metavar="DIR", help="destination directory")


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="ntk-eoc", description="ntk-eoc utilities")
    cli.add_argument("-v", "--verbose", action="store_true", help="log every archive member")
    commands = cli.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="verify every zarr store at or under PATH")
    check.add_argument("path", metavar="PATH", help="a store, or a folder such as results/")
    check.add_argument("--full", action="store_true", help="also hash every chunk (default: sizes and metadata)")
    check.add_argument(
        "--repair",
        action="store_true",
        help="move bad stores aside (.<name>.bad-<time>) so that snakemake rewrites them (implies --full)",
    )
    _archive_parser(commands)
    return cli


def _verify_stores(args: argparse.Namespace) -> int:
    checked, bad = verify_tree(args.path, full=args.full, repair=args.repair)
    if bad:
        done = (
            "; moved aside: snakemake rewrites them (--forcerun <path> also what was made from them)"
            if args.repair
            else ""
        )
        print(f"{args.path}: {bad} of {checked} store(s) bad{done}", file=sys.stderr)
        return 1
    print(f"{args.path}: {checked} store(s) OK")
    return 0


def _archive(args: argparse.Namespace) -> int:
    if args.action == "pack":
        print(f"wrote {pack(args.results_dir, args.out, extra_roots=args.root)}")
    elif args.action == "verify":
        problems = verify(args.path)
        for line in problems:
            print(line)
        if problems:
            print(f"{args.path}: {len(problems)} problem(s)", file=sys.stderr)
            return 1
        print(f"{args.path}: OK")
    else:
        print(f"restored {restore(args.path, args.dest)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 on success, 1 on a failed check or error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return _verify_stores(args) if args.command == "verify" else _archive(args)
    except (ArchiveError, StoreError, OSError) as err:
        print(f"ntk-eoc: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
