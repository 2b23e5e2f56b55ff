"""The ``ntk-eoc`` command.

- ``ntk-eoc list``: the experiments and the options of every config group, with their first comment line.
- ``ntk-eoc show EXPERIMENT [--override KEY=VALUE ...] [--sweep KEY=V1,V2 ...]``: the runs of an
  experiment (ids and swept values), the resolved config of the first run, and the folder its results
  go to; the same composition and validation as the workflow, in about a second.
- ``ntk-eoc summarize RESULTS/VIEW``: what a finished run found (verdicts, rows that did not hold,
  warnings in its logs) and where its figures and tables are.
- ``ntk-eoc verify PATH [--full] [--repair]``: verify every store at or under PATH, one line per bad
  store (naming the array and the chunk); ``--repair`` (implies ``--full``) moves bad stores aside, and
  ``snakemake --forcerun <store path>`` then rewrites each and what was made from it
  (:mod:`ntk_eoc.storage.scan`).
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
from pathlib import Path

from ..storage.archive import MAX_RESTORE_BYTES, MAX_RESTORE_RATIO, ArchiveError, pack, restore, verify
from ..storage.integrity import StoreError
from ..storage.scan import verify_tree
from ..storage.view_manifest import ViewError, find_views, view_problems
from ..validate import ConfigError

__all__ = ["main"]

log = logging.getLogger("ntk_eoc.pipeline.cli")


def _archive_parser(commands: argparse._SubParsersAction) -> None:
    archive = commands.add_parser("archive", help="pack, verify or restore an experiment's results")
    actions = archive.add_subparsers(dest="action", required=True)
    p = actions.add_parser("pack", help="pack a view folder results/<view>/ into one zip")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="the view folder, results/<view>")
    p.add_argument("out", metavar="OUT.zip", help="the archive to write")
    p.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="also pack this whole folder of the results folder (e.g. results/stores)",
    )
    v = actions.add_parser("verify", help="check every member against MANIFEST.json")
    v.add_argument("path", metavar="PATH", help="the archive")
    r = actions.add_parser("restore", help="unpack into DIR/results/<view>/ (and its stores), all or nothing")
    r.add_argument("path", metavar="PATH", help="the archive")
    r.add_argument("dest", metavar="DIR", help="destination directory")
    r.add_argument(
        "--max-gib", type=float, default=MAX_RESTORE_BYTES / 2**30, metavar="GIB",
        help=f"refuse an archive that would restore more (default {MAX_RESTORE_BYTES / 2**30:.0f})",
    )  # fmt: skip
    r.add_argument(
        "--max-ratio", type=float, default=MAX_RESTORE_RATIO, metavar="R",
        help=f"refuse an archive that would restore more than R times its size (default {MAX_RESTORE_RATIO:g})",
    )  # fmt: skip


def _config_parsers(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="the experiments and the options of every config group")
    listing.add_argument("--config-dir", default="config", metavar="DIR", help="the project's config folder")
    show = commands.add_parser("show", help="the runs and resolved config of an experiment")
    show.add_argument("experiment", metavar="EXPERIMENT", help="an option of config/hydra/experiment/")
    show.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="as overrides=[...]")
    show.add_argument("--sweep", action="append", default=None, metavar="KEY=V1,V2", help="as sweep=[...]")
    show.add_argument("--config-dir", default="config", metavar="DIR", help="the project's config folder")
    summary = commands.add_parser("summarize", help="what a finished run found and where its outputs are")
    summary.add_argument("view", metavar="RESULTS/VIEW", help="e.g. results/demo")


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="ntk-eoc", description="ntk-eoc utilities")
    cli.add_argument("-v", "--verbose", action="store_true", help="log every archive member")
    commands = cli.add_subparsers(dest="command", required=True)
    _config_parsers(commands)
    check = commands.add_parser(
        "verify", help="verify every zarr store at or under PATH, and each view's files against its MANIFEST.json"
    )
    check.add_argument("path", metavar="PATH", help="a store, or a folder such as results/")
    check.add_argument("--full", action="store_true", help="also hash every chunk (default: sizes and metadata)")
    check.add_argument(
        "--repair",
        action="store_true",
        help="move bad stores aside (.<name>.bad-<time>); snakemake --forcerun <path> rewrites each (implies --full)",
    )
    _archive_parser(commands)
    return cli


def _verify_stores(args: argparse.Namespace) -> int:
    checked, bad = verify_tree(args.path, full=args.full, repair=args.repair)
    views = find_views(args.path)
    bad_views = 0
    for view in views:
        problems = view_problems(view)
        bad_views += bool(problems)
        for line in problems:
            print(line)
    if bad or bad_views:
        done = "; moved aside: rewrite each with snakemake --forcerun <its path> (printed above)" if args.repair else ""
        print(
            f"{args.path}: {bad} of {checked} store(s) bad{done}; {bad_views} of {len(views)} view(s) bad",
            file=sys.stderr,
        )
        return 1
    print(f"{args.path}: {checked} store(s) OK, {len(views)} view(s) OK")
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
        print(f"restored {restore(args.path, args.dest, int(args.max_gib * 2**30), args.max_ratio)}")
    return 0


# Width of the description column of ``ntk-eoc list``.
LIST_WIDTH = 110


def _first_comment(path: Path) -> str:
    """The first sentence of the file's leading comment, cut to LIST_WIDTH characters."""
    words: list[str] = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            if words:
                break
            continue
        if "@package" not in line:
            words += line.lstrip("# ").split()
    text = " ".join(words)
    end = text.find(". ")
    text = text if end < 0 else text[:end]
    return text if len(text) <= LIST_WIDTH else text[: LIST_WIDTH - 3].rsplit(" ", 1)[0] + " ..."


