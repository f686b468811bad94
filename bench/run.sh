#!/usr/bin/env bash
# Time imgaudit and its peers on the images made by bench/build-image.sh.
#
# Usage: bench/run.sh [OUT_DIR]          (default target/bench; ~25 min with peers)
#
# Environment:
#   IMGAUDIT=path    binary to measure (default target/release/imgaudit; build it
#                    first with `cargo build --release`)
#   RUNS=3           timed runs per command; the table shows the median
#   PEERS=1          0: imgaudit and the `cat` floor only (skip tar, dive, umoci)
#   IMAGES="big small"   which images
#   NICE=0           run the timed commands under `nice -n NICE` (root: a negative
#                    value shields them from other jobs sharing the CPU; say so
#                    when publishing numbers)
#
# Every command runs RUNS times on a warm page cache (the image is read once with
# `cat` before its first command), under `/usr/bin/time -f '%e %M'` (wall seconds,
# max RSS of the process tree in KiB). stdout goes to /dev/null; stderr of every
# run is kept in OUT/results/ and printed below the table when a run failed.
# imgaudit audit exits 1 when it has findings: 0 and 1 count as success, anything
# else (2: the image could not be read) is reported as a failure.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(cd "${1:-$REPO/target/bench}" && pwd)
IMGAUDIT=${IMGAUDIT:-$REPO/target/release/imgaudit}
CACHE_ONLY=${CACHE_ONLY:-0}   # 1: only the fact-cache rows (and the peers if PEERS=1)
RUNS=${RUNS:-3}
PEERS=${PEERS:-1}
IMAGES=${IMAGES:-big small}
NICE=${NICE:-0}
RES="$OUT/results"
TIME=/usr/bin/time

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$IMGAUDIT" ] || die "no binary at $IMGAUDIT (cargo build --release)"
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"
command -v python3 >/dev/null || die "python3 missing"
mkdir -p "$RES"
TMPD=$(mktemp -d "${TMPDIR:-/var/tmp}/imgaudit-bench.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
# Measure a private copy: a `cargo build` during the run must not swap binaries.
BIN_SHA=$(sha256sum "$IMGAUDIT" | cut -c1-12)
cp "$IMGAUDIT" "$TMPD/imgaudit"
IMGAUDIT_SRC=$IMGAUDIT
IMGAUDIT="$TMPD/imgaudit"

export NO_COLOR=1
rm -f "$RES"/*.err

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
# measure LABEL OKCODES CMD [CLEANUP]: run CMD (a bash string) RUNS times, then
# CLEANUP (untimed) after each run; append one row to $ROWS
# ("label|median wall|min|max|median rss MB|median cpu s|max load|status").
ROWS=
measure() {
  local label=$1 ok=$2 cmd=$3 cleanup=${4:-} i walls=() rsss=() cpus=() loads=() status=ok slug
  slug=$(printf '%s' "$IMG_SLUG-$label" | tr -c 'A-Za-z0-9._-' '_')
  for ((i = 1; i <= RUNS; i++)); do
    local tf="$TMPD/time" ef="$RES/$slug.$i.err" rc=0
    "$TIME" -f '%e %M %U %S %x' -o "$tf" nice -n "$NICE" bash -c "$cmd" > /dev/null 2> "$ef" || rc=$?
    [ -z "$cleanup" ] || bash -c "$cleanup"
    # GNU time writes "Command exited with non-zero status N" first on failure.
    local line; line=$(tail -1 "$tf")
    local w m u sy x load; load=$(cut -d' ' -f1 /proc/loadavg)
    read -r w m u sy x <<< "$line"
    [ -n "${x:-}" ] || x=$rc
    if ! [[ " $ok " == *" $x "* ]]; then status="exit $x (see $ef)"; fi
    walls+=("$w"); rsss+=("$m"); cpus+=("$(awk -v u="$u" -v s="$sy" 'BEGIN{print u+s}')"); loads+=("$load")
    printf '  %-44s run %d: %6.2f s wall %6.2f s cpu %8.1f MB exit %s (load %s)\n' "$label" "$i" "$w" \
      "${cpus[-1]}" "$(awk -v m="$m" 'BEGIN{print m/1024}')" "$x" "$load" >&2
    [ -s "$ef" ] || rm -f "$ef"
  done
  ROWS+=$(python3 - "$label" "$status" "${walls[*]}" "${rsss[*]}" "${cpus[*]}" "${loads[*]}" <<'EOF'
import statistics, sys
label, status = sys.argv[1], sys.argv[2]
w = sorted(float(x) for x in sys.argv[3].split()); r = [int(x) / 1024 for x in sys.argv[4].split()]
c = [float(x) for x in sys.argv[5].split()]; l = [float(x) for x in sys.argv[6].split()]
print(f"{label}|{statistics.median(w):.2f}|{w[0]:.2f}|{w[-1]:.2f}|{statistics.median(r):.0f}"
      f"|{statistics.median(c):.2f}|{max(l):.1f}|{status}")
EOF
)$'\n'
}

# cache_rows IMAGE: the audit with an empty fact cache (emptied after each
# run) and with a warm one (filled by one untimed run first).
cache_rows() {
  local img=$1 cache="$TMPD/cache"
  rm -rf "$cache"
  measure "imgaudit IMAGE --format json, cold fact cache" "0 1" \
    "'$IMGAUDIT' $img --cache '$cache' --format json" "rm -rf '$cache'"
  bash -c "'$IMGAUDIT' $img --cache '$cache' --format json" > /dev/null 2>&1 || true
  measure "imgaudit IMAGE --format json, warm fact cache" "0 1" \
    "'$IMGAUDIT' $img --cache '$cache' --format json"
  measure "imgaudit files IMAGE, warm fact cache" 0 "'$IMGAUDIT' files $img --cache '$cache'"
  rm -rf "$cache"
}

fmt_wall() {  # seconds → "1.23 s" or "1 m 46 s"
  python3 -c 'import sys
s=float(sys.argv[1])
print(f"{s:.2f} s" if s < 10 else f"{s:.1f} s" if s < 60 else f"{int(s//60)} m {s%60:.0f} s")' "$1"
}

print_table() {  # TITLE
  echo
  echo "### $1"
  echo
  echo "| command | wall (median of $RUNS) | min–max | CPU user+sys | max RSS | load avg |"
  echo "|---|---:|---:|---:|---:|---:|"
  local label med lo hi rss cpu load status
  while IFS='|' read -r label med lo hi rss cpu load status; do
    [ -n "$label" ] || continue
    local note=""; [ "$status" = ok ] || note=" **($status)**"
    echo "| $label$note | $(fmt_wall "$med") | $lo–$hi s | $cpu s | $rss MB | $load |"
  done <<< "$ROWS"
}

layer_members() {  # docker-archive → its layer member names, bottom first
  python3 - "$1" <<'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as tf:
    for l in json.load(tf.extractfile("manifest.json"))[0]["Layers"]:
        print(l)
EOF
}

oci_blobs() {  # OCI layout, TAG → layer blob paths, bottom first
  python3 - "$1" "$2" <<'EOF'
import json, os, sys
lay, tag = sys.argv[1:]
blob = lambda d: os.path.join(lay, "blobs", *d.split(":"))
idx = json.load(open(os.path.join(lay, "index.json")))
m = next(m for m in idx["manifests"]
         if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
for l in json.load(open(blob(m["digest"])))["layers"]:
    print(blob(l["digest"]))
EOF
}

describe_image() {  # LABEL PATH-OR-REF BYTES LAYERS
  local entries
  entries=$("$IMGAUDIT" files --no-verify "$2" 2>/dev/null | wc -l)
  printf -- '- **%s**: %s, %s bytes (%s), %s layers, %s entries in the merged tree\n' \
    "$1" "$2" "$3" "$(numfmt --to=iec --suffix=B "$3")" "$4" "$entries"
}

# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------
{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), nproc $(nproc), SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
  echo "- RAM: $(free -g | awk '/^Mem:/{print $2}') GiB; load average at start: $(cut -d' ' -f1-3 /proc/loadavg); runs: $RUNS per command, nice $NICE, peers $([ "$PEERS" = 1 ] && echo on || echo off)"
  echo "- imgaudit: $("$IMGAUDIT" --version), $IMGAUDIT_SRC (sha256 $BIN_SHA…), built $(date -u -r "$IMGAUDIT_SRC" +%Y-%m-%dT%H:%M:%SZ); git HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), src/ $(git -C "$REPO" status --porcelain -- src Cargo.toml 2>/dev/null | grep -q . && echo 'with uncommitted changes' || echo clean)"
  echo "- peers: $(tar --version | head -1); dive $(dive --version 2>/dev/null | awk '{print $2}'); $(umoci --version)"
} > "$TMPD/header.md"
cat "$TMPD/header.md"
DESC=
TABLES=

# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------
for img in $IMAGES; do
  TAR="$OUT/$img.tar"
  [ -f "$TAR" ] || die "$TAR missing: run bench/build-image.sh first"
  mapfile -t MEMBERS < <(layer_members "$TAR")
  mapfile -t BLOBS < <(oci_blobs "$OUT/oci" "$img")
  DESC+=$(describe_image "$img, docker-archive" "$TAR" "$(stat -c %s "$TAR")" "${#MEMBERS[@]}")$'\n'
  DESC+=$(describe_image "$img, OCI layout (gzip)" "$OUT/oci:$img" \
    "$(cat "${BLOBS[@]}" | wc -c)" "${#BLOBS[@]}")$'\n'

  # --- docker-archive, uncompressed layers ---------------------------------
  IMG_SLUG="$img-docker-archive"
  echo ">> $IMG_SLUG: warming the page cache" >&2
  cat "$TAR" > /dev/null
  measure "cat IMAGE > /dev/null (floor)" 0 "cat '$TAR'"
  if [ "$CACHE_ONLY" != 1 ]; then
  measure "imgaudit files IMAGE" 0 "'$IMGAUDIT' files --no-cache '$TAR'"
  measure "imgaudit files --no-verify IMAGE" 0 "'$IMGAUDIT' files --no-cache --no-verify '$TAR'"
  measure "imgaudit IMAGE --format json" "0 1" "'$IMGAUDIT' '$TAR' --no-cache --format json"
  measure "imgaudit IMAGE --format json --no-verify" "0 1" "'$IMGAUDIT' '$TAR' --no-cache --format json --no-verify"
  fi
  cache_rows "'$TAR'"
  if [ "$PEERS" = 1 ]; then
    tarcmd="tar -tvf '$TAR'"
    for m in "${MEMBERS[@]}"; do tarcmd+=" && tar -xOf '$TAR' '$m' | tar -tv"; done
    measure "tar -tv, outer + every layer (pipe)" 0 "$tarcmd"
    measure "dive --ci (docker-archive)" "0 1" "dive --source docker-archive '$TAR' --ci"
  fi
  TABLES+=$(print_table "$img — docker-archive, uncompressed layers ($(numfmt --to=iec --suffix=B "$(stat -c %s "$TAR")"))")$'\n'
  ROWS=

  # --- OCI layout, gzip layers ---------------------------------------------
  IMG_SLUG="$img-oci-gzip"
  echo ">> $IMG_SLUG: warming the page cache" >&2
  cat "${BLOBS[@]}" > /dev/null
  measure "cat layer blobs > /dev/null (floor)" 0 "cat ${BLOBS[*]}"
  if [ "$CACHE_ONLY" != 1 ]; then
  measure "imgaudit files IMAGE" 0 "'$IMGAUDIT' files --no-cache '$OUT/oci:$img'"
  measure "imgaudit files --no-verify IMAGE" 0 "'$IMGAUDIT' files --no-cache --no-verify '$OUT/oci:$img'"
  measure "imgaudit IMAGE --format json" "0 1" "'$IMGAUDIT' '$OUT/oci:$img' --no-cache --format json"
  measure "imgaudit IMAGE --format json --no-verify" "0 1" "'$IMGAUDIT' '$OUT/oci:$img' --no-cache --format json --no-verify"
  fi
  cache_rows "'$OUT/oci:$img'"
  if [ "$PEERS" = 1 ]; then
    tarcmd="true"
    for b in "${BLOBS[@]}"; do tarcmd+=" && tar -tzvf '$b'"; done
    measure "tar -tzv of every layer blob (GNU gzip)" 0 "$tarcmd"
    measure "umoci unpack (extract to disk)" 0 \
      "umoci unpack --image '$OUT/oci:$img' '$TMPD/unpack'" "rm -rf '$TMPD/unpack'"
  fi
  TABLES+=$(print_table "$img — OCI layout, gzip layers ($(numfmt --to=iec --suffix=B "$(cat "${BLOBS[@]}" | wc -c)"))")$'\n'
  ROWS=
done

{
  echo
  echo "Images:"
  echo
  printf '%s' "$DESC"
  printf '%s\n' "$TABLES"
} | tee "$TMPD/body.md"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cat "$TMPD/header.md" "$TMPD/body.md" > "$RES/results-$STAMP.md"
cp "$RES/results-$STAMP.md" "$RES/results.md"
errs=$(ls "$RES"/*.err 2>/dev/null || true)
if [ -n "$errs" ]; then
  echo
  echo "stderr of runs (first 5 lines each):"
  for f in $errs; do echo "--- $f"; head -5 "$f"; done
fi
echo >&2; echo "results: $RES/results-$STAMP.md (and results.md)" >&2
