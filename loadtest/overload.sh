#!/usr/bin/env bash
# Overload, open loop: the server pinned to core 0 (one HTTP worker), the load generator to
# core 1, so that capacity is measured on one core while the generator has the other.
#
#   1. peak: orders as fast as 64 connections get answers (closed loop) = the server's
#      capacity; the bare endpoint the same way with wrk, for scale;
#   2. latency probe at 70% of the peak, open loop with latency correction: orders, then the
#      bare endpoint (GET /livez) on the same schedule; p99 of each;
#   3. overload: orders offered at 3× the peak, open loop: goodput (201/s) against the peak,
#      what the excess was answered and how fast, the server's RSS every second;
#   4. no oversell: each step's sale balances and its `reserved` equals that step's 201s, and
#      the database holds exactly those orders (persisted = accepted); the journal's lag and
#      the order log's fsync time from /metrics.
#
#   loadtest/overload.sh                       # DURATION=10 seconds per step, BUYERS=4000
#
# The server's admission cap is sized by Little's law for a 10 ms budget on one core
# (MAX_IN_FLIGHT, default 256 ≈ 25k orders/s × 10 ms): beyond it a request is answered 503
# `overloaded` at once instead of queueing. The generator is `loadtest/openloop`:
# each request a real order (a buyer token, a fresh Idempotency-Key), which oha cannot send.
set -euo pipefail
# shellcheck source=loadtest/lib.sh
source "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }
seconds=${DURATION:-10}
connections=${CONNECTIONS:-2048}

build_release
echo "== building the open-loop generator"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p openloop
openloop=(taskset -c 1 "$root/target/release/openloop")
ulimit -n 65536 2>/dev/null || true

SERVER_CPUS=0 start_server FLASHSALE__SERVER__WORKERS=1 FLASHSALE__ADMISSION__PER_BUYER_PER_SEC=0 \
    FLASHSALE__ADMISSION__MAX_IN_FLIGHT="${MAX_IN_FLIGHT:-256}" ${EXTRA_ENV:-}
