"""The compact console of workflow runs (snakemake_logger_plugin_ntk_eoc): job lines, failures, elided commands."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from types import SimpleNamespace

from snakemake_interface_logger_plugins.common import LogEvent

from ntk_eoc.pipeline.plan import Plan
from snakemake_logger_plugin_ntk_eoc import LogHandler, LogHandlerSettings, describe


def _sample_wildcards() -> dict[str, str]:
    """The wildcards of a sampling job of the test experiment (relu, quadratic, depth 3), named by the
    project's own naming code (the plan's table of runs), as Snakemake hands them to the console."""
    root = Path(__file__).resolve().parents[3]
    config = {
        "experiment": "test", "overrides": [], "sweep": ["activation=relu", "schedule=quadratic"],
        "hydra_config_dir": str(root / "config" / "hydra"), "hydra_config_name": "config",
        "results_dir": "results", "jax_cache_dir": "",
    }  # fmt: skip
    (run,) = Plan(config, root / "workflow" / "schemas" / "config.schema.yaml").runs.values()
    return {"sample_key": run.sample_key, "widths": "4-8", "start": "0", "stop": "4"}


SAMPLE = _sample_wildcards()


def _handler() -> tuple[LogHandler, io.StringIO]:
    common = SimpleNamespace(
        printshellcmds=False, nocolor=True, quiet=None, debug_dag=False, verbose=False, show_failed_logs=True,
        stdout=True, dryrun=False,
    )  # fmt: skip
    handler = LogHandler(common, LogHandlerSettings(full=False, heartbeat=0))
    out = io.StringIO()
    handler.stream = out
    return handler, out


def _record(level: int = logging.INFO, msg: str = "", **extra) -> logging.LogRecord:
    record = logging.LogRecord("snakemake", level, __file__, 0, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_one_line_per_job_and_counts_without_the_target_rule():
    handler, out = _handler()
    handler.emit(_record(event=LogEvent.RUN_INFO, stats={"sample": 2, "all": 1, "total": 3}))
    for jobid in (1, 2):
        info = {"jobid": jobid, "rule_name": "sample", "wildcards": SAMPLE, "log": [], "local": False}
        handler.emit(_record(event=LogEvent.JOB_INFO, **info))
        handler.emit(_record(event=LogEvent.JOB_FINISHED, job_id=jobid))
    lines = out.getvalue().splitlines()
    assert lines[0] == "ntk-eoc: 2 jobs to run: 2 sample"
    assert lines[1].startswith("[1/2 0:00, ~0:00 left]") or lines[1].startswith("[1/2 0:00]")
    assert "sample        relu . quadratic . depth 3 . out 1 | m = 4..8 | draws 0-3" in lines[1]
    assert lines[2].startswith("[2/2 0:00]") and len(lines) == 3


def test_a_failed_job_shows_its_log_tail_not_its_command(tmp_path):
    handler, out = _handler()
    log = tmp_path / "sample.log"
    log.write_text("\n".join(f"line {k}" for k in range(40)) + "\nValueError: draws must be >= 1\n")
    info = {"jobid": 7, "rule_name": "sample", "wildcards": SAMPLE, "log": [str(log)], "local": False}
    handler.emit(_record(event=LogEvent.JOB_INFO, **info))
    handler.emit(_record(logging.ERROR, "Error in rule sample", event=LogEvent.JOB_ERROR, shellcmd="x" * 5000, **info))
    text = out.getvalue()
    assert text.startswith("FAILED  sample        relu . quadratic . depth 3") and f"  log: {log}" in text
    assert "  | ValueError: draws must be >= 1" in text and "  | line 16" in text and "line 15\n" not in text
    assert "xxxxx" not in text


def test_exception_messages_elide_the_quoted_command():
    handler, _ = _handler()
    seen = []
    handler.snakemake.handle = seen.append
    msg = (
        "CalledProcessError in file x.smk:\nCommand 'set -euo pipefail; python -m a "
        + "--b c " * 500
        + "' returned non-zero exit status 1."
    )
    handler.emit(_record(logging.ERROR, msg))
    assert (
        seen[0].msg
        == "CalledProcessError in file x.smk:\nCommand (in the job's log record) returned non-zero exit status 1."
    )


def test_describe_names_each_stage_by_its_values():
    assert (
        describe("limit", {"limit_key": "sphere-n8-d4-s0/relu__depth~3__out~1"})
        == "relu . depth 3 . out 1 on sphere-n8-d4-s0"
    )
    assert describe("dataset", {"dataset": "sphere-n8-d4-s0"}) == "sphere-n8-d4-s0"
