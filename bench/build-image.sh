#!/usr/bin/env bash
# Build the benchmark images of imgaudit from real tools (no Docker engine):
#
#   OUT/oci/        one OCI image layout, gzip layers, tags `big` and `small`
#   OUT/big.tar     `docker save`-style docker-archive of `big`, uncompressed layers
#   OUT/small.tar   the same for `small`
#   OUT/images.txt  what went in (wheel versions, layer sizes)
#
#   big   (6 layers, ~6 GB): Debian bookworm base (2 layers, python3.11 from .debs),
#         a venv with `pip install torch transformers` (the default PyPI Linux torch
#         wheel: CUDA nvidia-* wheels included), a slimming RUN (__pycache__), a
#         second slimming RUN (torch C headers), a small COPY.
#   small (5 layers, ~250 MB): the same base, a venv with numpy+pandas+matplotlib,
#         the __pycache__ slimming RUN, a small COPY.
#
# OUT defaults to target/bench/ (gitignored). Everything present is reused: delete
# OUT (or OUT/big.tar, ...) to rebuild. Work files live in OUT/work (the wheelhouses
# are kept so that a rebuild does not download 3.5 GB again).
#
# Needs root (chroot, bind mounts), network to the Debian archive and PyPI, umoci,
# skopeo, dpkg-deb, apt-get, jq, a python3 with pip. The base layers, the chroot
# helpers and the umoci conventions are those of testdata/build-fixtures.sh, whose
# functions are sourced (its `main` is not run).
#
# Usage: sudo bench/build-image.sh [OUT_DIR]     (first run: ~15-25 min, mostly
#        pip download + install of torch and gzip of the 6 GB layer by umoci)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/target/bench}" && cd "${1:-$REPO/target/bench}" && pwd)

# Versions: unpinned on purpose (the newest wheels on PyPI at build time); what was
# used is written to OUT/images.txt. Override to pin, e.g. BIG_PKGS="torch==2.5.1".
BIG_PKGS=${BIG_PKGS:-torch transformers}
SMALL_PKGS=${SMALL_PKGS:-numpy pandas matplotlib}

# ---------------------------------------------------------------------------
# Reuse the fixture builder's functions (everything but its `main "$@"` line).
# ---------------------------------------------------------------------------
export IMGAUDIT_FIXTURE_WORK="$OUT/work"
FIXTURES="$REPO/testdata/build-fixtures.sh"
[ -f "$FIXTURES" ] || { echo "build-image: $FIXTURES not found" >&2; exit 1; }
# Its last line must be the plain `main "$@"` we drop; otherwise sourcing would build
# the fixtures instead.
[ "$(grep -c '^main "\$@"$' "$FIXTURES")" = 1 ] && [ "$(tail -1 "$FIXTURES")" = 'main "$@"' ] ||
  { echo "build-image: $FIXTURES no longer ends with a plain 'main \"\$@\"' line" >&2; exit 1; }
# shellcheck disable=SC1090
source <(sed '/^main "\$@"$/d' "$FIXTURES")
for f in log die safe_rm cleanup chroot_env in_image fetch_debs extract_debs merge_usr \
         build_base mount_image_fs umount_image_fs config venv_config; do
  declare -F "$f" >/dev/null || { echo "build-image: $FIXTURES no longer defines $f" >&2; exit 1; }
done
# Point the sourced functions at our layout and work dir.
OCI="$OUT/oci"
WORK="$OUT/work"
HERE="$OUT"          # only used by the fixture's own main, which is not run
command -v skopeo >/dev/null || die "missing tool: skopeo"

PYC_CLEAN="find /opt/venv -name __pycache__ -prune -exec rm -rf {} +"

# ---------------------------------------------------------------------------
# Wheelhouses: one per image, resolved for CPython 3.11 / manylinux x86_64
# (the image's interpreter and glibc 2.36), wheels only.
# ---------------------------------------------------------------------------
PLATFORM_ARGS=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
               --abi abi3 --abi none --platform manylinux2014_x86_64)
