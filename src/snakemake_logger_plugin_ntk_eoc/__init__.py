"""Snakemake logger plugin ``ntk-eoc``: a readable console for ntk-eoc workflow runs.

Enabled by ``profiles/default/config.yaml`` (``logger: [ntk-eoc]``). Instead of Snakemake's multi-line
record of every job it prints

- one line per job when it finishes, saying what it computed and how long it took, with the run's
  progress and an estimate of the time left (from the time the finished jobs took), e.g.::

      [ 12/23  0:41, ~1:05 left]  sample  relu . constant . depth 3 . out 1 | m = 4..8 | draws 0-1   3.2 s

- every ``heartbeat`` seconds, for each job running longer than that, its last progress line (the
  stages log ``... N s left`` while they work),
- a failed job as what it computed, its log file and the last lines of that log (Snakemake's record of
  the job, with its full command and input list, is in ``--logger-ntk-eoc-full``), other errors and
  warnings in full but with job commands elided, and the lines Snakemake prints that matter (nothing to
  be done, a locked directory, ...).

``--logger-ntk-eoc-full`` (or ``--dry-run``) prints Snakemake's own full output instead. The summary at
the end of a run comes from the workflow's ``onsuccess`` handler.
"""

import logging
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

__all__ = ["LogHandler", "LogHandlerSettings", "describe"]

# Snakemake's plain info lines that say nothing a user acts on.
_NOISE = re.compile(
    r"^(Select jobs to execute|Execute \d+ jobs|Using shell|Provided cores|Rules claiming more threads|"
    r"Building DAG of jobs|Assuming unrestricted shared filesystem|Job stats|Reasons:|"
    r"Using workflow specific profile|Config file .* is extended|Complete log\(s\)|\s*$)"
)
# A failed command quoted in an exception message: often kilobytes of paths.
_COMMAND = re.compile(r"Command '.*?' returned non-zero exit status", re.DOTALL)
# Lines of a failed job's log shown on the console.
ERROR_TAIL_LINES = 25
_PROGRESS_LINE = re.compile(r"(draws \d+/\d+.*|depth \d+/\d+.*|\d+/\d+ .* left.*)$")


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    full: bool = field(default=False, metadata={"help": "print Snakemake's full output instead of one line per job"})
    heartbeat: int = field(
        default=30, metadata={"help": "seconds between the progress lines of jobs that run longer than this"}
    )


def _key_parts(key: str) -> str:
    """``<dataset>/<network>/<sampler>`` -> the network's parts joined by dots (the readable middle)."""
    parts = key.split("/")
    network = parts[1] if len(parts) > 1 else parts[0]
    return " . ".join(p.replace("~", " ") for p in network.split("__"))


def describe(rule: str, wildcards: dict[str, str]) -> str:
    """One line saying what a job computes, from its rule and wildcards."""
    w = wildcards or {}
    if "sample_key" in w:
        widths = w.get("widths", w.get("width", "")).split("-")
        span = widths[0] if len(widths) == 1 else f"{widths[0]}..{widths[-1]}"
        return f"{_key_parts(w['sample_key'])} | m = {span} | draws {w['start']}-{int(w['stop']) - 1}"
    if "first_order_key" in w:
        samples, draws, _ = w["first_order_key"].rsplit("/", 1)[-1].removeprefix("fo~").split("~")
        return f"{_key_parts(w['first_order_key'])} | first order, {samples} neurons, {draws} draws"
    if "concentration_key" in w or "fluctuations_key" in w:
        key = w.get("concentration_key") or w["fluctuations_key"]
        return f"{_key_parts(key)} | {key.rsplit('/', 1)[-1].replace('~', ' ').replace('__', ', ')}"
    for name in ("limit_key", "spectrum_key"):
        if name in w:
            dataset, _, rest = w[name].partition("/")
            return f"{rest.replace('__', ' . ').replace('~', ' ')} on {dataset}"
    if "dataset" in w:
        return w["dataset"]
    if "run" in w:
        return w["run"]
    return ""


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else (f"{seconds // 60}:{seconds % 60:02d}")
    )


def _tail(log: str | None, lines: int = ERROR_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log file ([] when it cannot be read)."""
    try:
        return Path(log).read_text(errors="replace").splitlines()[-lines:] if log else []
    except OSError:
        return []


def _last_progress(log: str | None) -> str:
    """The last progress line of a job's log (or '')."""
    if not log:
        return ""
    try:
        with Path(log).open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 4096))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        match = _PROGRESS_LINE.search(line)
        if match:
            return match.group(1)
    return ""


