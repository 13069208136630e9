#!/usr/bin/env bash
# Baseline for the actor bench: a same-machine Redis Lua check-and-decrement, the usual way to
# make flash-sale stock oversell-proof, measured with redis-benchmark (EVALSHA).
#
#   benches/redis_lua.sh            # REDIS_HOST=127.0.0.1 REDIS_PORT=6379 REQUESTS=500000
#
# Uses one key under the prefix flashsale-bench: and deletes it afterwards.
set -euo pipefail
host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
requests=${REQUESTS:-500000}
key="flashsale-bench:stock:$$"
cli() { redis-cli -h "$host" -p "$port" "$@"; }
trap 'cli DEL "$key" >/dev/null' EXIT

cli SET "$key" 1000000000 >/dev/null
sha=$(cli SCRIPT LOAD "local s = tonumber(redis.call('GET', KEYS[1]) or '0') \
if s >= tonumber(ARGV[1]) then redis.call('DECRBY', KEYS[1], ARGV[1]) return 1 end return 0")
for pipeline in 1 16; do
    echo "== EVALSHA check-and-decrement, 50 clients, pipeline $pipeline"
    redis-benchmark -h "$host" -p "$port" -n "$requests" -c 50 -P "$pipeline" -q \
        EVALSHA "$sha" 1 "$key" 1 | tr '\r' '\n' | tail -n 1
done
echo "stock left: $(cli GET "$key") of 1000000000"