for v in $(seq 5 36); do PLATFORM_ARGS+=(--platform "manylinux_2_${v}_x86_64"); done

fetch_wheelhouse() {  # NAME PKG...
  local name=$1; shift
  local d="$WORK/wheels-$name"
  if [ -f "$d/.complete" ] && [ "$(head -1 "$d/.complete")" = "$*" ]; then return; fi
  log "downloading wheels for $name: $*"
  mkdir -p "$d"
  local t0=$SECONDS
  env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT "$PIP_HOST" -m pip download -q \
    --no-cache-dir -d "$d" "${PLATFORM_ARGS[@]}" "pip==$PIP_VERSION" "$@"
  # Pin exactly what was downloaded, so the offline install inside the image
  # resolves to the same set.
  "$HOSTPY" - "$d" > "$d/constraints.txt" <<'EOF'
import os, sys
for f in sorted(os.listdir(sys.argv[1])):
    if f.endswith(".whl"):
        name, ver = f.split("-")[:2]
        print(f"{name}=={ver}")
EOF
  chmod 644 "$d"/*
  printf '%s\ndownloaded %s in %s s\n' "$*" "$(du -sh "$d" | cut -f1)" "$((SECONDS - t0))" > "$d/.complete"
  tail -1 "$d/.complete" >&2
}

use_wheelhouse() { ln -sfn "wheels-$1" "$WORK/wheels"; }   # mount_image_fs binds $WORK/wheels

# ---------------------------------------------------------------------------
# Layers: one bundle per image, repacked with --refresh-bundle after every step
# (one unpack instead of one per layer).
# ---------------------------------------------------------------------------
B= R=
bench_open() {   # FROMTAG NEWTAG
  B="$WORK/bundle-$2"; R="$B/rootfs"
  safe_rm "$B"
  umoci tag --image "$OCI:$1" "$2"
  umoci unpack --image "$OCI:$2" "$B" >/dev/null
}
bench_commit() { # TAG CREATED_BY
  log "$1: layer: $2"
  umoci repack --refresh-bundle --image "$OCI:$1" --mask-path /dev --mask-path /proc \
    --history.created "$CREATED" --history.created_by "$2" "$B"
}
bench_run() {    # TAG WHEELHOUSE CREATED_BY SCRIPT: run SCRIPT in the image (chroot)
  local t0=$SECONDS
  use_wheelhouse "$2"
  mount_image_fs "$R"
  in_image "$4"
  umount_image_fs "$R"
  log "$1: ran in $((SECONDS - t0)) s"
  bench_commit "$1" "$3"
}
app_layer() {    # TAG: a small COPY layer
  mkdir -p "$R/app"
  printf 'import sys\nprint("hello from", sys.version)\n' > "$R/app/main.py"
  touch -d "@$SOURCE_DATE_EPOCH" "$R/app/main.py" "$R/app"
  bench_commit "$1" "COPY main.py /app/main.py"
}

VENV_RUN() {     # PKG...: the RUN line that makes the venv and installs PKGs
  echo "python3 -m venv --without-pip /opt/venv && /opt/venv/bin/python $PIP_WHEEL/pip install pip==$PIP_VERSION && /opt/venv/bin/pip install $*"
}

build_big() {
  fetch_wheelhouse big $BIG_PKGS
  local t=big-wip
  bench_open base $t
  local run; run=$(VENV_RUN $BIG_PKGS)
  bench_run $t big "$RUN_PREFIX $run" "$run"
  find "$R/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
  bench_commit $t "RUN $PYC_CLEAN"
  rm -rf "$R$SITE/torch/include" "$R$SITE/torch/share/cmake"
  bench_commit $t "RUN rm -rf $SITE/torch/include $SITE/torch/share/cmake"
  app_layer $t
  venv_config $t /opt/venv /opt/venv/bin/python /app/main.py
  safe_rm "$B"
  finish_tag $t big
}

build_small() {
  fetch_wheelhouse small $SMALL_PKGS
  local t=small-wip
  bench_open base $t
  local run; run=$(VENV_RUN $SMALL_PKGS)
  bench_run $t small "$RUN_PREFIX $run" "$run"
  find "$R/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
  bench_commit $t "RUN $PYC_CLEAN"
  app_layer $t
  venv_config $t /opt/venv /opt/venv/bin/python /app/main.py
  safe_rm "$B"
  finish_tag $t small
}

# An image is built under TAG-wip and renamed when complete, so that an interrupted
# build is redone rather than reused.
finish_tag() { umoci tag --image "$OCI:$1" "$2"; umoci rm --image "$OCI:$1"; }

# (no `grep -q`: it exits at the first match, umoci gets SIGPIPE, and with
# pipefail the tag would look absent and the image would be rebuilt)
has_tag() { [ -d "$OCI" ] && umoci ls --layout "$OCI" 2>/dev/null | grep -x -- "$1" >/dev/null; }

# same_layers TAG: does OUT/TAG.tar hold exactly the layers of OCI:TAG?
same_layers() {
  "$HOSTPY" - "$OCI" "$1" "$OUT/$1.tar" <<'EOF'
import json, os, sys, tarfile
lay, tag, tar = sys.argv[1:]
blob = lambda d: os.path.join(lay, "blobs", *d.split(":"))
idx = json.load(open(os.path.join(lay, "index.json")))
m = next(m for m in idx["manifests"]
         if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
cfg = json.load(open(blob(json.load(open(blob(m["digest"])))["config"]["digest"])))
with tarfile.open(tar) as tf:
    man = json.load(tf.extractfile("manifest.json"))[0]
    dcfg = json.load(tf.extractfile(man["Config"]))
sys.exit(0 if cfg["rootfs"]["diff_ids"] == dcfg["rootfs"]["diff_ids"] else 1)
EOF
}

to_docker_archive() {  # TAG
  local tar="$OUT/$1.tar"
  if [ -f "$tar" ] && same_layers "$1"; then return; fi
  log "skopeo copy oci:$OCI:$1 -> docker-archive:$tar (uncompressed layers)"
  rm -f "$tar.tmp"
  skopeo copy -q "oci:$OCI:$1" "docker-archive:$tar.tmp:$1:latest"
  mv "$tar.tmp" "$tar"
}

describe() {
  {
    echo "# bench/build-image.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "umoci: $(umoci --version)"; echo "skopeo: $(skopeo --version)"
    local t
    for t in big small; do
      echo; echo "## $t  ($(du -h --apparent-size "$OUT/$t.tar" | cut -f1)  $(stat -c %s "$OUT/$t.tar") bytes as docker-archive)"
      echo "wheels:"; sed 's/^/  /' "$WORK/wheels-$t/constraints.txt"
      echo "layers (docker-archive member, uncompressed bytes, created_by):"
      "$HOSTPY" - "$OUT/$t.tar" <<'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as tf:
    man = json.load(tf.extractfile("manifest.json"))[0]
    cfg = json.load(tf.extractfile(man["Config"]))
    sizes = {m.name: m.size for m in tf.getmembers()}
hist = [h for h in cfg.get("history", []) if not h.get("empty_layer")]
for i, l in enumerate(man["Layers"]):
    by = hist[i].get("created_by", "") if i < len(hist) else ""
    print(f"  {i+1}. {l}  {sizes[l]:>12,}  {by[:110]}")
EOF
    done
  } > "$OUT/images.txt"
  cat "$OUT/images.txt" >&2
}

main_bench() {
  mkdir -p "$WORK"
  if ! has_tag base; then
    fetch_debs
    build_base                         # rm -rf "$OCI", then the 2 Debian layers (tag base)
  fi
  has_tag big   || build_big
  has_tag small || build_small
  umoci gc --layout "$OCI"
  to_docker_archive big
  to_docker_archive small
  describe
  log "done: $OUT"
}

main_bench
