#!/usr/bin/env bash
# Install the Debian packages that the real-SLURM test (tests/workflow/test_slurm.py) needs: slurmctld,
# slurmd, slurm-client and munge. Nothing is configured or started: the test runs a cluster of its own in a
# temporary directory. Does nothing when every program is there; otherwise needs root and apt-get.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

# missing: the packages of the programs the test runs that are not on PATH, one a line
missing() {
    local pair
    for pair in slurmctld:slurmctld slurmd:slurmd munged:munge munge:munge sbatch:slurm-client \
        srun:slurm-client squeue:slurm-client scancel:slurm-client scontrol:slurm-client sinfo:slurm-client; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || echo "${pair#*:}"
    done | sort -u
}
mapfile -t need < <(missing)
if [ "${#need[@]}" -eq 0 ]; then
    echo "[slurm] installed: $(sinfo --version), $(munged --version 2>&1 | head -n 1)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[slurm] missing ${need[*]}: run as root on Debian/Ubuntu to install them" >&2
    exit 1
fi

# Keep the packages' service scripts from starting daemons during the install.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
fi
apt_log="$(mktemp)"
cleanup() {
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    rm -f "$apt_log"
}
trap cleanup EXIT

echo "[slurm] installing ${need[*]}"
if ! { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
    >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    echo "[slurm] apt-get failed" >&2
    exit 1
fi
mapfile -t need < <(missing)
if [ "${#need[@]}" -gt 0 ]; then
    echo "[slurm] still missing after the install: ${need[*]}" >&2
    exit 1
fi
echo "[slurm] installed: $(sinfo --version), $(munged --version 2>&1 | head -n 1)"