class LogHandler(LogHandlerBase):
    """The compact console (module doc)."""

    def __post_init__(self) -> None:
        from snakemake.logging import ColorizingTextHandler, DefaultFilter, DefaultFormatter

        cs = self.common_settings
        self.full = bool(getattr(self.settings, "full", False)) or cs.dryrun or cs.verbose
        self.snakemake = ColorizingTextHandler(nocolor=cs.nocolor, stream=sys.stdout if cs.stdout else sys.stderr)
        self.snakemake.setFormatter(DefaultFormatter(cs.quiet, cs.show_failed_logs))
        self.snakemake.addFilter(DefaultFilter(cs.quiet, cs.debug_dag, cs.verbose, cs.dryrun, cs.printshellcmds))
        self.stream = self.snakemake.stream
        self.jobs: dict[int, dict[str, Any]] = {}
        self.finished = self.total = self.hidden = 0
        self.began = time.monotonic()
        self.out_lock = threading.Lock()
        heartbeat = int(getattr(self.settings, "heartbeat", 30) or 0)
        if not self.full and heartbeat > 0:
            threading.Thread(target=self._heartbeat, args=(heartbeat,), daemon=True).start()

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    def _print(self, text: str) -> None:
        with self.out_lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if self.full:
            self.snakemake.handle(record)
            return
        if event == LogEvent.JOB_ERROR:
            self._job_error(record)
            return
        if record.levelno >= logging.WARNING or event == LogEvent.ERROR:
            if isinstance(record.msg, str) and _COMMAND.search(record.msg):
                record.msg = _COMMAND.sub("Command (in the job's log record) returned non-zero exit status", record.msg)
            self.snakemake.handle(record)
            return
        if event == LogEvent.JOB_INFO:
            self.jobs[record.jobid] = {
                "rule": record.rule_name, "what": describe(record.rule_name, record.wildcards),
                "log": (record.log or [None])[0], "began": time.monotonic(), "local": record.local,
            }  # fmt: skip
        elif event == LogEvent.PROGRESS:
            self.finished, self.total = max(self.finished, record.done), record.total
        elif event == LogEvent.JOB_FINISHED:
            self._finished(record.job_id)
        elif event == LogEvent.RUN_INFO:
            self._run_info(record)
        elif event is None and not _NOISE.match(str(record.msg)):
            self._print(str(record.getMessage()))

    def _finished(self, jobid: int) -> None:
        job = self.jobs.pop(jobid, None)
        self.finished += 1  # Snakemake's progress event comes after the finished one
        if job is None or job["rule"] == "all":
            return
        seconds = time.monotonic() - job["began"]
        done, total, elapsed = self.finished, self.total - self.hidden, time.monotonic() - self.began
        left = elapsed / done * (total - done) if done and total > done else 0.0
        eta = f", ~{_clock(left)} left" if left else ""
        width = len(str(total))
        head = f"[{done:>{width}}/{total} {_clock(elapsed)}{eta}]"
        self._print(f"{head}  {job['rule']:<13} {job['what']}   {seconds:.1f} s")

    def _job_error(self, record: logging.LogRecord) -> None:
        """``FAILED <rule> <what>``, the log's path and its last lines."""
        job = self.jobs.pop(getattr(record, "jobid", None), None) or {}
        rule = getattr(record, "rule_name", None) or job.get("rule", "?")
        logs = list(getattr(record, "log", None) or [])
        text = [f"FAILED  {rule:<13} {job.get('what', '')}".rstrip()]
        for log in logs:
            text.append(f"  log: {log}")
            text.extend(f"  | {line}" for line in _tail(log))
        if not logs:
            text.append("  (no log file; rerun with --logger-ntk-eoc-full for Snakemake's record of the job)")
        self._print("\n".join(text))

    def _run_info(self, record: logging.LogRecord) -> None:
        stats = getattr(record, "stats", None) or {}
        self.total = int(stats.get("total", self.total))
        self.hidden = int(stats.get("all", 0))
        jobs = {rule: count for rule, count in stats.items() if rule not in ("total", "all")}
        if jobs:
            listed = ", ".join(f"{count} {rule}" for rule, count in jobs.items())
            self._print(f"ntk-eoc: {sum(jobs.values())} jobs to run: {listed}")

    def _heartbeat(self, every: int) -> None:
        while True:
            time.sleep(every)
            now = time.monotonic()
            for job in list(self.jobs.values()):
                if job["rule"] != "all" and now - job["began"] >= every:
                    status = _last_progress(job["log"]) or "running"
                    self._print(f"  ... {job['rule']} {job['what']}: {status} ({_clock(now - job['began'])})")
