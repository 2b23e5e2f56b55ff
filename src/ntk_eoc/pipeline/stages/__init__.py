"""One module per pipeline stage, run by its rule as ``python -m ntk_eoc.pipeline.stages.<stage>``.

Each module reads as decode -> compute -> write: :func:`parser` gives the ``--spec`` argument (the
rule's params, the stage's typed spec as JSON) and the stage's own paths, :func:`setup_logging` sends
INFO lines to stderr (the rule redirects them to the job's log), the math comes from :mod:`ntk_eoc`,
and one store is written with :func:`ntk_eoc.storage.store.write_store`.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

__all__ = ["WORKFLOW_ENV", "parser", "setup_logging", "watch_workflow", "workflow_token"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# "<pid>:<start time>" of the Snakemake process that runs the jobs (set by workflow/rules/common.smk).
WORKFLOW_ENV = "NTK_EOC_WORKFLOW"
# Seconds between two checks that the workflow's process is alive.
WATCH_INTERVAL = 2.0


def setup_logging() -> logging.Logger:
    """INFO-level logging to stderr (the rule redirects it to its log file); the job stops itself when
    the Snakemake process that started it is gone (:func:`watch_workflow`)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # absent TPU/proxy backends
    log = logging.getLogger("ntk_eoc.pipeline")
    watch_workflow(log)
    return log


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/<pid>/stat; "" where /proc is absent), or None
    when no such process exists: a pid and its start time name one process, even after pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        if not os.path.isdir("/proc"):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                pass
            return ""
        return None


def workflow_token(pid: int | None = None) -> str:
    """``<pid>:<start time>`` of this process (or ``pid``), the value of :data:`WORKFLOW_ENV`."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid) or ''}"


def watch_workflow(log: logging.Logger, interval: float = WATCH_INTERVAL) -> threading.Thread | None:
    """Exit this job (status 143) once the process named by :data:`WORKFLOW_ENV` is gone: a Snakemake
    killed with SIGKILL cannot stop its jobs, and a job that outlived it would go on holding cores and
    memory. The job's outputs are written atomically, so one stopped mid-write leaves nothing that reads
    as complete. No-op when the variable is unset (a stage run by hand)."""
    token = os.environ.get(WORKFLOW_ENV, "")
    pid_text, _, started = token.partition(":")
    if not pid_text.isdigit():
        return None
    pid = int(pid_text)

    def watch() -> None:
        while True:
            time.sleep(interval)
            now = _start_time(pid)
            if now is None or (started and now and now != started):
                log.error("the workflow process %d is gone: stopping this job", pid)
                logging.shutdown()
                os._exit(143)

    thread = threading.Thread(target=watch, name="watch-workflow", daemon=True)
    thread.start()
    return thread


def parser(description: str, spec: type, *paths: str) -> argparse.ArgumentParser:
    """Arguments of a stage: ``--spec`` (JSON of ``spec``, decoded on parsing) and each of ``paths``
    (``--output``, ``--dataset``, ...) as a required string."""

    def decode(text: str):
        try:
            return spec.from_json(text)
        except (ValueError, KeyError, TypeError) as err:
            raise argparse.ArgumentTypeError(f"--spec is not a valid {spec.__name__}: {err}") from None

    out = argparse.ArgumentParser(description=description)
    out.add_argument("--spec", type=decode, required=True, help=f"{spec.__name__} as JSON (the rule's params)")
    for name in paths:
        out.add_argument(f"--{name}", required=True)
    return out
