#!/usr/bin/env bash
# Alternates criterion bench binaries of two (or more) builds, round after round, and prints
# each bench's median throughput: an A/B in one session on a noisy machine.
#
#   cargo bench -p benches --bench actor --no-run        # prints the binary's path; copy it,
#   benches/ab.sh 3 'actor/' /tmp/actor-before /tmp/actor-after   # then build the other side
#
# ROUNDS, a criterion filter, then the binaries. WARM_UP and MEASURE are seconds per bench.
set -euo pipefail
rounds=$1
filter=$2
shift 2
for _ in $(seq 1 "$rounds"); do
    for bin in "$@"; do
        "$bin" --bench "$filter" --warm-up-time "${WARM_UP:-2}" --measurement-time "${MEASURE:-5}" \
            --noplot --discard-baseline 2>&1 |
            awk -v bin="$(basename "$bin")" '
                /^[a-z0-9_]+\// { name = $1; done = 0 }
                /thrpt:/ && !done && name != "" {
                    for (i = 1; i <= NF; i++) if ($i ~ /^\[/) { print bin, name, $(i + 2), $(i + 3); break }
                    done = 1
                }'
    done
done
