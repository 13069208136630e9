# Shared by run.sh and compare.sh: build, start a fresh server, seed sales, stop it.
# Source it; it defines functions and sets $root, $work.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d /tmp/flashsale-loadtest.XXXXXX)
pid=
sampler=

# FLASHSALE_BIN=path runs that binary instead (no build): for a smoke run of a script on a debug
# build; measurements are of the release build.
build_release() {
    if [ -n "${FLASHSALE_BIN:-}" ]; then echo "== using $FLASHSALE_BIN (not built here)"; return; fi
    echo "== building release"
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p gateway
}

# start_server [ENV=VALUE …]: a fresh embedded database in $work, a free port, per-IP limit and
# the per-network login-code caps and the caps on unpaid orders per network and per buyer off
# (every virtual fan comes from 127.0.0.1; the steady-rate scripts reuse a buyer for many
# orders; the caps have tests of their own). Sets $base and $pid.
start_server() {
    echo "== starting flashsale on a fresh database in $work"
    (
        cd "$work"
        export FLASHSALE__SERVER__BIND=127.0.0.1:0
        export FLASHSALE__DATABASE__URL="sqlite://$work/flashsale.db"
        export FLASHSALE__DEMO__SEED=false
        export FLASHSALE__ADMISSION__PER_IP_PER_SEC=0
        export FLASHSALE__BUYER_CODES__NETWORK_DAILY_LIMIT=0
        export FLASHSALE__BUYER_CODES__NETWORK_SESSIONS_PER_HOUR=0
        export FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK=0
        export FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_BUYER=0
        export FLASHSALE__LOG__LEVEL=warn
        for assignment in "$@"; do export "${assignment?}"; done
        # SERVER_CPUS=0 pins the server to core 0 (taskset), for runs that give the load
        # generator a core of its own.
        exec ${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} "${FLASHSALE_BIN:-$root/target/release/flashsale}" serve
    ) > "$work/server.log" 2>&1 &
    pid=$!
    base=
    for _ in $(seq 1 100); do
        base=$(sed -n 's/^flashsale listening on //p' "$work/server.log" | head -n1)
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$base" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
    echo "   listening on $base"
}

stop_server() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=
}

cleanup() {
    stop_server
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -X POST "$base$1" -H 'content-type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }

# seed_merchant: signs up the load-test merchant, gets it approved through the qualification
# review (its company registered in the demo's verification sandbox) and sets $merchant_token.
seed_merchant() {
    post /api/v1/merchants '{"phone":"13800000001","password":"loadtest-pass","display_name":"loadtest"}' >/dev/null
    merchant_token=$(post /api/v1/sessions '{"phone":"13800000001","password":"loadtest-pass"}' | json '["token"]')
    local company='"uscc":"91110101BK4R0HF00F","name":"压测商贸有限公司"'
    local person='"legal_person_name":"王压测","legal_person_id_no":"110101196608180017"'
    post /sandbox/verification/companies "{$company,$person}" >/dev/null
    local doc="$work/document.png" kind state
    printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x03\x20\0\0\x02\x58\x08\x02\0\0\0\0\0\0\0' > "$doc"
    for kind in business_licence id_card_front id_card_back; do
        curl -sf -X POST "$base/api/v1/merchants/me/documents" -H "Authorization: Bearer $merchant_token" \
            -F "kind=$kind" -F "file=@$doc;type=image/png" >/dev/null
    done
    curl -sf -X PUT "$base/api/v1/merchants/me/qualification" -H 'content-type: application/json' \
        -H "Authorization: Bearer $merchant_token" \
        -d "{\"entity_type\":\"company\",\"business_name\":\"压测商贸有限公司\",\"licence_number\":\"91110101BK4R0HF00F\",$person,\"contact_name\":\"王压测\",\"contact_phone\":\"13800000001\",\"categories\":[\"apparel\"]}" >/dev/null
    for _ in $(seq 1 100); do
        state=$(curl -sf "$base/api/v1/merchants/me" -H "Authorization: Bearer $merchant_token" | json '["review_state"]')
        [ "$state" != pending ] && break
        sleep 0.1
    done
    [ "$state" = approved ] || { echo "the load-test merchant was not approved: $state" >&2; exit 1; }
}

# seed_sale QUANTITY PER_BUYER_LIMIT PAYMENT_WINDOW_SECS: a product and a flash sale of the
# merchant, live from now for six hours. Prints the flash sale id.
seed_sale() {
    local quantity=$1 limit=$2 window=$3 product starts ends
    product=$(post /api/v1/products "{\"title\":\"loadtest\",\"price_fen\":9900,\"stock\":$quantity}" "$merchant_token" | json '["product_id"]')
    starts=$(date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ)
    ends=$(date -u -d '+6 hours' +%Y-%m-%dT%H:%M:%SZ)
    post /api/v1/flash-sales "{\"product_id\":$product,\"price_fen\":990,\"quantity\":$quantity,\"per_buyer_limit\":$limit,\"starts_at\":\"$starts\",\"ends_at\":\"$ends\",\"payment_window_secs\":$window}" "$merchant_token" | json '["flash_sale_id"]'
}

# buyer_tokens COUNT FILE: verified sessions for COUNT fans (code asked for, read from the SMS
# sandbox's inbox, traded for a token), one token per line.
buyer_tokens() {
    python3 - "$base" "$1" "$2" <<'PY'
import json, re, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def post(path, payload):
    req = urllib.request.Request(f"{base}{path}", json.dumps(payload).encode(), {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))
def session(i):
    phone = str(13500000000 + i)
    post("/api/v1/buyers/codes", {"phone": phone})
    inbox = json.load(urllib.request.urlopen(f"{base}/sandbox/sms/messages?phone={phone}"))
    code = re.search(r"\d{6}", inbox["messages"][0]["text"]).group(0)
    return post("/api/v1/buyers/sessions", {"phone": phone, "code": code})["token"]
with ThreadPoolExecutor(16) as pool:
    tokens = list(pool.map(session, range(count)))
open(path, "w").write("\n".join(tokens) + "\n")
PY
}
