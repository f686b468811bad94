#!/usr/bin/env bash
# Build the COMMITTED native-layer fixtures of imgaudit (issue 12) from real
# Debian packages and PyPI wheels:
#
#   testdata/images/native/     one OCI layout, one manifest per tag; its base
#                               layers are those of testdata/images/oci:base
#                               (copied blob for blob: git stores them once)
#   testdata/truth/native/TAG.json   runtime truth: `python -c 'import X'` run in
#                               the image (chroot), `readelf -d` of the extension,
#                               the loader's own `ld.so --list` of it
#
# The helpers (open/step/commit/config/in_image/extract_debs/merge_usr, the build
# clock, the chroot environment) are those of testdata/build-fixtures.sh, sourced
# without its `main` (as bench/build-image.sh does).
#
# Needs: root, network to the Debian archive and PyPI, umoci, skopeo, dpkg-deb,
# apt-get, chroot, readelf, jq, /usr/bin/python3, a python3 with pip on PATH.
# Usage: sudo testdata/build-native-fixtures.sh      (about a minute)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES="$REPO/testdata/build-fixtures.sh"
[ "$(tail -1 "$FIXTURES")" = 'main "$@"' ] ||
  { echo "build-native-fixtures: $FIXTURES no longer ends with 'main \"\$@\"'" >&2; exit 1; }
export IMGAUDIT_FIXTURE_WORK=${IMGAUDIT_NATIVE_WORK:-/var/tmp/imgaudit-native-build}
# shellcheck disable=SC1090
source <(sed '/^main "\$@"$/d' "$FIXTURES")
for f in log die safe_rm in_image open step config extract_debs merge_usr tick commit; do
  declare -F "$f" >/dev/null || die "$FIXTURES no longer defines $f"
done
HERE="$REPO/testdata"
OCI_FINAL="$HERE/images/native"
TRUTH_FINAL="$HERE/truth/native"
OCI="$OCI_FINAL.new"
TRUTH="$TRUTH_FINAL.new"
WORK="$IMGAUDIT_FIXTURE_WORK"
BASE_OCI="$HERE/images/oci"

# Debian bookworm: the C++ runtime (pyodbc and pyzmq's bundled libzmq link it)
# and unixODBC's driver manager, which pyodbc's wheel does not bundle.
DEB_NATIVE=(
  libstdc++6=12.2.0-14+deb12u1
  libgcc-s1=12.2.0-14+deb12u1
  libodbc2=2.3.11-2+deb12u1
  libltdl7=2.4.7-7~deb12u1
)
# PyPI: pyodbc needs `libodbc.so.2` from the system; pyzmq is a manylinux wheel
# whose extension reaches its bundled `pyzmq.libs/` through RUNPATH
# `$ORIGIN/../../../pyzmq.libs`; cffi for CPython 3.12 is the extension built for
# another Python.
PYODBC=pyodbc==5.2.0
PYZMQ=pyzmq==26.2.0
CFFI=cffi==1.17.1
VENV=/opt/venv
NSITE=$VENV/lib/python3.11/site-packages
MKVENV="python3 -m venv --without-pip $VENV"
PIPW="$VENV/bin/python $PIP_WHEEL/pip"

