"""Stage archive: one zip of an experiment's results (:func:`ntk_eoc.archive.pack`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Pack ``--experiment-dir`` into ``--output`` and check the result with :func:`verify`."""
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--experiment-dir", required=True, help="results/<experiment>")
    cli.add_argument("--output", required=True, help="the zip to write")
    args = cli.parse_args(argv)
    log = setup_logging()
    from ..archive import ArchiveError, pack, verify

    out = pack(args.experiment_dir, args.output)
    problems = verify(out)
    if problems:
        out.unlink()
        raise ArchiveError(f"{out} failed verification: " + "; ".join(problems))
    log.info("wrote and verified %s", out)


if __name__ == "__main__":
    main()
