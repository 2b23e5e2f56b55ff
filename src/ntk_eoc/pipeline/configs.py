"""Stage configs: write a run's resolved config (JSON from the rule's params) as YAML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``--config`` to ``--output`` as block-style YAML."""
    args = parser(__doc__).parse_args(argv)
    log = setup_logging()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(args.config, sort_keys=False))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