addr=${base#http://}
seed_merchant
# A sale per step: the engine refuses a fan's 101st order in one sale, so each step has its own
# and BUYERS fans (default 4,000) cover 400k orders per step.
peak_sale=$(seed_sale 10000000 10000000 900)
probe_sale=$(seed_sale 10000000 10000000 900)
over_sale=$(seed_sale 10000000 10000000 900)
buyer_tokens "${BUYERS:-4000}" "$work/tokens.txt"

echo "== 1. peak: 64 connections, ${seconds}s, server on core 0, generator on core 1"
# A rate no server meets: each connection sends its next order as soon as it has an answer,
# and every answer is counted (wrk drops those in flight when it stops).
"${openloop[@]}" --addr "$addr" --sale "$peak_sale" --tokens "$work/tokens.txt" --rate 100000000 \
    --seconds "$seconds" --connections 64 | tee "$work/peak.txt"
taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "$base/livez" > "$work/bare.txt"
peak=$(python3 -c "import sys; r=dict(kv.split('=') for kv in open(sys.argv[1]).read().split('RESULT')[-1].split()); print(int(r['s201'])/float(r['elapsed']))" "$work/peak.txt")
peak_201=$(sed -n 's/.* s201=\([0-9]*\).*/\1/p' "$work/peak.txt")
bare=$(sed -n 's/^Requests\/sec: *//p' "$work/bare.txt")
echo "   orders $peak/s, bare $bare/s"

probe=$(python3 -c "print(int(float('$peak') * 0.7))")
echo "== 2. latency probe: $probe/s (70% of the peak), open loop, orders then bare"
"${openloop[@]}" --addr "$addr" --sale "$probe_sale" --tokens "$work/tokens.txt" --rate "$probe" \
    --seconds "$seconds" --connections 256 | tee "$work/probe-order.txt"
"${openloop[@]}" --addr "$addr" --get /livez --rate "$probe" --seconds "$seconds" --connections 256 \
    | tee "$work/probe-bare.txt"

offered=$(python3 -c "print(int(float('$peak') * 3))")
echo "== 3. overload: $offered/s (3× the peak), open loop, $connections connections"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
(while kill -0 "$pid" 2>/dev/null; do rss; sleep 1; done) > "$work/rss.txt" &
sampler=$!
"${openloop[@]}" --addr "$addr" --sale "$over_sale" --tokens "$work/tokens.txt" --rate "$offered" \
    --seconds "$seconds" --connections "$connections" | tee "$work/overload.txt"
kill "$sampler" 2>/dev/null || true
sampler=

curl -sf "$base/metrics" > "$work/metrics.txt" || true
sleep 1 # the database learns the last batches a commit after their acknowledgement
for step in peak probe over; do
    id_var="${step}_sale"
    curl -sf "$base/api/v1/flash-sales/${!id_var}" > "$work/sale-$step.json"
done
python3 - "$work" "$peak" "$bare" "$peak_201" "$peak_sale" "$probe_sale" "$over_sale" <<'PY'
import json, re, sys
work, peak, bare, peak_201 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
sale_ids = dict(zip(("peak", "probe", "over"), map(int, sys.argv[5:8])))
def result(name):
    line = [l for l in open(f"{work}/{name}.txt") if l.startswith("RESULT")][-1]
    return dict(kv.split("=") for kv in line.split()[1:])
probe_order, probe_bare, over = result("probe-order"), result("probe-bare"), result("overload")
rss = [int(x) for x in open(f"{work}/rss.txt").read().split()]
goodput = int(over.get("s201", 0)) / float(over["elapsed"])
refused = {k[1:]: int(v) for k, v in over.items() if re.fullmatch(r"s(429|503)", k)}
print("\n== results")
print(f"   peak (closed loop)       orders {peak:.0f}/s, bare {bare:.0f}/s, ratio {peak / bare:.2f}x")
print(f"   probe at {float(probe_order['offered']):.0f}/s     order p99 {probe_order.get('s201_p99_ms')} ms,"
      f" bare p99 {probe_bare.get('s200_p99_ms')} ms,"
      f" ratio {float(probe_order.get('s201_p99_ms', 0)) / float(probe_bare.get('s200_p99_ms', 1)):.1f}x")
print(f"   overload at {float(over['offered']):.0f}/s   goodput {goodput:.0f}/s = {goodput / peak:.2f}x peak;"
      f" refused {refused} p99 " + ", ".join(f"{k} {over.get(f's{k}_p99_ms')} ms" for k in refused)
      + f"; transport errors {over.get('serror', 0)}; never sent {over.get('unsent', 0)}")
print(f"   RSS (KiB) first {rss[0] if rss else '?'}, max {max(rss) if rss else '?'}, last {rss[-1] if rss else '?'}")
metrics = open(f"{work}/metrics.txt").read()
def quantile(name, q):
    buckets = [(float(le), float(v)) for le, v in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', metrics, re.M)]
    if not buckets or buckets[-1][1] == 0: return None
    return next(le for le, v in buckets if v >= q * buckets[-1][1])
for name in ["flashsale_journal_lag_seconds", "flashsale_order_log_sync_seconds", "flashsale_journal_commit_seconds"]:
    print(f"   {name} p99 <= {quantile(name, 0.99)} s")
import sqlite3
db = sqlite3.connect(f"file:{work}/flashsale.db?mode=ro", uri=True)
stored = dict((sale, count) for sale, count in db.execute("SELECT flash_sale_id, count(*) FROM orders GROUP BY flash_sale_id"))
ok = True
for step, accepted in (("peak", peak_201), ("probe", int(probe_order.get("s201", 0))), ("over", int(over.get("s201", 0)))):
    sale = json.load(open(f"{work}/sale-{step}.json"))
    balanced = sale["available"] + sale["reserved"] + sale["sold"] == sale["quantity"]
    exact = sale["reserved"] == accepted
    persisted = stored.get(sale_ids[step], 0)
    ok = ok and balanced and exact and persisted == accepted
    print(f"   {step} sale {dict((k, sale[k]) for k in ('quantity', 'available', 'reserved', 'sold'))}:"
          f" {'balanced' if balanced else 'BROKEN'}; reserved {sale['reserved']} vs 201s {accepted}:"
          f" {'exact' if exact else 'MISMATCH'}; in the database {persisted}")
sys.exit(0 if ok else 1)
PY
