"""A job whose Snakemake process is killed with SIGKILL stops itself instead of running on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ntk_eoc.pipeline.stages import WORKFLOW_ENV, watch_workflow, workflow_token

# The "workflow": starts a job that watches it, prints the job's pid, then sleeps until killed.
PARENT = """
import os, subprocess, sys
from ntk_eoc.pipeline.stages import WORKFLOW_ENV, workflow_token
os.environ[WORKFLOW_ENV] = workflow_token()
job = subprocess.Popen([sys.executable, "-c", sys.argv[1]], start_new_session=True)
print(job.pid, flush=True)
job.wait()
"""
# The job: watches its workflow every 0.1 s, would sleep for 10 minutes.
JOB = """
import logging, time
from ntk_eoc.pipeline.stages import watch_workflow
watch_workflow(logging.getLogger("job"), interval=0.1)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_job_stops_when_its_workflow_process_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, JOB], stdout=subprocess.PIPE, text=True)
    job = int(parent.stdout.readline())
    try:
        time.sleep(0.5)
        assert _alive(job)  # watching a live workflow, the job runs on
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 60  # a functional timeout, far above the 0.1 s watch interval
        while _alive(job) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(job), "the job outlived its workflow"
    finally:
        if _alive(job):
            os.kill(job, signal.SIGKILL)


def test_the_token_names_one_process_and_no_token_means_no_watch(monkeypatch):
    pid, started = workflow_token().split(":")
    assert int(pid) == os.getpid() and started.isdigit()
    assert workflow_token(os.getppid()) != workflow_token()
    monkeypatch.delenv(WORKFLOW_ENV, raising=False)
    assert watch_workflow(None) is None  # a stage run by hand is not watched