def _list(args: argparse.Namespace) -> int:
    hydra = Path(args.config_dir) / "hydra"
    if not hydra.is_dir():
        raise OSError(f"{hydra} is not a folder: run from the repository root or pass --config-dir")
    for group in sorted(p for p in hydra.iterdir() if p.is_dir()):
        print(f"{group.name}:")
        for option in sorted(group.glob("*.yaml")):
            print(f"  {option.stem:<22} {_first_comment(option)}")
    print("run one with: snakemake --cores 2 --config experiment=<name>; see its runs: ntk-eoc show <name>")
    return 0


def _show(args: argparse.Namespace) -> int:
    import yaml

    from .plan import Plan

    config_dir = Path(args.config_dir)
    cfg = yaml.safe_load((config_dir / "config.yaml").read_text())
    cfg.update(experiment=args.experiment, overrides=args.override, sweep=args.sweep)
    cfg["hydra_config_dir"] = str(config_dir / "hydra")
    plan = Plan(cfg, Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml")
    print(f"{args.experiment}: {len(plan.runs)} run(s), study {plan.study}; results in {plan.results}/")
    for rid, run in plan.runs.items():
        axes = ", ".join(f"{k}={v}" for k, v in run.axes.items()) or "(nothing swept)"
        print(f"  {rid}: {axes}")
    first = next(iter(plan.runs.values()))
    print(f"resolved config of {first.run_id}:")
    print(yaml.safe_dump(first.resolved, sort_keys=False).rstrip())
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from .summary import summarize

    if not Path(args.view).is_dir():
        raise OSError(f"{args.view} is not a results folder (e.g. results/demo)")
    print(summarize(args.view))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 on success, 1 on a failed check or error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    commands = {"verify": _verify_stores, "archive": _archive, "list": _list, "show": _show, "summarize": _summarize}
    try:
        return commands[args.command](args)
    except (ArchiveError, StoreError, ConfigError, ViewError, OSError) as err:
        print(f"ntk-eoc: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
