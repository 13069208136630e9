#!/usr/bin/env bash
# What the server can serve of each read a fan's phone makes, measured by wrk against the same
# server in one run: the fan page at the short link (/s/{code}), its live figure
# (/s/{code}/live), the JSON read (GET /api/v1/flash-sales/{id}) and a bare endpoint (/livez),
# each for DURATION, the whole round twice, alternated. The server is pinned to core 0 and wrk
# to core 1, so that what is measured is one core's capacity, not the load generator's. Prints
# requests/s per read and the ratios BENCHMARKS.md records.
#
#   loadtest/pages-wrk.sh              # CONNECTIONS=64 DURATION=5s
set -euo pipefail
# shellcheck source=loadtest/lib.sh
source "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }
connections=${CONNECTIONS:-64}
duration=${DURATION:-5s}

build_release
pin_server() {
    taskset -a -pc 0 "$pid" >/dev/null
    echo "   server threads on cores: $(taskset -a -pc "$pid" | awk '{print $NF}' | sort -u | tr '\n' ' ')"
}
start_server FLASHSALE__SERVER__WORKERS=1
pin_server
seed_merchant
sale=$(seed_sale 1000 5 900)
code=$(curl -sf "$base/api/v1/flash-sales/$sale/share" -H "Authorization: Bearer $merchant_token" | json '["code"]')

declare -A total
for round in 1 2; do
    for kind in page live json bare; do
        case $kind in
            page) path="/s/$code" ;;
            live) path="/s/$code/live" ;;
            json) path="/api/v1/flash-sales/$sale" ;;
            bare) path="/livez" ;;
        esac
        rate=$(taskset -c 1 wrk -t1 -c"$connections" -d"$duration" "$base$path" | awk '/Requests\/sec/ {print $2}')
        echo "round $round  $kind  $rate req/s"
        total[$kind]=$(python3 -c "print(${total[$kind]:-0} + $rate)")
    done
done
python3 - "${total[page]}" "${total[live]}" "${total[json]}" "${total[bare]}" <<'PY'
import sys
page, live, json_, bare = (float(x) / 2 for x in sys.argv[1:])
print(f"page/s {page:.0f}  live/s {live:.0f}  json/s {json_:.0f}  bare/s {bare:.0f}")
print(f"page÷json {page / json_:.2f}  live÷json {live / json_:.2f}  page÷bare {page / bare:.2f}  json÷bare {json_ / bare:.2f}")
PY
