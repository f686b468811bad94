#!/usr/bin/env bash
# The nightly scan against the local registry: N images that share a base,
# cold (empty cache) and warm (the next night), against the peer pipeline
# `skopeo copy` of each image to disk followed by the file audit.
#
# Usage: bench/scan.sh [N]     (default: every single-platform tag of the layout, 18
#                               for the fixtures; needs scripts/registry.sh running,
#                               i.e. `bash scripts/setup.sh`, and a release build)
#
# Environment:
#   IMGAUDIT=path    binary (default target/release/imgaudit)
#   REGISTRY=host    plain-HTTP registry (default 127.0.0.1:5000)
#   REGISTRY_LOG=f   its access log, to count requests and bytes (default
#                    target/registry/plain/registry.log; /work/main's when absent)
#   IMAGES_FROM=dir  OCI layout whose tags are pushed (default testdata/images/oci:
#                    the fixtures, which share the Debian base layers)
#   JOBS=4           --jobs of the scan
#
# N images are pushed under a fresh repository prefix `bench-scan-<time>/`:
# the layout's first N tags (`img-00` … `img-NN`), with skopeo: N distinct
# manifests that share the Debian base layers. Then, each under
# `/usr/bin/time` (wall seconds, max RSS):
#   1. cold: `imgaudit scan --registry R/PREFIX` with an empty cache;
#   2. warm: the same command again (the second night);
#   3. peer: for each image `skopeo copy docker://… oci:DIR:TAG`, then
#      `imgaudit audit oci:DIR:TAG --no-cache` (what a scan without a registry
#      source costs: every blob to disk first).
# Requests and blob bytes are counted in the registry's access log (only lines
# of this run's prefix). The table goes to stdout; scratch goes to
# target/tmp/bench-scan and is removed at the end.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-}
IMGAUDIT=${IMGAUDIT:-$REPO/target/release/imgaudit}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
IMAGES_FROM=${IMAGES_FROM:-$REPO/testdata/images/oci}
JOBS=${JOBS:-4}
TIME=/usr/bin/time
LOG=${REGISTRY_LOG:-$REPO/target/registry/plain/registry.log}
[ -f "$LOG" ] || LOG=/work/main/target/registry/plain/registry.log

die() { echo "scan.sh: $*" >&2; exit 1; }
[ -x "$IMGAUDIT" ] || die "no binary at $IMGAUDIT (cargo build --release)"
[ -x "$TIME" ] || die "GNU time missing: apt-get install time"
command -v skopeo >/dev/null || die "skopeo missing (bash scripts/setup.sh)"
curl -fsS "http://$REGISTRY/v2/" >/dev/null || die "no registry at $REGISTRY (bash scripts/setup.sh)"
[ -f "$LOG" ] || die "no access log at $LOG (set REGISTRY_LOG)"

PREFIX="bench-scan-$(date +%s)"
TMP="$REPO/target/tmp/bench-scan"
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

# Single-platform tags of the layout (the index would need --all; keep it simple).
mapfile -t TAGS < <(python3 - "$IMAGES_FROM/index.json" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["manifests"]:
    if m["mediaType"].endswith("manifest.v1+json"):
        print(m["annotations"]["org.opencontainers.image.ref.name"])
PY
)
N=${N:-${#TAGS[@]}}
[ "$N" -le "${#TAGS[@]}" ] || die "the layout has ${#TAGS[@]} distinct images, not $N"
echo "pushing $N images to $REGISTRY/$PREFIX/ …" >&2
for i in $(seq 0 $((N - 1))); do
  tag=${TAGS[$i]}
  name=$(printf 'img-%02d' "$i")
  skopeo copy -q --dest-tls-verify=false "oci:$IMAGES_FROM:$tag" \
    "docker://$REGISTRY/$PREFIX/$name:latest" >/dev/null
done

# count FROM_LINE: requests, blob GETs and blob bytes of this prefix after line FROM_LINE.
count() {
  tail -n +"$(($1 + 1))" "$LOG" | python3 -c '
import re, sys
prefix = sys.argv[1]
req = blobs = size = 0
for line in sys.stdin:
    m = re.search(r"\"(GET|HEAD) (/v2/\S*) HTTP/[0-9.]+\" (\d+) (\d+|-)", line)
    if not m or not (m.group(2).startswith("/v2/" + prefix + "/") or m.group(2).startswith("/v2/_catalog")):
        continue
    req += 1
    if m.group(1) == "GET" and "/blobs/" in m.group(2):
        blobs += 1
        size += int(m.group(4)) if m.group(4) != "-" else 0
print(req, blobs, size)
' "$PREFIX"
}

row() { # LABEL CMD
  local start rc=0
  start=$(wc -l < "$LOG")
  "$TIME" -f '%e %M' -o "$TMP/time" bash -c "$2" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [ "$rc" -le 1 ] || { cat "$TMP/err" >&2; die "$1 exited $rc"; }
  sleep 0.5 # the registry flushes its access log
  read -r wall rss < <(tail -1 "$TMP/time")
  read -r req blobs bytes < <(count "$start")
  printf '| %s | %s s | %d MB | %s | %s | %s |\n' "$1" "$wall" $((rss / 1024)) "$req" "$blobs" \
    "$(numfmt --to=iec --suffix=B "$bytes")"
}

SCAN="'$IMGAUDIT' scan --registry $REGISTRY/$PREFIX --cache '$TMP/cache' --out-dir '$TMP/out-scan' --jobs $JOBS --progress never --format json"
PEER="for i in \$(seq 0 $((N - 1))); do n=\$(printf img-%02d \$i);
  skopeo copy -q --src-tls-verify=false docker://$REGISTRY/$PREFIX/\$n:latest oci:'$TMP/peer':\$n >/dev/null;
  '$IMGAUDIT' audit oci:'$TMP/peer':\$n --no-cache --progress never -f json >/dev/null || [ \$? -eq 1 ]; done"

echo "| $N images, $REGISTRY | wall | max RSS | requests | blob GETs | blob bytes |"
echo "|---|---:|---:|---:|---:|---:|"
row "imgaudit scan, cold cache" "$SCAN"
row "imgaudit scan, warm (second night)" "$SCAN"
row "skopeo copy to disk + imgaudit audit (each image)" "$PEER"
du -sh "$TMP/cache" "$TMP/peer" | sed 's/^/disk: /' >&2
