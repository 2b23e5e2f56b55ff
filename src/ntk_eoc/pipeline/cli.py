"""The ``ntk-eoc`` command: ``ntk-eoc archive pack|verify|restore`` (see :mod:`ntk_eoc.storage.archive`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..storage.archive import ArchiveError, pack, restore, verify

__all__ = ["main"]

log = logging.getLogger("ntk_eoc.pipeline.cli")


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="ntk-eoc", description="ntk-eoc utilities")
    cli.add_argument("-v", "--verbose", action="store_true", help="log every archive member")
    commands = cli.add_subparsers(dest="command", required=True)
    archive = commands.add_parser("archive", help="pack, verify or restore an experiment's results")
    actions = archive.add_subparsers(dest="action", required=True)
    p = actions.add_parser("pack", help="pack results/<experiment>/ into one zip")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="the experiment directory, results/<experiment>")
    p.add_argument("out", metavar="OUT.zip", help="the archive to write")
    v = actions.add_parser("verify", help="check every member against MANIFEST.json")
    v.add_argument("path", metavar="PATH", help="the archive")
    r = actions.add_parser("restore", help="unpack into DIR/results/<experiment>/")
    r.add_argument("path", metavar="PATH", help="the archive")
    r.add_argument("dest", metavar="DIR", help="destination directory")
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 on success, 1 on a failed check or error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.action == "pack":
            out = pack(args.results_dir, args.out)
            print(f"wrote {out}")
        elif args.action == "verify":
            problems = verify(args.path)
            for line in problems:
                print(line)
            if problems:
                print(f"{args.path}: {len(problems)} bad member(s)", file=sys.stderr)
                return 1
            print(f"{args.path}: OK")
        else:
            out = restore(args.path, args.dest)
            print(f"restored {out}")
    except (ArchiveError, OSError) as err:
        print(f"ntk-eoc: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
