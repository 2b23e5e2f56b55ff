"""Stage archive: one zip of an experiment's results (:func:`ntk_eoc.storage.archive.pack`), verified."""

from __future__ import annotations

from collections.abc import Sequence

from ..specs import ArchiveSpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Pack the view folder of ``--spec`` and the shared stores it reads into ``--output``, and check the
    result with ``verify``."""
    from ...storage.archive import ArchiveError, pack, verify

    args = parser(__doc__, ArchiveSpec, "output").parse_args(argv)
    log = setup_logging()
    out = pack(args.spec.view_dir, args.output, stores=args.spec.stores)
    problems = verify(out)
    if problems:
        out.unlink()
        raise ArchiveError(f"{out} failed verification: " + "; ".join(problems))
    log.info("wrote and verified %s", out)


if __name__ == "__main__":
    main()
