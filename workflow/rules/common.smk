# Shared state of the workflow: the plan (ntk_eoc.pipeline.plan.Plan) made once from the config, the
# wildcard constraints, and the job environment. No rules here.
#
# Rule files use PLAN only: one table of jobs, looked up by output (PLAN.inputs(stage), PLAN.spec(stage),
# PLAN.mem_mb(stage)) beside the patterns PLAN.output(stage), PLAN.log(stage), PLAN.benchmark(stage)

import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

from ntk_eoc.pipeline.plan import Plan
from ntk_eoc.pipeline.stages import WORKFLOW_ENV, workflow_token
from ntk_eoc.validate import ConfigError

try:
    PLAN = Plan(config, workflow.source_path("../schemas/config.schema.yaml"))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

# Jobs run `python -m ntk_eoc.pipeline.stages.<stage>` with the interpreter running Snakemake; with
# --sdm conda the environment's own python is used instead.
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    shell.prefix(
        f'set -euo pipefail; export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; '
    )
# Jobs stop themselves when this Snakemake process is gone (killed with SIGKILL it cannot stop them).
os.environ[WORKFLOW_ENV] = workflow_token()
# JAX reads these itself: the persistent compilation cache shared by all sampling jobs.
if PLAN.jax_cache_dir:
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path(PLAN.jax_cache_dir).resolve())
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


wildcard_constraints:
    **PLAN.wildcard_constraints(),


def reported(outputs):
    """Named outputs {key: (path, caption)} with report(...) around those that have a caption."""
    out = {}
    for key, (path, caption) in outputs.items():
        if not caption:
            out[key] = path
            continue
        kind = "table" if path.endswith(".csv") else "figure"
        rst, category, labels = (
            f"../report/{caption}.rst",
            f"{kind}s".capitalize(),
            {kind: caption},
        )
        out[key] = report(path, caption=rst, category=category, labels=labels)
    return out
