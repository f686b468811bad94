#!/usr/bin/env bash
# Long fuzz runs, one target after another, and keeping what they found.
# (The numbers in docs/fuzzing.md's "Runs so far" were made with this.)
#
#   fuzz/tools/long-run.sh run   RUNS TARGET:SECONDS...
#   fuzz/tools/long-run.sh merge RUNS TARGET...
#
# run: each target in turn, from its committed corpus (fuzz/corpus/T; `audit`
#   and `overlay` also read each other's, as scripts/fuzz.sh does), for
#   SECONDS. Nothing is written into fuzz/corpus: new inputs go to RUNS/T/new,
#   crashes to RUNS/T/art/, libFuzzer's output to RUNS/T/log, and once a
#   minute its last status line to RUNS/T/samples (coverage over time, which
#   is what "flat" is judged on: fuzz/tools/rows.py). On a 2-core machine, two
#   series side by side and nothing else, or the samples measure the load.
# merge: libFuzzer's -merge=1 of RUNS/T/new over the committed corpus (plus
#   the partner's for audit/overlay, so only what adds to both is kept); each
#   input it keeps that is at most the target's size cap is copied to
#   fuzz/corpus/T/cmin-<sha1> (named by content: stable across merges). Caps:
#   64 KiB for audit and overlay, 16 KiB for cache (their finds grow from the
#   slimmed test images, up to 850 KiB; the small ones carry most of the new
#   edges), 64 KiB for scan (from a real shard output of 155 KiB), none for
#   the rest. Prints what the merge found and what was kept.
#
# Needs the instrumented build: cargo +nightly fuzz build -O
# The remote target runs without a network (unshare -rn, loopback up).
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$root/fuzz/target/$triple/release"

usage() {
    sed -n '4,5p' "$0" >&2
    exit 2
}
[ "$#" -ge 3 ] || usage
cmd=$1
runs=$(realpath -m "$2")
shift 2

# The committed corpora a target starts from (and is merged over).
corpora() {
    echo "$root/fuzz/corpus/$1"
    case $1 in
    audit) echo "$root/fuzz/corpus/overlay" ;;
    overlay) echo "$root/fuzz/corpus/audit" ;;
    esac
}

# How the target's binary is started: remote in a namespace without a
# network (an answer may send the client to any host), and without
# LeakSanitizer (threads that end after the input leave thread-locals).
launch() {
    local t=$1
    shift
    if [ "$t" = remote ]; then
        unshare -rn sh -c 'ip link set lo up; exec "$@"' sh "$bin_dir/$t" -detect_leaks=0 "$@"
    else
        "$bin_dir/$t" "$@"
    fi
}

need_bin() {
    [ -x "$bin_dir/$1" ] || {
        echo "long-run: no $bin_dir/$1 (cargo +nightly fuzz build -O)" >&2
        exit 2
    }
}

case $cmd in
run)
    for ts in "$@"; do
        t=${ts%%:*}
        s=${ts##*:}
        need_bin "$t"
        r="$runs/$t"
        mkdir -p "$r/new" "$r/art"
        rm -f "$r/samples"
        (
            while sleep 60; do
                l=$(grep -aoE '#[0-9]+.*cov: [0-9]+' "$r/log" 2>/dev/null | tail -n1 || true)
                echo "$(date +%H:%M:%S) $l" >>"$r/samples"
            done
        ) &
        sampler=$!
        mapfile -t dirs < <(corpora "$t")
        rc=0
        launch "$t" "$r/new" "${dirs[@]}" -max_total_time="$s" -rss_limit_mb=2048 \
            -timeout=60 -print_final_stats=1 -artifact_prefix="$r/art/" >"$r/log" 2>&1 || rc=$?
        kill "$sampler"
        echo "rc=$rc" >>"$r/log"
        echo "$t: ${s}s, exit $rc, $(ls "$r/art" | wc -l) crash inputs, $(ls "$r/new" | wc -l) new inputs"
    done
    ;;
merge)
    for t in "$@"; do
        need_bin "$t"
        case $t in
        audit | overlay | scan) cap=65536 ;;
        cache) cap=16384 ;;
        *) cap=0 ;;
        esac
        m=$(mktemp -d)
        mapfile -t dirs < <(corpora "$t")
        for d in "${dirs[@]}"; do cp "$d"/* "$m/" 2>/dev/null || true; done
        ls "$m" | sort >"$m.before"
        launch "$t" -merge=1 -rss_limit_mb=4096 -timeout=60 "$m" "$runs/$t/new" >"$runs/$t/merge.log" 2>&1
        n=0
        bytes=0
        while read -r f; do
            size=$(stat -c %s "$m/$f")
            [ "$cap" -eq 0 ] || [ "$size" -le "$cap" ] || continue
            h=$(sha1sum "$m/$f" | cut -c1-40)
            [ -e "fuzz/corpus/$t/cmin-$h" ] && continue
            cp "$m/$f" "fuzz/corpus/$t/cmin-$h"
            n=$((n + 1))
            bytes=$((bytes + size))
        done < <(ls "$m" | sort | comm -13 "$m.before" -)
        rm -rf "$m" "$m.before"
        echo "$t: $(grep -ao 'MERGE-OUTER: [0-9]* new files.*' "$runs/$t/merge.log" | tail -n1); kept $n ($bytes bytes)"
    done
    ;;
*) usage ;;
esac
