"""Stage run_config: a run's resolved Hydra config as YAML (human-readable provenance)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..specs import RunConfigSpec
from . import parser, setup_logging


def main(argv: Sequence[str] | None = None) -> None:
    """Write the resolved config of ``--spec`` to ``--output`` as block-style YAML."""
    import yaml

    args = parser(__doc__, RunConfigSpec, "output").parse_args(argv)
    log = setup_logging()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(args.spec.resolved, sort_keys=False))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
