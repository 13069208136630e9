#!/usr/bin/env bash
# Boot time, resident memory and idle CPU of the flashsale binary on an empty database and on
# one holding SALES settled flash sales (ended an hour ago; each with a paid, an expired and a
# cancelled order). A settled sale can no longer change, so it should cost nothing: no actor,
# no timer, no memory, no boot time.
#
#   benches/boot.sh [BINARY]        # default: target/release/flashsale
#   SALES=10000 RUNS=3 benches/boot.sh target/debug/flashsale
#
# Boot time is from spawning the process to its "listening on" line (migrations and recovery
# included); memory is the resident set 3 s later; idle CPU is the process's CPU time over the
# 5 s after that, with no request coming in. One warm-up boot per database first (it generates
# and stores the signing and sandbox keys). Embedded SQLite only; runs any version of the
# binary (the data is inserted with the columns every version has).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$root/target/release/flashsale}
sales=${SALES:-10000}
runs=${RUNS:-3}
[ -x "$binary" ] || { echo "no binary at $binary (cargo build --release -p gateway)" >&2; exit 2; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
work=$(mktemp -d /tmp/flashsale-boot.XXXXXX)
# Defaults and the environment only: no config.toml of the checkout (another version's keys).
cd "$work"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ticks=$(getconf CLK_TCK)

# database NAME: migrates a fresh embedded database; prints its URL.
database() {
    mkdir -p "$work/$1"
    local url="sqlite://$work/$1/flashsale.db"
    FLASHSALE__DATABASE__URL=$url FLASHSALE__LOG__LEVEL=warn "$binary" migrate > /dev/null
    echo "$url"
}

# boot URL: one start; prints "boot_ms rss_kib cpu_ms".
boot() {
    local log="$work/server.log" started now listening rss cpu0 cpu1
    started=$(date +%s%N)
    FLASHSALE__DATABASE__URL=$1 FLASHSALE__JOURNAL__LOG_PATH="${1#sqlite://}-orders.log" \
        FLASHSALE__SERVER__BIND=127.0.0.1:0 FLASHSALE__DEMO__SEED=false \
        FLASHSALE__LOG__LEVEL=warn FLASHSALE__OPERATOR__PASSWORD=boot-measure-pass \
        "$binary" serve > "$log" 2>&1 &
    pid=$!
    until grep -q '^flashsale listening on' "$log"; do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.01
    done
    now=$(date +%s%N)
    listening=$(( (now - started) / 1000000 ))
    sleep 3
    rss=$(ps -o rss= -p "$pid" | tr -d ' ')
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep 5
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    echo "$listening $rss $(( (cpu1 - cpu0) * 1000 / ticks ))"
}

empty=$(database empty)
settled=$(database settled)
python3 - "$work/settled/flashsale.db" "$sales" <<'PY'
import sqlite3, sys, time
path, sales = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
start, end = now - 7_200_000, now - 3_600_000
db = sqlite3.connect(path)
db.execute("INSERT INTO merchants (phone, password_hash, display_name, created_at, kyc_verified) "
           "VALUES ('13700000001', 'x', 'settled shop', ?, 0)", (now,))
db.execute("INSERT INTO products (merchant_id, title, description, image_url, price_fen, stock, status, created_at) "
           "VALUES (1, 't', '', '', 990, 0, 'listed', ?)", (now,))
db.executemany("INSERT INTO flash_sales (merchant_id, product_id, title, price_fen, quantity, per_buyer_limit, "
               "starts_at, ends_at, payment_window_secs, created_at) VALUES (1, 1, 'settled', 990, 10, 5, ?, ?, 600, ?)",
               [(start, end, start)] * sales)
orders, n = [], 0
for sale in range(1, sales + 1):
    for state in ("paid", "expired", "cancelled"):
        n += 1
        orders.append((n, sale, n, state, start + 1_000, start + 601_000, start + 1_000))
db.executemany("INSERT INTO orders (id, flash_sale_id, merchant_id, buyer_id, quantity, amount_fen, state, "
               "idempotency_key, created_at, expires_at, updated_at) VALUES (?, ?, 1, ?, 1, 990, ?, 'k', ?, ?, ?)",
               orders)
db.commit()
PY

echo "binary: $binary"
echo "settled sales: $sales (3 orders each), runs: $runs (after one warm-up each)"
printf '%-10s %10s %12s %14s\n' database boot_ms rss_mib idle_cpu_ms/5s
for name in empty settled; do
    url=$([ "$name" = empty ] && echo "$empty" || echo "$settled")
    boot "$url" > /dev/null
    for _ in $(seq 1 "$runs"); do
        read -r ms rss cpu < <(boot "$url")
        printf '%-10s %10s %12s %14s\n' "$name" "$ms" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$cpu"
    done
done
