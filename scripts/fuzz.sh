#!/usr/bin/env bash
# Build every cargo-fuzz target and run each for SECONDS (default 30).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Each run starts from fuzz/corpus/<target>/ (the committed seeds, r10-*
# crash inputs and cmin-* minimized corpus of the long runs, plus whatever
# earlier runs added; new inputs are written there, untracked) and
# is bounded in memory (-rss_limit_mb) and per input (-timeout), so an
# input that makes imgaudit grow without bound or hang is a finding too.
# Exits non-zero when any target crashed; the crashing input is under
# fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run TARGET FILE).
# Not part of .ci/run: see docs/fuzzing.md.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
rss_mb=${FUZZ_RSS_MB:-2048}
timeout_s=${FUZZ_TIMEOUT:-10}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: needs the nightly toolchain and cargo-fuzz (rustup toolchain install nightly; cargo install cargo-fuzz)" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build
# The built targets are run directly (what `cargo fuzz run` runs after its
# build), so one can be run in a namespace of its own.
triple=$(rustc -vV | sed -n 's/^host: //p')
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    # `audit` and `overlay` take the same input: each starts from the
    # other's corpus too (new inputs go to the first directory, its own), so
    # `overlay` also gets the slimmed test images (make-audit-seeds.py).
    corpora=("fuzz/corpus/$t")
    [ "$t" = audit ] && corpora+=(fuzz/corpus/overlay)
    [ "$t" = overlay ] && corpora+=(fuzz/corpus/audit)
    # `remote` plays a registry whose answers may send the client elsewhere
    # (a token realm, a redirect): run it without a network, loopback only,
    # when this machine can make such a namespace (root or user namespaces).
    # Its server and imgaudit's thread pools end their threads after the
    # input is done; LeakSanitizer would call their thread-locals leaks.
    wrap=()
    extra=()
    [ "$t" = remote ] && extra=(-detect_leaks=0)
    if [ "$t" = remote ] && unshare -rn true 2>/dev/null; then
        wrap=(unshare -rn sh -c 'ip link set lo up 2>/dev/null || ifconfig lo up; exec "$@"' sh)
    elif [ "$t" = remote ]; then
        echo "fuzz: remote: no network namespace here; running with the network" >&2
    fi
    echo "== $t: ${seconds}s"
    if ! "${wrap[@]}" "fuzz/target/$triple/release/$t" "${corpora[@]}" \
        -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 "${extra[@]}" 2>&1 | tail -n 60; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
