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
  zmq-libs-deleted abi-mismatch arm64-x86-ext)

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
}

# Runtime truth, in the image (chroot) for the amd64 tags.
TRUTH_NATIVE_PY=$(cat <<'EOF'
import json, os, subprocess, sys
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
                entry["ld_so_list"] = {"exit": rc, "output": [l.strip() for l in (outp + err).splitlines()]}
            elf[rel] = entry
with open(out, "w") as fh:
    json.dump({"tag": tag, "imports": imports, "elf": elf}, fh, indent=2, sort_keys=True)
    fh.write("\n")
EOF
)

record_native_truth() {
  local t
  safe_rm "$TRUTH"; mkdir -p "$TRUTH"
  for t in base "${NATIVE_TAGS[@]}"; do
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