fetch_native_inputs() {
  log "downloading Debian packages and wheels"
  mkdir -p "$WORK/debs" "$WORK/wheels"
  local spec name
  for spec in "${DEB_NATIVE[@]}"; do
    name=${spec%%=*}
    ls "$WORK/debs/${name}_"*.deb >/dev/null 2>&1 && continue
    ( cd "$WORK/debs" && { apt-get download -qq "$spec" 2>/dev/null || apt-get download -qq "$name"; } )
  done
  local dl=(env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT "$PIP_HOST" -m pip download -q
            --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 --implementation cp
            -d "$WORK/wheels")
  "${dl[@]}" --python-version 3.11 --abi cp311 "pip==$PIP_VERSION" "$PYODBC" "$PYZMQ"
  "${dl[@]}" --python-version 3.12 --abi cp312 "$CFFI"
  printf '%s\n' "pip==$PIP_VERSION" "$PYODBC" "$PYZMQ" "$CFFI" > "$WORK/wheels/constraints.txt"
  chmod 644 "$WORK"/debs/*.deb "$WORK"/wheels/*
}

# The base image of the main fixtures, copied blob for blob.
copy_base() {
  log "base: copied from images/oci:base"
  safe_rm "$OCI"
  umoci init --layout "$OCI"
  skopeo copy -q --preserve-digests "oci:$BASE_OCI:base" "oci:$OCI:base"
}

# Debian packages as a layer: extracted into a stage (merged /usr), then copied.
s_native_libs() {
  local st="$WORK/stage-native" x
  safe_rm "$st"; mkdir -p "$st/var/lib"
  cp -a "$R/var/lib/dpkg" "$st/var/lib/"
  extract_debs "$st" "${DEB_NATIVE[@]}"
  merge_usr "$st"
  for x in bin sbin lib lib64; do rmdir "$st/$x" 2>/dev/null || true; done
  cp -a "$st/." "$R/"
  safe_rm "$st"
}
# `apt-get purge libodbc2` (dpkg --force-depends): the files of its .list go.
s_purge_odbc() {
  local f
  while read -r f; do
    [ -f "$R$f" ] || [ -L "$R$f" ] && rm -f "$R$f"
  done < "$R/var/lib/dpkg/info/libodbc2:amd64.list"
  rm -f "$R"/var/lib/dpkg/info/libodbc2:amd64.*
}
s_purge_sqlite() { rm -f "$R"/usr/lib/x86_64-linux-gnu/libsqlite3.so.0*; }
s_odbc()     { in_image "$MKVENV && $PIPW install --no-deps $PYODBC"; pyc_clean; }
s_zmq()      { in_image "$MKVENV && $PIPW install --no-deps $PYZMQ"; pyc_clean; }
s_zmq_slim() { find "$R$VENV" -name '*.libs' -prune -exec rm -rf {} +; }
s_abi()      {
  in_image "$MKVENV && $PIPW install --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_17_x86_64 --target $NSITE $CFFI"
  pyc_clean
}
pyc_clean() { find "$R$VENV" -name __pycache__ -prune -exec rm -rf {} +; }

NATIVE_TAGS=(native-libs odbc-healthy odbc-purged sqlite-purged zmq-healthy
  zmq-libs-deleted abi-mismatch arm64-x86-ext trixie-bookworm-venv)

# Debian trixie's Python 3.13, the least that runs it (dpkg-deb -x, as the
# bookworm base is made): the base a bookworm venv is copied onto.
DEB_TRIXIE=(libc6 libgcc-s1 zlib1g libexpat1 libpython3.13-minimal python3.13-minimal
  python3-minimal)
TRIXIE_APT=$WORK/apt-trixie
trixie_apt() {
  apt-get -o Dir::Etc::SourceList="$TRIXIE_APT/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$TRIXIE_APT/lists" -o Dir::Cache="$TRIXIE_APT/cache" \
    -o Dir::State::Status=/dev/null "$@"
}
fetch_trixie() {
  log "downloading Debian trixie's python3.13"
  mkdir -p "$TRIXIE_APT/lists/partial" "$TRIXIE_APT/cache/archives/partial" "$WORK/trixie/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$TRIXIE_APT/sources.list"
  [ -n "$(ls "$TRIXIE_APT/lists" 2>/dev/null | grep -v partial)" ] || trixie_apt update -qq
  local name
  for name in "${DEB_TRIXIE[@]}"; do
    ls "$WORK/trixie/debs/${name}_"*.deb >/dev/null 2>&1 && continue
    ( cd "$WORK/trixie/debs" && trixie_apt download -qq "$name" )
  done
  chmod 644 "$WORK"/trixie/debs/*.deb
}
# trixie-base: one layer; then the `healthy` fixture's venv layer (Python
# 3.11, bookworm) on top, blob for blob: `COPY --from=bookworm /opt/venv`.
build_trixie() {
  local st="$WORK/stage-trixie" x
  safe_rm "$st"; mkdir -p "$st"
  ( WORK="$WORK/trixie"; extract_debs "$st" "${DEB_TRIXIE[@]}" )
  merge_usr "$st"
  for x in bin sbin lib lib64; do ln -s "usr/$x" "$st/$x"; done
  install -d -m 1777 "$st/tmp"; install -d -m 0755 "$st"/{dev,proc,etc,opt}
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$st/etc/passwd"
  find "$st" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  umoci new --image "$OCI:trixie-base"
  tick
  open trixie-base
  cp -a "$st/." "$R/"
  commit trixie-base "ADD debian-trixie-python3.13-rootfs.tar / # libc6 python3.13-minimal, dpkg-deb -x"
  safe_rm "$st"
  "$HOSTPY" - "$BASE_OCI" "$OCI" <<'PY'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1:3]
def blob(root, d): return os.path.join(root, "blobs", *d.split(":"))
def load(root, d): return json.load(open(blob(root, d)))
def put(root, obj):
    b = json.dumps(obj, separators=(",", ":")).encode()
    d = "sha256:" + hashlib.sha256(b).hexdigest()
    open(blob(root, d), "wb").write(b)
    return d, len(b)
def manifest(root, tag):
    idx = json.load(open(os.path.join(root, "index.json")))
    return idx, next(m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
_, h = manifest(src, "healthy"); hm = load(src, h["digest"]); hc = load(src, hm["config"]["digest"])
idx, t = manifest(dst, "trixie-base"); tm = load(dst, t["digest"]); tc = load(dst, tm["config"]["digest"])
venv = hm["layers"][2]
shutil.copyfile(blob(src, venv["digest"]), blob(dst, venv["digest"]))
tc["rootfs"]["diff_ids"].append(hc["rootfs"]["diff_ids"][2])
layered = [x for x in hc["history"] if not x.get("empty_layer")]
step = dict(layered[2]); step["created_by"] = "COPY --from=bookworm-builder /opt/venv /opt/venv"
tc["history"].append(step)
tc["config"]["Env"] = hc["config"]["Env"]; tc["config"]["Cmd"] = hc["config"]["Cmd"]
tm["layers"].append(venv)
tm["config"]["digest"], tm["config"]["size"] = put(dst, tc)
d, n = put(dst, tm)
idx["manifests"].append({"mediaType": t["mediaType"], "digest": d, "size": n,
    "annotations": {"org.opencontainers.image.ref.name": "trixie-bookworm-venv"}})
json.dump(idx, open(os.path.join(dst, "index.json"), "w"))
PY
}

build_native() {
  local R_=$RUN_PREFIX
  step base native-libs "RUN apt-get install -y --no-install-recommends libstdc++6 libgcc-s1 libodbc2" s_native_libs
  step native-libs odbc-healthy "$R_ $MKVENV && $PIPW install $PYODBC" s_odbc
  venv_config odbc-healthy "$VENV" python -c "import pyodbc"
  step odbc-healthy odbc-purged "RUN apt-get purge -y libodbc2" s_purge_odbc
  step base sqlite-purged "RUN dpkg --purge --force-depends libsqlite3-0" s_purge_sqlite
  step native-libs zmq-healthy "$R_ $MKVENV && $PIPW install $PYZMQ" s_zmq
  venv_config zmq-healthy "$VENV" python -c "import zmq"
  step zmq-healthy zmq-libs-deleted "RUN find $VENV -name '*.libs' -prune -exec rm -rf {} +" s_zmq_slim
  step native-libs abi-mismatch "$R_ $MKVENV && $PIPW install --python-version 3.12 --only-binary=:all: --target $NSITE $CFFI" s_abi
  # The wrong-platform build: the amd64 image's filesystem under an arm64
  # config (what `COPY --from` of an amd64 builder into an arm64 image ships).
  umoci tag --image "$OCI:zmq-healthy" arm64-x86-ext
  config arm64-x86-ext "# platform linux/arm64" --architecture arm64
  build_trixie
}

# Runtime truth, in the image (chroot) for the amd64 tags.
TRUTH_NATIVE_PY=$(cat <<'EOF'
import json, os, re, subprocess, sys
root, tag, out = sys.argv[1:4]
checks = {
    "base": [("/usr/bin/python3", "_sqlite3"), ("/usr/bin/python3", "_ctypes")],
    "native-libs": [("/usr/bin/python3", "_sqlite3")],
    "odbc-healthy": [("/opt/venv/bin/python", "pyodbc")],
    "odbc-purged": [("/opt/venv/bin/python", "pyodbc")],
    "sqlite-purged": [("/usr/bin/python3", "sqlite3"), ("/usr/bin/python3", "_ctypes")],
    "zmq-healthy": [("/opt/venv/bin/python", "zmq")],
    "zmq-libs-deleted": [("/opt/venv/bin/python", "zmq")],
    "abi-mismatch": [("/opt/venv/bin/python", "_cffi_backend")],
    "arm64-x86-ext": [],
    "trixie-base": [("/usr/bin/python3", "json")],
    "trixie-bookworm-venv": [("/opt/venv/bin/python", "flake8"), ("/opt/venv/bin/python", "requests")],
}[tag]
env = {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
       "PYTHONDONTWRITEBYTECODE": "1"}
def run(argv):
    p = subprocess.run(["/usr/sbin/chroot", root] + argv, env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr
imports = []
for py, mod in checks:
    rc, _, err = run([py, "-c", f"import {mod}"])
    last = err.strip().splitlines()[-1] if err.strip() else ""
    imports.append({"python": py, "module": mod, "exit": rc, "error": last})
# Every extension module of the image's site dirs and lib-dynload that links
# something outside the C library: readelf -d and the loader's --list.
elf = {}
for d in ["opt/venv/lib/python3.11/site-packages", "usr/lib/python3.11/lib-dynload"]:
    for dp, _, files in os.walk(os.path.join(root, d)):
        for f in sorted(files):
            if not f.endswith(".so"):
                continue
            p = os.path.join(dp, f)
            rel = "/" + os.path.relpath(p, root)
            if d.startswith("usr") and tag not in ("base", "sqlite-purged"):
                continue
            if d.startswith("usr") and f.split(".")[0] not in ("_sqlite3", "_ctypes"):
                continue
            dyn = subprocess.run(["readelf", "-d", p], capture_output=True, text=True).stdout
            keep = [l.strip() for l in dyn.splitlines() if "(NEEDED)" in l or "PATH)" in l]
            hdr = subprocess.run(["readelf", "-h", p], capture_output=True, text=True).stdout
            machine = next((l.split(":", 1)[1].strip() for l in hdr.splitlines() if "Machine:" in l), "")
            entry = {"readelf_d": keep, "machine": machine}
            if tag != "arm64-x86-ext":
                rc, outp, err = run(["/lib64/ld-linux-x86-64.so.2", "--list", rel])
                # Load addresses change with every run (ASLR): not recorded.
                lines = [re.sub(r" \(0x[0-9a-f]+\)$", "", l.strip()) for l in (outp + err).splitlines()]
                entry["ld_so_list"] = {"exit": rc, "output": lines}
            elf[rel] = entry
with open(out, "w") as fh:
    json.dump({"tag": tag, "imports": imports, "elf": elf}, fh, indent=2, sort_keys=True)
    fh.write("\n")
EOF
)

record_native_truth() {
  local t
  safe_rm "$TRUTH"; mkdir -p "$TRUTH"
  for t in base "${NATIVE_TAGS[@]}" trixie-base; do
    log "truth: $t"
    open "$t"
    mkdir -p "$R/dev" "$R/proc"
    mount --bind /dev "$R/dev"; MOUNTS+=("$R/dev")
    mount -t proc proc "$R/proc"; MOUNTS+=("$R/proc")
    "$HOSTPY" -c "$TRUTH_NATIVE_PY" "$R" "$t" "$TRUTH/$t.json"
    cleanup
    safe_rm "$B"
  done
}

native_main() {
  mkdir -p "$WORK"
  fetch_native_inputs
  fetch_trixie
  copy_base
  build_native
  umoci gc --layout "$OCI"
  record_native_truth
  swap_in "$OCI" "$OCI_FINAL"
  swap_in "$TRUTH" "$TRUTH_FINAL"
  log "done"
  du -sh "$OCI_FINAL" "$TRUTH_FINAL"
}

native_main "$@"
