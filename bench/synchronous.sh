#!/bin/sh
# Cost of [database] sqlite_synchronous = FULL against NORMAL (WAL mode both):
# port creates per second, concurrent and sequential, measured by qhv-bench
# on a server it starts with each setting, alternately, ROUNDS times each.
# The database goes in $TMPDIR (default: a directory under this one), which
# must be on the disk to measure: tmpfs has no fsync cost.
#
#   bench/synchronous.sh BUILD_DIR [ROUNDS] [PORTS]
#
# Prints each run's figures and, per setting, the median. docs/operations.md
# has the figures and the choice of default.
set -eu
build=${1:?usage: bench/synchronous.sh BUILD_DIR [ROUNDS] [PORTS]}
rounds=${2:-3}
ports=${3:-1000}
bench="$build/bench/qhv-bench"
server="$build/src/qhv-server"
: "${TMPDIR:=$(cd "$(dirname "$0")" && pwd)/../var/bench-tmp}"
export TMPDIR
mkdir -p "$TMPDIR"
echo "database directory: $TMPDIR ($(df -T "$TMPDIR" | awk 'NR==2 {print $2}'))"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
r=1
while [ "$r" -le "$rounds" ]; do
    for mode in NORMAL FULL; do
        "$bench" --server "$server" --synchronous "$mode" --ports "$ports" \
            --list-ports 0 --gets 0 >"$out.run" 2>&1 || { cat "$out.run"; exit 1; }
        conc=$(awk '/creates, [0-9]+ concurrent clients/ {for (i = 1; i <= NF; i++) if ($i == "/s") {print $(i-1); exit}}' "$out.run")
        seq=$(awk '/creates, sequential/ {for (i = 1; i <= NF; i++) if ($i == "/s") {print $(i-1); exit}}' "$out.run")
        printf '%-7s round %d: %6s creates/s concurrent, %6s creates/s sequential\n' \
            "$mode" "$r" "$conc" "$seq"
        echo "$mode $conc $seq" >>"$out"
    done
    r=$((r + 1))
done
rm -f "$out.run"
for mode in NORMAL FULL; do
    for col in 2 3; do
        awk -v m="$mode" -v c="$col" '$1 == m {print $c}' "$out" | sort -n |
            awk '{v[NR] = $1} END {printf "%s ", v[int((NR + 1) / 2)]}'
    done | awk -v m="$mode" '{printf "%-7s median: %6s creates/s concurrent, %6s creates/s sequential\n", m, $1, $2}'
done
