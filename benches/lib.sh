# Shared by benches/run and benches/profile: tools, build, the servers, and measuring with wrk.
# Sourced, not run; expects `root` (the workspace) to be set.

# The bench user, created on the fresh database at first start.
USERNAME=secureworks
PASSWORD=bench-password

progress() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

die() {
    echo "bench: $*" >&2
    if [[ -n ${tmp:-} && -f $tmp/secworks.log ]]; then
        echo "--- last lines of the secworks log:" >&2
        tail -n 20 "$tmp/secworks.log" >&2
    fi
    exit 1
}

# wrk (the load generator) and jq from Debian if missing; curl and awk are on every image.
install_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v jq >/dev/null || missing+=(jq)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    ((${#missing[@]} == 0)) && return
    progress "installing ${missing[*]} from Debian"
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
}

# secworks with the bench routes and the DNS example, in one cargo invocation so that shared
# dependencies are compiled once.
build_release() {
    progress "building secworks (release, --features bench-routes) and the bench DNS server"
    (cd "$root" && cargo build --release --quiet \
        -p secworks -p secworks-dnsbl \
        --features secworks/bench-routes,secworks-dnsbl/test-server \
        --bin secworks --example bench_dns) >&2
    target=${CARGO_TARGET_DIR:-$root/target}/release
    [[ $target == /* ]] || target=$root/$target
}

# Starts the test DNS server and secworks on a fresh SQLite database in a temporary
# directory; sets tmp, dns_pid, dns_addr, server_pid, base and token. SERVER_WRAPPER (an
# array, may be empty) runs secworks under a tool such as valgrind or `env VAR=…`;
# SERVER_BINARY runs another build (to compare two side by side); READY_TIMEOUT (seconds)
# bounds the start-up.
start_servers() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/secworks-bench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    "$target/examples/bench_dns" >"$tmp/dns.out" 2>"$tmp/dns.err" &
    dns_pid=$!
    wait_for 10 "the bench DNS server" test -s "$tmp/dns.out"
    dns_addr=$(head -n1 "$tmp/dns.out")
    progress "test DNS server on $dns_addr"

    # Only the settings below: nothing from the caller's environment steers the server.
    local var
    for var in $(compgen -e); do
        case $var in SECWORKS_* | DATABASE_URL | HOST | PORT | RUST_LOG) unset "$var" ;; esac
    done
    (
        cd "$tmp"
        exec env HOST=127.0.0.1 PORT=0 NO_COLOR=1 \
            DATABASE_URL="sqlite://$tmp/bench.db" \
            SECWORKS_ADMIN_PASSWORD="$PASSWORD" \
            SECWORKS_DNS_SERVER="$dns_addr" \
            SECWORKS_DAILY_BUDGETS=spamhaus-zen=none \
            "${SERVER_WRAPPER[@]}" "${SERVER_BINARY:-$target/secworks}"
    ) >"$tmp/secworks.out" 2>"$tmp/secworks.log" &
    server_pid=$!
    wait_for "${READY_TIMEOUT:-30}" "secworks to listen" grep -q 'secworks listening' "$tmp/secworks.log"
    local addr
    addr=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/secworks.log" |
        sed -n 's/.*secworks listening.*addr=\([0-9.]*:[0-9]*\).*/\1/p')
    addr=${addr%%$'\n'*}
    [[ -n $addr ]] || die "cannot read the listening address from the log"
    base="http://$addr"
    # Under a wrapper the process to watch is the wrapper's, which is the same pid (exec).
    progress "secworks (pid $server_pid) on $base, database $tmp/bench.db"

    token=$(curl -sf -X POST -u "$USERNAME:$PASSWORD" "$base/graphql/tokens" | jq -r .token)
    [[ $token == v4.local.* ]] || die "no token issued"
    # Lookups run once the blocklist's test points have answered.
    wait_for "${READY_TIMEOUT:-30}" "lookups to start" lookups_running

    # The stored address every getIpDetails scenario reads.
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data '{"query": "mutation { enqueue(ip: [\"127.0.0.2\"]) }"}' "$base/graphql" ||
        die "enqueue of 127.0.0.2 failed"
    wait_for "${READY_TIMEOUT:-30}" "127.0.0.2 to be stored" stored 127.0.0.2
}

cleanup() {
    stop_servers
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        progress "kept $tmp"
    elif [[ -n ${tmp:-} ]]; then
        rm -rf "$tmp"
    fi
}

# Ends the two processes this script started, by their ids.
stop_servers() {
    local pid
    for pid in ${server_pid:-} ${dns_pid:-}; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    server_pid='' dns_pid=''
}

wait_for() { # SECONDS WHAT COMMAND...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" 2>/dev/null; do
        ((SECONDS < deadline)) || die "timed out waiting for $what"
        [[ -z ${server_pid:-} ]] || kill -0 "$server_pid" 2>/dev/null || die "secworks exited"
        sleep 0.1
    done
}

graphql() { # QUERY -> response body
    jq -n --arg q "$1" '{query: $q}' |
        curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            --data-binary @- "$base/graphql"
}

lookups_running() { [[ $(graphql '{ queueStatus { paused } }' | jq .data.queueStatus.paused) == false ]]; }

stored() { [[ $(graphql "{ getIpDetails(ip: \"$1\") { uuid } }" | jq -r .data.getIpDetails.uuid) != null ]]; }

queue_done() { graphql '{ queueStatus { done } }' | jq .data.queueStatus.done; }

# check_response METHOD PATH BODY_FILE AUTHORIZATION JQ_CONDITION: one request answers 200
# with a body for which the condition holds, so that no scenario measures error answers.
check_response() {
    local args=(-s -o "$tmp/check.json" -w '%{http_code}' -X "$1")
    [[ -n $3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
    [[ -n $4 ]] && args+=(-H "Authorization: $4")
    local status
    status=$(curl "${args[@]}" "$base$2")
    [[ $status == 200 ]] || die "$1 $2 answered $status: $(head -c 300 "$tmp/check.json")"
    jq -e "$5" "$tmp/check.json" >/dev/null || die "$1 $2 answered $(head -c 300 "$tmp/check.json")"
}

# GET /metrics, as Prometheus would between scenarios: the metrics recorder keeps every
# histogram sample (one per request) until a scrape drains them, so without it each scenario's
# memory would include all the samples of the scenarios before it.
scrape_metrics() { curl -sf -o /dev/null "$base/metrics" || die "GET /metrics failed"; }

# Peak RSS since the last reset (VmHWM), in KiB. Writing 5 to clear_refs resets the peak to the
# current RSS (Linux 4.0+), so each scenario's peak is its own.
reset_peak_rss() { echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true; }
peak_rss() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status"; }

# CPU time the server has used, user and system, all threads, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'; }
CLK_TCK=$(getconf CLK_TCK)

# measure CONCURRENCY METHOD PATH BODY_FILE AUTHORIZATION: a wrk warm-up, then a measured run;
# sets M_RPS, M_P50, M_P99 (µs), M_CPU (server CPU µs per request, measured run) and M_RSS
# (KiB, the peak during both).
measure() {
    local conc=$1 threads=$(($1 < 2 ? $1 : 2)) url="$base$3" out line
    local wrk_env=(WRK_METHOD="$2" WRK_BODY_FILE="$4" WRK_AUTHORIZATION="$5")
    scrape_metrics
    reset_peak_rss
    if ((WARMUP > 0)); then
        env "${wrk_env[@]}" wrk -t"$threads" -c"$conc" -d"${WARMUP}s" --timeout 10s \
            -s "$root/benches/wrk.lua" "$url" >"$tmp/wrk-warmup.out" || die "wrk failed (warm-up)"
    fi
    local ticks_before ticks_after
    ticks_before=$(cpu_ticks)
    env "${wrk_env[@]}" wrk -t"$threads" -c"$conc" -d"${DURATION}s" --timeout 10s \
        -s "$root/benches/wrk.lua" "$url" >"$tmp/wrk.out" || die "wrk failed"
    ticks_after=$(cpu_ticks)
    line=$(grep '^RESULT ' "$tmp/wrk.out") || die "no result from wrk: $(cat "$tmp/wrk.out")"
    local requests seconds errors
    read -r _ requests seconds M_P50 M_P99 errors <<<"$line"
    ((errors == 0)) || die "$2 $3 at concurrency $conc: $errors errors: $(cat "$tmp/wrk.out")"
    M_RPS=$(awk -v n="$requests" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')
    M_CPU=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$CLK_TCK" -v n="$requests" \
        'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
    M_RSS=$(peak_rss)
}

# UDP datagrams the kernel dropped for want of receive-buffer space, machine-wide (the bench's
# DNS traffic is the only UDP load here).
udp_receive_drops() { awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }

median() { percentile 50 "$@"; }
percentile() { # P VALUES... -> the nearest-rank P-th percentile
    local p=$1
    shift
    printf '%s\n' "$@" | sort -g |
        awk -v p="$p" '{ v[NR] = $1 } END { r = int((p * NR + 99) / 100); print v[r < 1 ? 1 : r] }'
}
max() { printf '%s\n' "$@" | sort -g | tail -n1; }

ipv4_add() { # ADDRESS N -> ADDRESS + N
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    local n=$(((a << 24) + (b << 16) + (c << 8) + d + $2))
    echo "$((n >> 24 & 255)).$((n >> 16 & 255)).$((n >> 8 & 255)).$((n & 255))"
}

enqueue_body() { # FIRST COUNT -> {"query": "mutation ($ip: …) …", "variables": {"ip": [...]}}
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    awk -v first=$(((a << 24) + (b << 16) + (c << 8) + d)) -v count="$2" 'BEGIN {
        printf "{\"query\": \"mutation ($ip: [String!]!) { enqueue(ip: $ip) }\", \"variables\": {\"ip\": ["
        for (i = 0; i < count; i++) {
            n = first + i
            printf "%s\"%d.%d.%d.%d\"", (i ? "," : ""), int(n / 16777216) % 256, int(n / 65536) % 256, int(n / 256) % 256, n % 256
        }
        printf "]}}"
    }'
}

# enqueue_until_stored BODY_FILE DONE_AFTER: sends the enqueue, polls queueStatus until
# DONE_AFTER jobs are done; prints lookups stored per second from the send to the last poll.
enqueue_until_stored() {
    python3 "$root/benches/enqueue_until_stored.py" "$base" "$token" "$1" "$2" ||
        die "enqueue until stored failed"
}
