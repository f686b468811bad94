#!/usr/bin/env bash
# Rebuild the COMMITTED image fixtures of imgaudit from real tools:
#
#   testdata/images/oci/        one OCI image layout holding every scenario image,
#                               one manifest per tag (org.opencontainers.image.ref.name),
#                               so the shared Debian base layers are stored once
#   testdata/images/build-info.json   what went in (Debian and PyPI versions, tools)
#   testdata/truth/TAG.json     runtime truth: what really happens when the image runs
#
# Needs: root, network to the Debian archive and PyPI, umoci, skopeo, dpkg-deb,
# apt-get, chroot, timeout, jq, /usr/bin/python3 (Debian), a python3 with pip on PATH.
# No Docker engine: every layer is a umoci diff of a rootfs bundle. Steps that run
# Python (venv, pip) run for real inside the image with chroot; plain file operations
# that a Dockerfile would run with coreutils/findutils (which the tiny base does not
# ship) run on the host against the same rootfs, with the same effect on the tree.
#
# Usage: sudo testdata/build-fixtures.sh          (3-10 minutes, truth included)
#        sudo testdata/build-fixtures.sh truth    (re-record testdata/truth only)
#        sudo RECORD_TRUTH=0 testdata/build-fixtures.sh  (images only, keep testdata/truth)
#        sudo PUBLISH=0 testdata/build-fixtures.sh       (leave images/oci.new, truth.new,
#                                                         build-info.json.new to inspect)
#        sudo testdata/build-fixtures.sh publish  (swap what a PUBLISH=0 run left in)
# The layout and truth are built next to the committed ones (images/oci.new,
# truth.new) and swapped in atomically at the end (renameat2 RENAME_EXCHANGE), so
# tests reading testdata/ meanwhile never see a half-written layout.
# The offline derived formats (docker-archive, oci-archive, ...) are made from the
# result by testdata/derive-fixtures.sh, not committed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Tests read images/oci and truth/ while a rebuild runs: everything is built into
# images/oci.new and truth.new and swapped in atomically at the end (publish).
OCI_FINAL="$HERE/images/oci"
TRUTH_FINAL="$HERE/truth"
OCI="$OCI_FINAL.new"
TRUTH="$TRUTH_FINAL.new"
BUILD_INFO="$HERE/images/build-info.json"
WORK=${IMGAUDIT_FIXTURE_WORK:-/var/tmp/imgaudit-fixture-build}
HOSTPY=/usr/bin/python3                       # host-side helper scripts (stdlib only)
PIP_HOST=${PIP_HOST:-python3}                 # any python3 with pip, to download wheels

# Reproducibility: fixed timestamps for history/config, pinned versions everywhere.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}   # 2025-01-01T00:00:00Z
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
export TZ=UTC LC_ALL=C.UTF-8

# ---------------------------------------------------------------------------
# Pins
# ---------------------------------------------------------------------------
# Debian bookworm packages (apt-get download NAME=VERSION; if the archive has moved
# on to a newer point release the current candidate is used and recorded instead).
# Layer 1 ("debian:bookworm-slim"-like): C library and /bin/sh only.
DEB_L1=(
  libc6=2.36-9+deb12u14
  dash=0.5.12-2
)
# Layer 2 ("apt-get install python3 ..."): the minimum for a chroot-runnable
# Debian Python 3.11 plus small Debian python packages with packaging quirks:
# python3-chardet (/usr/bin/chardetect, dist-info without INSTALLER, dh-python
# RECORD), python3-wheel (declares the `wheel` entry point, no /usr/bin/wheel),
# python3-pkg-resources (egg-info style metadata, pkg_resources).
DEB_L2=(
  libpython3.11-minimal=3.11.2-6+deb12u9
  python3.11-minimal=3.11.2-6+deb12u9
  libpython3.11-stdlib=3.11.2-6+deb12u9
  python3.11=3.11.2-6+deb12u9
  python3-minimal=3.11.2-1+b1
  libpython3-stdlib=3.11.2-1+b1
  python3=3.11.2-1+b1
  media-types=10.0.0
  zlib1g=1:1.2.13.dfsg-1
  libexpat1=2.5.0-1+deb12u5
  libffi8=3.4.4-1
  libssl3=3.0.22-1~deb12u2
  libbz2-1.0=1.0.8-5+b1
  liblzma5=5.4.1-1+deb12u2
  libsqlite3-0=3.40.1-2+deb12u2
  libuuid1=2.38.1-5+deb12u3
  libcrypt1=1:4.4.33-2
  python3-chardet=5.1.0+dfsg-2
  python3-wheel=0.38.4-2
  python3-pkg-resources=66.1.1-1+deb12u2
)
# Left out on purpose (Python starts without them; only _dbm, readline, _curses,
# nis fail to import): libdb5.3, libgdbm6, libnsl2, libtirpc3, libreadline8,
# libncursesw6, libtinfo6. Also left out: python3-venv / python3-pip-whl /
# python3-setuptools-whl (2.8 MB of wheels): venvs are made with --without-pip and
# pip is bootstrapped from the pinned PyPI pip wheel (as get-pip.py would).

# PyPI pins (every distribution, transitive ones included).
PIP_VERSION=24.0
read -r -d '' CONSTRAINTS <<'EOF' || true
pip==24.0
setuptools==65.5.0
flake8==7.1.1
pyflakes==3.2.0
pycodestyle==2.12.1
mccabe==0.7.0
requests==2.32.3
idna==3.10
urllib3==2.2.3
certifi==2024.8.30
charset-normalizer==3.4.0
EOF
PIP_WHEEL=/tmp/wheels/pip-$PIP_VERSION-py3-none-any.whl   # path inside the image build
# Not in the constraints: dependency-conflict installs it over idna 3.10
# (requests 2.32.3 requires idna>=2.5,<4).
CONFLICT_PIN=idna==2.4

BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VENV_PATH=/opt/venv/bin:$BASE_PATH
SITE=/opt/venv/lib/python3.11/site-packages
# > 127 bytes of shebang: pip writes /bin/sh + '''exec' polyglot launchers.
LONG_VENV=/opt/build-cache/ci-runner-0123456789abcdef0123456789abcdef/workspace/projects/imgaudit-fixture-long-shebang/environments/python3.11-production/venv

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'build-fixtures: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (chroot, mounts, file ownership)"
for c in umoci skopeo apt-get dpkg-deb chroot timeout jq mount "$HOSTPY"; do
  command -v "$c" >/dev/null || die "missing tool: $c (run scripts/setup.sh)"
done

MOUNTS=()           # mount points to undo, most recent last
cleanup() {
  local i
  for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  MOUNTS=()
}
STAGED=()          # oci.new / truth.new of this run: removed if the run fails
on_exit() {
  local rc=$?
  cleanup
  if [ "$rc" != 0 ] && [ ${#STAGED[@]} -gt 0 ]; then
    echo "build-fixtures: failed (exit $rc); removing ${STAGED[*]}" >&2
    safe_rm "${STAGED[@]}"
  fi
}
trap on_exit EXIT

# safe_rm DIR: never recurse into a bind mount (a leftover /dev bind from an
# interrupted run would otherwise lose the host's device nodes).
safe_rm() {
  local d m
  for d in "$@"; do
    [ -e "$d" ] || continue
    d=$(realpath "$d")
    while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
      awk -v p="$d/" 'index($5 "/", p) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$d"
  done
}

# Clean environment for processes run inside the image. PYTHONDONTWRITEBYTECODE
# keeps the Debian stdlib's __pycache__ (not compiled: no postinst ran) out of
# the layers; pip still byte-compiles what it installs.
chroot_env() {
  env -i PATH="${IMG_PATH:-$BASE_PATH}" HOME=/root LANG=C.UTF-8 \
    SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/wheels PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CONSTRAINT=/tmp/wheels/constraints.txt \
    PIP_ROOT_USER_ACTION=ignore "$@"
}

# mount_image_fs ROOTFS: /dev, /proc and the wheelhouse (read-only, /tmp/wheels),
# like `RUN --mount=type=bind,source=wheels,target=/tmp/wheels`.
TMP_MTIME=
mount_image_fs() {
  local r=$1
  mkdir -p "$r/dev" "$r/proc" "$r/tmp"
  TMP_MTIME=$(stat -c %Y "$r/tmp")
  mkdir -p "$r/tmp/wheels"
  mount --bind /dev "$r/dev";            MOUNTS+=("$r/dev")
  mount -t proc proc "$r/proc";          MOUNTS+=("$r/proc")
  mount --bind "$WORK/wheels" "$r/tmp/wheels"; MOUNTS+=("$r/tmp/wheels")
  mount -o remount,bind,ro "$r/tmp/wheels"
}
umount_image_fs() {
  local r=$1
  cleanup
  rmdir "$r/tmp/wheels"
  touch -d "@$TMP_MTIME" "$r/tmp"       # leave /tmp itself out of the diff
}

# in_image SCRIPT: run a /bin/sh script inside the bundle's rootfs ($R).
in_image() { chroot_env chroot "$R" /bin/sh -ec "$1"; }

# open TAG: unpack TAG into a fresh bundle; sets B (bundle) and R (rootfs).
open() {
  B="$WORK/bundle"; R="$B/rootfs"
  safe_rm "$B"
  umoci unpack --image "$OCI:$1" "$B" >/dev/null
}
# Build clock: every layer/config step gets the next minute after SOURCE_DATE_EPOCH,
# for its history entry and for the mtimes of what it changed, so that a rebuild
# from the same inputs gives the same tar bytes.
SEQ=0
tick() {
  SEQ=$((SEQ + 1)); T=$((SOURCE_DATE_EPOCH + SEQ * 60))
  TS=$(date -u -d "@$T" +%Y-%m-%dT%H:%M:%SZ)
}
# commit NEWTAG CREATED_BY: diff the bundle against what was unpacked, add a layer.
commit() {
  umoci repack --image "$OCI:$1" --mask-path /dev --mask-path /proc \
    --history.created "$TS" --history.created_by "$2" "$B"
  safe_rm "$B"
}
# config TAG CREATED_BY umoci-config-args...: an empty_layer history entry
# (ENV/CMD/ENTRYPOINT of a Dockerfile).
config() {
  local tag=$1 by=$2; shift 2
  tick
  umoci config --image "$OCI:$tag" --created "$TS" \
    --history.created "$TS" --history.created_by "$by" "$@"
}
# step FROMTAG NEWTAG CREATED_BY FUNCTION: open, run FUNCTION (sees $R), commit.
step() {
  local from=$1 to=$2 by=$3 fn=$4
  log "$to: $by"
  tick
  open "$from"
  mount_image_fs "$R"
  touch "$WORK/.step-start"; sleep 0.1   # file times tick coarsely: be strictly newer
  "$fn"
  umount_image_fs "$R"
  # Clamp the mtimes of everything this step created or modified to the step's time.
  find "$R" -newer "$WORK/.step-start" -exec touch -h -d "@$T" {} +
  touch -d "@$T" "$R"       # umoci writes ./ in every layer, with the rootfs dir's mtime
  commit "$to" "$by"
}

# ---------------------------------------------------------------------------
# Inputs: Debian packages and PyPI wheels
# ---------------------------------------------------------------------------
fetch_debs() {
  log "downloading Debian packages"
  mkdir -p "$WORK/debs"
  if ! apt-cache show libc6 >/dev/null 2>&1; then apt-get update -qq; fi
  local spec name
  for spec in "${DEB_L1[@]}" "${DEB_L2[@]}"; do
    name=${spec%%=*}
    if ls "$WORK/debs/${name}_"*.deb >/dev/null 2>&1; then continue; fi
    ( cd "$WORK/debs" && { apt-get download -qq "$spec" 2>/dev/null || {
        echo "warning: $spec not in the archive any more, using the candidate" >&2
        apt-get download -qq "$name"; }; } )
  done
  chmod 644 "$WORK"/debs/*.deb
}
deb_of() { ls "$WORK/debs/${1}_"*.deb | head -1; }

fetch_wheels() {
  log "downloading pinned PyPI wheels"
  mkdir -p "$WORK/wheels"
  printf '%s\n' "$CONSTRAINTS" > "$WORK/wheels/constraints.txt"
  # Resolve for the image (CPython 3.11, manylinux x86_64), wheels only.
  env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT "$PIP_HOST" -m pip download -q \
    -d "$WORK/wheels" --only-binary=:all: --platform manylinux_2_17_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 \
    -c "$WORK/wheels/constraints.txt" pip setuptools flake8 requests
  # Outside the constraints (the wheelhouse is only used with them, so it changes
  # nothing else): the idna that dependency-conflict installs over idna 3.10.
  env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT "$PIP_HOST" -m pip download -q \
    -d "$WORK/wheels" --only-binary=:all: --no-deps --platform manylinux_2_17_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 "$CONFLICT_PIN"
  chmod 644 "$WORK"/wheels/*
}

# A tiny local setuptools project (setup.py only, no pyproject.toml), installed the
# legacy way. Its requires.txt gets a plain requirement, an extra and a marker section.
write_legacy_src() {
  local d="$WORK/src/hello-legacy"
  rm -rf "$d"; mkdir -p "$d"
  cat > "$d/setup.py" <<'EOF'
from setuptools import setup

setup(
    name="hello-legacy",
    version="1.0",
    description="imgaudit fixture: a setup.py-only project with a console script",
    py_modules=["hello_legacy"],
    install_requires=["requests>=2", 'importlib-metadata; python_version < "3.8"'],
    extras_require={"color": ["colorama"]},
    entry_points={"console_scripts": ["hello-legacy = hello_legacy:main"]},
)
EOF
  cat > "$d/hello_legacy.py" <<'EOF'
"""imgaudit fixture module."""
import argparse


def main():
    parser = argparse.ArgumentParser(prog="hello-legacy", description="say hello")
    parser.add_argument("name", nargs="?", default="world")
    args = parser.parse_args()
    print(f"hello, {args.name}")
    return 0
EOF
  find "$d" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---------------------------------------------------------------------------
# Base: Debian bookworm + python3, from .debs (dpkg-deb -x, no maintainer scripts)
# ---------------------------------------------------------------------------
# extract_debs DEST SPEC...: unpack the packages and register them in dpkg's
# database (status paragraph, info/PKG.list, info/PKG.md5sums) as dpkg would.
extract_debs() {
  local dest=$1 spec name deb arch ma listname; shift
  mkdir -p "$dest/var/lib/dpkg/info"
  touch "$dest/var/lib/dpkg/status"
  for spec in "$@"; do
    name=${spec%%=*}; deb=$(deb_of "$name")
    dpkg-deb -x "$deb" "$dest"
    arch=$(dpkg-deb -f "$deb" Architecture)
    ma=$(dpkg-deb -f "$deb" Multi-Arch || true)
    listname=$name; [ "$ma" = same ] && listname="$name:$arch"
    dpkg-deb -f "$deb" | awk 'NR==1{print; print "Status: install ok installed"; next} {print}' \
      >> "$dest/var/lib/dpkg/status"
    echo >> "$dest/var/lib/dpkg/status"
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's#^\./#/#' -e 's#/$##' -e 's#^$#/.#' \
      > "$dest/var/lib/dpkg/info/$listname.list"
    rm -rf "$WORK/ctl"; dpkg-deb -e "$deb" "$WORK/ctl"
    [ -f "$WORK/ctl/md5sums" ] && cp "$WORK/ctl/md5sums" "$dest/var/lib/dpkg/info/$listname.md5sums"
  done
  # Docker-slim style: no docs, manuals, translations; no iconv modules (unused).
  rm -rf "$dest"/usr/share/{doc,man,locale,info,lintian} "$dest"/usr/lib/x86_64-linux-gnu/gconv
}

# merge_usr DIR: bookworm's merged /usr: /bin -> usr/bin, /lib -> usr/lib, ...
merge_usr() {
  local d=$1 x
  for x in bin sbin lib lib64; do
    mkdir -p "$d/usr/$x"
    if [ -d "$d/$x" ] && [ ! -L "$d/$x" ]; then
      cp -a "$d/$x/." "$d/usr/$x/"
      rm -rf "${d:?}/$x"
    fi
  done
}

build_base() {
  local s1="$WORK/stage1" s2="$WORK/stage2" x
  log "base layer 1: libc6 + dash + skeleton"
  rm -rf "$s1" "$s2"; mkdir -p "$s1"
  extract_debs "$s1" "${DEB_L1[@]}"
  merge_usr "$s1"
  for x in bin sbin lib lib64; do ln -s "usr/$x" "$s1/$x"; done
  [ -L "$s1/usr/bin/sh" ] || ln -s dash "$s1/usr/bin/sh"   # /bin/sh -> dash (shipped by dash itself)
  install -d -m 0755 "$s1"/{dev,proc,sys,run,home,etc,var/tmp,var/cache,var/log,usr/local/bin,usr/local/lib,usr/local/sbin,usr/local/share,opt,srv,mnt,media}
  install -d -m 0700 "$s1/root"
  install -d -m 1777 "$s1/tmp"
  chmod 1777 "$s1/var/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$s1/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$s1/etc/group"
  echo 12.8 > "$s1/etc/debian_version"
  cat > "$s1/usr/lib/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
EOF
  ln -s ../usr/lib/os-release "$s1/etc/os-release"
  find "$s1" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

  rm -rf "$OCI"; mkdir -p "$(dirname "$OCI")"
  umoci init --layout "$OCI"
  umoci new --image "$OCI:base"
  tick
  open base
  cp -a "$s1/." "$R/"
  commit base "ADD debian-bookworm-slim-rootfs.tar / # libc6 dash, unpacked with dpkg-deb -x, /usr/share/{doc,man,locale,info} removed"

  log "base layer 2: python3 from Debian"
  mkdir -p "$s2"
  cp -a "$s1/var" "$s2/"                             # dpkg database to extend
  extract_debs "$s2" "${DEB_L2[@]}"
  merge_usr "$s2"
  for x in bin sbin lib lib64; do rmdir "$s2/$x" 2>/dev/null || true; done
  find "$s2" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  tick
  open base
  cp -a "$s2/." "$R/"
  commit base "RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-chardet python3-wheel python3-pkg-resources && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man /usr/share/locale /usr/share/info"
  config base "ENV PATH=$BASE_PATH LANG=C.UTF-8" --config.env "PATH=$BASE_PATH" --config.env LANG=C.UTF-8
  config base 'CMD ["python3"]' --config.cmd python3
}

# ---------------------------------------------------------------------------
# Scenario images
# ---------------------------------------------------------------------------
# The RUN line of a venv with pip, flake8 (console scripts flake8, pyflakes,
# pycodestyle; plugin discovery through importlib.metadata) and requests
# (dependencies idna, urllib3, certifi, charset-normalizer with console script
# `normalizer`). alembic+SQLAlchemy (SQLAlchemy alone is a 4.7 MB wheel, ~25 MB
# installed) does not fit the 25 MB budget; flake8 plays alembic's part.
VENV_CMD="python3 -m venv --without-pip /opt/venv && /opt/venv/bin/python $PIP_WHEEL/pip install pip==$PIP_VERSION && /opt/venv/bin/pip install flake8==7.1.1 requests==2.32.3"
PYC_CLEAN="find /opt/venv -name __pycache__ -prune -exec rm -rf {} +"
RUN_PREFIX="RUN --mount=type=bind,source=wheels,target=/tmp/wheels"

venv_config() {   # TAG VENV ENTRY...
  local tag=$1 venv=$2; shift 2
  local json; json=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
  local args=() a
  for a in "$@"; do args+=(--config.cmd "$a"); done
  config "$tag" "ENV PATH=$venv/bin:$BASE_PATH VIRTUAL_ENV=$venv" \
    --config.env "PATH=$venv/bin:$BASE_PATH" --config.env "VIRTUAL_ENV=$venv"
  config "$tag" "CMD $json" --clear config.cmd "${args[@]}"
}

s_healthy() {
  in_image "$VENV_CMD"
  find "$R/opt/venv" -name __pycache__ -prune -exec rm -rf {} +    # slim: drop *.pyc
}
s_same_run() {
  in_image "$VENV_CMD"
  find "$R/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
  find "$R/opt/venv" -name '*.dist-info' -prune -exec rm -rf {} +
}
s_later_run()   { find "$R/opt/venv" -name '*.dist-info' -prune -exec rm -rf {} +; }
s_launcher()    { rm "$R/opt/venv/bin/flake8"; }
s_package()     { rm -rf "$R$SITE/flake8"; }
s_edited()      { echo 'import logging  # patched in place' >> "$R$SITE/requests/__init__.py"; }
s_uninstall()   { IMG_PATH=$VENV_PATH in_image "/opt/venv/bin/pip uninstall -y idna"; }
s_legacy_copy() {
  mkdir -p "$R/src"
  cp -a "$WORK/src/hello-legacy" "$R/src/"
}
s_legacy_install() {
  # setuptools 65: `setup.py install --root=/` is a single-version-externally-managed
  # install: a *.egg-info dir in site-packages and an EASY-INSTALL-ENTRY-SCRIPT launcher.
  IMG_PATH=$VENV_PATH in_image "/opt/venv/bin/pip install setuptools==65.5.0 && cd /src/hello-legacy && /opt/venv/bin/python setup.py -q install --root=/"
  find "$R/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
}
s_legacy_break() { rm -rf "$R$SITE"/hello_legacy-*.egg-info; }
s_venv_moved() {
  # Builder stage: a fresh base rootfs, venv at /build/venv (pip run from its wheel,
  # so the venv carries no pip). Only /build/venv is copied into the final image.
  local outer_b=$B outer_r=$R
  umount_image_fs "$R"
  B="$WORK/builder"; R="$B/rootfs"; safe_rm "$B"
  umoci unpack --image "$OCI:base" "$B" >/dev/null
  mount_image_fs "$R"
  in_image "python3 -m venv --without-pip /build/venv && /build/venv/bin/python $PIP_WHEEL/pip install flake8==7.1.1 requests==2.32.3"
  umount_image_fs "$R"
  find "$R/build/venv" -name __pycache__ -prune -exec rm -rf {} +
  mkdir -p "$outer_r/opt"
  cp -a "$R/build/venv" "$outer_r/opt/venv"
  safe_rm "$B"
  B=$outer_b; R=$outer_r
  mount_image_fs "$R"
}
s_purge() {
  # What `dpkg --purge --force-depends python3.11-minimal python3-minimal` does:
  # remove every non-directory path the packages own, their info files and status.
  local p f
  for p in python3.11-minimal python3-minimal; do
    while IFS= read -r f; do
      if [ -L "$R$f" ] || { [ -e "$R$f" ] && [ ! -d "$R$f" ]; }; then rm -f "$R$f"; fi
    done < <(sed -e 's#^/bin/#/usr/bin/#' -e 's#^/lib/#/usr/lib/#' "$R/var/lib/dpkg/info/$p.list")
    rm -f "$R/var/lib/dpkg/info/$p".*
  done
  "$HOSTPY" - "$R/var/lib/dpkg/status" python3.11-minimal python3-minimal <<'EOF'
import sys
path, drop = sys.argv[1], set(sys.argv[2:])
paras = open(path).read().split("\n\n")
keep = [p for p in paras if p.strip() and p.split("\n", 1)[0].split(": ", 1)[1] not in drop]
open(path, "w").write("\n\n".join(keep) + "\n\n")
EOF
}
s_long() {
  in_image "python3 -m venv --without-pip $LONG_VENV && $LONG_VENV/bin/python $PIP_WHEEL/pip install flake8==7.1.1"
}
s_usrlocal_python() {
  # An official-python-image-like /usr/local CPython, made from Debian's 3.11:
  # the interpreter binary is copied (a symlink would resolve back to prefix /usr),
  # the stdlib dir is per-entry symlinks into /usr/lib/python3.11, and three Debian
  # specifics are undone so that the layout behaves like upstream CPython:
  #  - sysconfig.py: default install scheme posix_prefix (Debian: posix_local),
  #  - no EXTERNALLY-MANAGED marker (PEP 668), as in the official images,
  #  - dist-packages -> site-packages (Debian's frozen site.py only adds
  #    <prefix>/lib/python3.11/dist-packages to sys.path).
  local L="$R/usr/local" e
  cp -a "$R/usr/bin/python3.11" "$L/bin/python3.11"
  ln -s python3.11 "$L/bin/python3"; ln -s python3 "$L/bin/python"
  mkdir -p "$L/lib/python3.11/site-packages"
  for e in "$R"/usr/lib/python3.11/*; do
    e=$(basename "$e")
    case $e in sysconfig.py|site-packages|dist-packages|EXTERNALLY-MANAGED) continue ;; esac
    ln -s "/usr/lib/python3.11/$e" "$L/lib/python3.11/$e"
  done
  sed -e "s/prefix_scheme = 'posix_local'/prefix_scheme = 'posix_prefix'/" \
    "$R/usr/lib/python3.11/sysconfig.py" > "$L/lib/python3.11/sysconfig.py"
  grep -q "prefix_scheme = 'posix_prefix'$" "$L/lib/python3.11/sysconfig.py"
  ln -s site-packages "$L/lib/python3.11/dist-packages"
}
s_usrlocal_pip() {
  in_image "python3 $PIP_WHEEL/pip install flake8==7.1.1"
}
# Metadata damage, one small layer each on top of healthy.
s_noexec()      { chmod -x "$R/opt/venv/bin/pyflakes"; }
s_meta_missing() {
  # METADATA of pycodestyle (every dist-info needs it) and RECORD of mccabe (needed
  # because INSTALLER says pip installed it: pip uninstall / show -f use it).
  rm "$R$SITE"/pycodestyle-*.dist-info/METADATA "$R$SITE"/mccabe-*.dist-info/RECORD
}
s_meta_malformed() {
  # mccabe's METADATA loses its Version header; pyflakes' entry_points.txt gets a
  # line that is neither a [section] nor name = value.
  sed -i '/^Version:/d' "$R$SITE"/mccabe-*.dist-info/METADATA
  echo 'not an entry point' >> "$R$SITE"/pyflakes-*.dist-info/entry_points.txt
}
s_conflict() {
  # Outside the constraints file, as a Dockerfile's `pip install` would be. pip
  # uninstalls idna 3.10, installs 2.4 and only warns about requests' requirement.
  IMG_PATH=$VENV_PATH in_image "unset PIP_CONSTRAINT; /opt/venv/bin/pip install --no-deps '$CONFLICT_PIN'"
}

build_scenarios() {
  # healthy: the reference image every derived scenario starts from.
  step base healthy "$RUN_PREFIX $VENV_CMD && $PYC_CLEAN" s_healthy
  venv_config healthy /opt/venv /opt/venv/bin/flake8 --help

  step base incident-same-run "$RUN_PREFIX $VENV_CMD && $PYC_CLEAN && find /opt/venv -name '*.dist-info' -exec rm -rf {} +" s_same_run
  venv_config incident-same-run /opt/venv /opt/venv/bin/flake8 --help

  step healthy incident-later-run "RUN find /opt/venv -name '*.dist-info' -exec rm -rf {} +" s_later_run
  step healthy launcher-deleted "RUN rm /opt/venv/bin/flake8" s_launcher
  step healthy package-deleted "RUN rm -rf $SITE/flake8" s_package
  step healthy file-edited "RUN echo 'import logging  # patched in place' >> $SITE/requests/__init__.py" s_edited
  step healthy dependency-uninstalled "RUN /opt/venv/bin/pip uninstall -y idna" s_uninstall

  write_legacy_src
  step healthy legacy-setuptools-healthy "COPY hello-legacy /src/hello-legacy" s_legacy_copy
  step legacy-setuptools-healthy legacy-setuptools-healthy "RUN /opt/venv/bin/pip install setuptools==65.5.0 && cd /src/hello-legacy && /opt/venv/bin/python setup.py -q install --root=/ && $PYC_CLEAN" s_legacy_install
  config legacy-setuptools-healthy 'CMD ["/opt/venv/bin/hello-legacy"]' --clear config.cmd --config.cmd /opt/venv/bin/hello-legacy
  step legacy-setuptools-healthy legacy-setuptools "RUN rm -rf $SITE/hello_legacy-*.egg-info" s_legacy_break

  step base venv-moved "COPY --from=builder /build/venv /opt/venv" s_venv_moved
  venv_config venv-moved /opt/venv /opt/venv/bin/flake8 --help

  step healthy interpreter-purged "RUN dpkg --purge --force-depends python3.11-minimal python3-minimal" s_purge

  step base long-shebang "$RUN_PREFIX python3 -m venv --without-pip $LONG_VENV && $LONG_VENV/bin/python $PIP_WHEEL/pip install flake8==7.1.1" s_long
  venv_config long-shebang "$LONG_VENV" "$LONG_VENV/bin/flake8" --help

  step base usr-local "RUN cp /usr/bin/python3.11 /usr/local/bin/ && ln -s python3.11 /usr/local/bin/python3 && ln -s python3 /usr/local/bin/python && mkdir -p /usr/local/lib/python3.11/site-packages && ln -s site-packages /usr/local/lib/python3.11/dist-packages && ln -s /usr/lib/python3.11/* /usr/local/lib/python3.11/ # CPython-like /usr/local from Debian's python3.11; sysconfig.py copied with scheme posix_prefix, no EXTERNALLY-MANAGED" s_usrlocal_python
  step usr-local usr-local "$RUN_PREFIX python3 $PIP_WHEEL/pip install flake8==7.1.1" s_usrlocal_pip
  config usr-local 'CMD ["flake8", "--help"]' --clear config.cmd --config.cmd flake8 --config.cmd --help

  # Added later: appended so that the build clock (hence every blob above) is unchanged.
  # (Not built: a debian-pip-launchers scenario, Debian's python3-pip 23.0.1 alone
  # on top of healthy: its layer is 1.51 MB gzip, over the 1.5 MB allowed for it.)
  step healthy shim-not-executable "RUN chmod -x /opt/venv/bin/pyflakes" s_noexec
  step healthy metadata-file-missing "RUN rm $SITE/pycodestyle-*.dist-info/METADATA $SITE/mccabe-*.dist-info/RECORD" s_meta_missing
  step healthy metadata-malformed "RUN sed -i '/^Version:/d' $SITE/mccabe-*.dist-info/METADATA && echo 'not an entry point' >> $SITE/pyflakes-*.dist-info/entry_points.txt" s_meta_malformed
  step healthy dependency-conflict "RUN /opt/venv/bin/pip install --no-deps '$CONFLICT_PIN'" s_conflict
}

# ---------------------------------------------------------------------------
# Recompress every layer with gzip -9 (deterministic: no name, mtime 0). The
# uncompressed tars, hence the configs' diff_ids, are umoci's, unchanged; only
# the layer blobs, manifests and index.json are rewritten. Saves ~7% of the
# committed size (the 25 MB budget), and makes blob digests reproducible.
# ---------------------------------------------------------------------------
recompress_layers() {
  log "recompressing layers with gzip -9"
  "$HOSTPY" - "$OCI" <<'EOF'
import gzip, hashlib, json, os, sys, zlib

oci = sys.argv[1]
def path(digest):
    return os.path.join(oci, "blobs", *digest.split(":"))
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    if not os.path.exists(path(d)):
        with open(path(d), "wb") as f:
            f.write(data)
    return d

def gzip9(raw):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)        # gzip wrapper, mtime 0, no name
    return c.compress(raw) + c.flush()

index = json.load(open(os.path.join(oci, "index.json")))
done, old = {}, set()
for desc in index["manifests"]:
    if desc.get("mediaType") != "application/vnd.oci.image.manifest.v1+json":
        continue                                      # (an image index: not ours)
    man = json.load(open(path(desc["digest"])))
    for layer in man["layers"]:
        d = layer["digest"]
        if d not in done:
            new = gzip9(gzip.decompress(open(path(d), "rb").read()))
            done[d] = (put(new), len(new))
        if done[d][0] != d:
            old.add(d)
        layer["digest"], layer["size"] = done[d]
    data = json.dumps(man, separators=(",", ":")).encode()
    nd = put(data)
    if nd != desc["digest"]:
        old.add(desc["digest"])
    desc["digest"], desc["size"] = nd, len(data)
with open(os.path.join(oci, "index.json"), "w") as f:
    f.write(json.dumps(index, separators=(",", ":")))
live = {d for d, _ in done.values()} | {m["digest"] for m in index["manifests"]}
live |= {json.load(open(path(m["digest"])))["config"]["digest"] for m in index["manifests"]
         if m.get("mediaType") == "application/vnd.oci.image.manifest.v1+json"}
for d in old - live:
    os.remove(path(d))
EOF
}

# ---------------------------------------------------------------------------
# multiarch: tag -> image index -> linux/amd64 + linux/arm64 manifests (by hand:
# umoci does not write indexes). Each platform is one tiny layer with /etc/arch.
# ---------------------------------------------------------------------------
build_multiarch() {
  log "multiarch: nested image index"
  "$HOSTPY" - "$OCI" "$SOURCE_DATE_EPOCH" "$CREATED" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile

oci, epoch, created = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def put(data: bytes) -> dict:
    d = hashlib.sha256(data).hexdigest()
    path = os.path.join(oci, "blobs", "sha256", d)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}

def canon(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()

def layer(arch: str):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in ("etc/",):
            ti = tarfile.TarInfo(name.rstrip("/")); ti.type = tarfile.DIRTYPE
            ti.mode = 0o755; ti.mtime = epoch; t.addfile(ti)
        body = (arch + "\n").encode()
        ti = tarfile.TarInfo("etc/arch"); ti.size = len(body); ti.mode = 0o644; ti.mtime = epoch
        t.addfile(ti, io.BytesIO(body))
    tar = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(tar)
    return tar, gz.getvalue()

entries = []
for arch, variant in (("amd64", None), ("arm64", "v8")):
    tar, gz = layer(arch)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    cfg = {
        "created": created, "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": f"COPY arch-{arch}.txt /etc/arch"}],
    }
    if variant:
        cfg["variant"] = variant
    cd = put(canon(cfg))
    ld = put(gz)
    man = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cd},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **ld}],
    }
    md = put(canon(man))
    plat = {"architecture": arch, "os": "linux"}
    if variant:
        plat["variant"] = variant
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **md, "platform": plat})

index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
idd = put(canon(index))

top_path = os.path.join(oci, "index.json")
top = json.load(open(top_path))
top["manifests"] = [m for m in top["manifests"]
                    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != "multiarch"]
top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", **idd,
                         "annotations": {"org.opencontainers.image.ref.name": "multiarch"}})
with open(top_path, "w") as f:
    f.write(json.dumps(top, separators=(",", ":")))
EOF
}

# ---------------------------------------------------------------------------
# Runtime truth: unpack each scenario, run pip check and every launcher in chroot.
# ---------------------------------------------------------------------------
TRUTH_PY='
import json, os, re, stat, subprocess, sys

root, tag, oci, out, pip_wheel = sys.argv[1:6]

def image_config(tag):
    idx = json.load(open(os.path.join(oci, "index.json")))
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            man = json.load(open(os.path.join(oci, "blobs", *m["digest"].split(":"))))
            return json.load(open(os.path.join(oci, "blobs", *man["config"]["digest"].split(":"))))
    raise SystemExit(f"tag {tag} not found")

cfg = image_config(tag).get("config", {})
env = dict(e.split("=", 1) for e in cfg.get("Env", []))
env.setdefault("HOME", "/root")

def run(argv, stdin=b""):
    try:
        p = subprocess.run(["chroot", root, *argv], env=env, capture_output=True,
                           input=stdin, timeout=20, cwd=root)
        code, so, se = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        code, so, se = "timeout", e.stdout or b"", e.stderr or b""
    so = so.decode("utf-8", "replace"); se = se.decode("utf-8", "replace")
    return code, so, se

LIST_DISTS = ("import importlib.metadata as m, json; "
              "print(json.dumps(sorted(f\"{d.metadata[\x27Name\x27]}=={d.version}\" "
              "for d in m.distributions())))")

def tail(s, n=3):
    return "\n".join(s.rstrip("\n").splitlines()[-n:])

def head(s):
    lines = s.strip("\n").splitlines()
    return lines[0] if lines else ""

def host(p):  # image path -> host path, without following the last component
    return os.path.join(root, p.lstrip("/"))

def kind(text):
    if "EASY-INSTALL-ENTRY-SCRIPT" in text: return "setuptools-entry-script"
    if text.startswith("#!/bin/sh") and "\x27\x27\x27exec\x27" in text: return "pip-sh-polyglot"
    if re.search(r"^from \S+ import \S+$", text, re.M) and "sys.exit(" in text: return "pip"
    return "script"

def launchers(bindir, python_only_shebang):
    found = []
    d = host(bindir)
    if not os.path.isdir(d): return found
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        st = os.lstat(p)
        if not stat.S_ISREG(st.st_mode): continue
        with open(p, "rb") as f: text = f.read(4096).decode("utf-8", "replace")
        first = text.split("\n", 1)[0]
        if not first.startswith("#!"): continue
        polyglot = first.startswith("#!/bin/sh") and "\x27\x27\x27exec\x27" in text
        if "python" not in first and not polyglot: continue
        # A launcher that lost its execute bits is still run (exit 126 is its truth).
        found.append((bindir.rstrip("/") + "/" + name, kind(text), bool(st.st_mode & 0o111)))
    return found

def find_envs():
    envs = []
    for top in ("opt", "build", "app", "srv", "root", "home"):
        for dp, dns, fns in os.walk(host("/" + top)):
            if "pyvenv.cfg" in fns:
                prefix = "/" + os.path.relpath(dp, root)
                envs.append({"kind": "venv", "prefix": prefix, "python": prefix + "/bin/python",
                             "bin": prefix + "/bin", "site": prefix + "/lib/python3.11/site-packages"})
                dns[:] = []
    if os.path.lexists(host("/usr/local/bin/python3")):
        envs.append({"kind": "usr-local", "prefix": "/usr/local", "python": "/usr/local/bin/python3",
                     "bin": "/usr/local/bin", "site": "/usr/local/lib/python3.11/site-packages"})
    envs.append({"kind": "debian-system", "prefix": "/usr", "python": "/usr/bin/python3",
                 "bin": "/usr/bin", "site": "/usr/lib/python3/dist-packages"})
    return envs

result = {"tag": tag,
          "image": {"Env": cfg.get("Env", []), "Entrypoint": cfg.get("Entrypoint"), "Cmd": cfg.get("Cmd")},
          "envs": [], "launchers": []}
for e in find_envs():
    if os.path.isdir(host(e["site"] + "/pip")):
        argv, how = [e["python"], "-m", "pip", "check"], "installed pip"
    else:
        argv, how = [e["python"], pip_wheel + "/pip", "check"], "pip run from its wheel (no pip in env)"
    code, so, se = run(argv)
    e["pip_check"] = {"argv": argv, "via": how, "exit": code, "output": (so + se).strip()}
    # What importlib.metadata (plugin discovery, version checks) sees at run time.
    code, so, se = run([e["python"], "-c", LIST_DISTS])
    e["distributions"] = json.loads(so) if code == 0 else {"exit": code, "stderr_tail": tail(se)}
    # flake8 finds its checkers (pyflakes, pycodestyle) through metadata: lint a
    # file with one unused import, the way a CI job would.
    flake8 = e["bin"] + "/flake8"
    if os.path.lexists(host(flake8)):
        code, so, se = run([flake8, "-"], stdin=b"import os\n")
        e["flake8_lint_probe"] = {"argv": [flake8, "-"], "stdin": "import os\n", "exit": code,
                                  "stdout": so.strip(), "stderr_tail": tail(se)}
    result["envs"].append(e)
    for path, k, x in launchers(e["bin"], e["kind"] == "debian-system"):
        code, so, se = run([path, "--help"])
        entry = {"path": path, "env": e["prefix"], "kind": k, "exit": code,
                 "stderr_tail": tail(se), "stdout_first_line": head(so)}
        if not x:
            entry["executable"] = False
        result["launchers"].append(entry)
result["pip_check"] = {k: result["envs"][0]["pip_check"][k] for k in ("exit", "output")}
result["pip_check"]["env"] = result["envs"][0]["prefix"]
argv = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
if argv:
    code, so, se = run(argv)
    result["entrypoint"] = {"argv": argv, "exit": code, "stderr_tail": tail(se),
                            "stdout_first_line": head(so)}
# Scenario-specific probes: what the damage does to the tools that read metadata.
# Run last, in order (a failing `pip uninstall` is the last one: the unpacked
# bundle is thrown away afterwards anyway).
VPY, VBIN = "/opt/venv/bin/python", "/opt/venv/bin"
def pyc(code):
    return [VPY, "-c", code]
MD_VERSION = "import importlib.metadata as m; print(repr(m.version(%r)))"
PROBES = {
    "shim-not-executable": [
        ("the module itself still runs", [VPY, "-m", "pyflakes", "--version"]),
    ],
    "metadata-file-missing": [
        ("importlib.metadata.version(\x27pycodestyle\x27)", pyc(MD_VERSION % "pycodestyle")),
        ("importlib.metadata.version(\x27mccabe\x27)", pyc(MD_VERSION % "mccabe")),
        ("flake8 --version (plugin discovery)", [VBIN + "/flake8", "--version"]),
        ("pip list", [VPY, "-m", "pip", "list"]),
        ("pip show -f mccabe", [VPY, "-m", "pip", "show", "-f", "mccabe"]),
        ("pip uninstall -y mccabe", [VPY, "-m", "pip", "uninstall", "-y", "mccabe"]),
    ],
    "metadata-malformed": [
        ("importlib.metadata.version(\x27mccabe\x27)", pyc(MD_VERSION % "mccabe")),
        ("importlib.metadata.entry_points(group=\x27console_scripts\x27)",
         pyc("import importlib.metadata as m; "
             "print(sorted(e.name for e in m.entry_points(group=\x27console_scripts\x27)))")),
        ("flake8 --version (plugin discovery)", [VBIN + "/flake8", "--version"]),
        ("pip list", [VPY, "-m", "pip", "list"]),
        ("pip show mccabe", [VPY, "-m", "pip", "show", "mccabe"]),
        ("pip show --verbose pyflakes", [VPY, "-m", "pip", "show", "--verbose", "pyflakes"]),
    ],
    "dependency-conflict": [
        ("import requests", pyc("import requests, importlib.metadata as m; "
                                "print(requests.__version__, \x27idna\x27, m.version(\x27idna\x27))")),
        ("pip list", [VPY, "-m", "pip", "list"]),
    ],
}
if tag in PROBES:
    result["probes"] = []
    for name, argv in PROBES[tag]:
        code, so, se = run(argv)
        result["probes"].append({"name": name, "argv": argv, "exit": code,
                                 "stdout": "\n".join(so.strip("\n").splitlines()[:30]),
                                 "stderr_tail": tail(se, 6)})
with open(out, "w") as f:
    json.dump(result, f, indent=2, sort_keys=False)
    f.write("\n")
'

record_truth() {
  local tag=$1
  log "truth: $tag"
  open "$tag"
  mount_image_fs "$R"
  "$HOSTPY" -c "$TRUTH_PY" "$R" "$tag" "$OCI" "$TRUTH/$tag.json" "$PIP_WHEEL"
  cleanup
  safe_rm "$B"
}

SCENARIOS=(base healthy incident-same-run incident-later-run launcher-deleted
  package-deleted file-edited dependency-uninstalled legacy-setuptools-healthy
  legacy-setuptools venv-moved interpreter-purged long-shebang usr-local
  shim-not-executable metadata-file-missing metadata-malformed dependency-conflict)

write_build_info() {   # OUT
  "$HOSTPY" - "$1" "$WORK" "$CREATED" "$CONSTRAINTS" "$CONFLICT_PIN" \
    "$(umoci --version)" "$(skopeo --version)" "${SCENARIOS[@]}" multiarch <<'EOF'
import glob, json, os, subprocess, sys
out, work, created, cons, extra, umoci_v, skopeo_v, *tags = sys.argv[1:]
debs = {}
for deb in sorted(glob.glob(os.path.join(work, "debs", "*.deb"))):
    f = lambda k: subprocess.run(["dpkg-deb", "-f", deb, k], capture_output=True, text=True).stdout.strip()
    debs[f("Package")] = f("Version")
info = {"created": created, "debian_suite": "bookworm", "debian_packages": debs,
        "pypi_pins": [l for l in cons.splitlines() if l.strip()],
        "pypi_outside_constraints": extra.split(), "umoci": umoci_v,
        "skopeo": skopeo_v, "tags": tags}
with open(out, "w") as fh:
    json.dump(info, fh, indent=2); fh.write("\n")
EOF
}

record_all_truth() {
  local t
  safe_rm "$TRUTH"; mkdir -p "$TRUTH"; STAGED+=("$TRUTH")
  for t in "${SCENARIOS[@]}"; do record_truth "$t"; done
}

# swap_in NEW FINAL: exchange the two directories in one renameat2(RENAME_EXCHANGE)
# (a concurrent reader sees the old tree or the new one, never a half-written one
# or none), then remove the old tree, which is now at NEW.
swap_in() {
  local new=$1 final=$2
  [ -d "$new" ] || die "nothing to publish at $new"
  if [ -e "$final" ]; then
    "$HOSTPY" - "$new" "$final" <<'EOF'
import ctypes, os, sys
new, final = (os.fsencode(a) for a in sys.argv[1:3])
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, new, AT_FDCWD, final, RENAME_EXCHANGE) != 0:
    err = ctypes.get_errno()
    raise SystemExit(f"renameat2(RENAME_EXCHANGE, {final.decode()}): {os.strerror(err)}")
EOF
    safe_rm "$new"
  else
    mv "$new" "$final"
  fi
}

# publish: swap images/oci.new, truth.new (if recorded) and build-info.json.new in.
publish() {
  log "publishing images/oci, truth/, build-info.json"
  swap_in "$OCI" "$OCI_FINAL"
  if [ -d "$TRUTH" ]; then swap_in "$TRUTH" "$TRUTH_FINAL"; fi
  if [ -f "$BUILD_INFO.new" ]; then mv "$BUILD_INFO.new" "$BUILD_INFO"; fi
  STAGED=()
}

main() {
  case ${1:-} in
    truth)                           # only re-record the runtime truth
      OCI=$OCI_FINAL
      [ -d "$WORK/wheels" ] || fetch_wheels
      record_all_truth
      swap_in "$TRUTH" "$TRUTH_FINAL"; STAGED=()
      return ;;
    publish)                         # swap in what a PUBLISH=0 run left
      publish; return ;;
  esac
  mkdir -p "$WORK"
  safe_rm "$OCI" "$TRUTH"; rm -f "$BUILD_INFO.new"
  STAGED+=("$OCI" "$BUILD_INFO.new")
  fetch_debs
  fetch_wheels
  build_base
  build_scenarios
  log "garbage-collecting unreferenced blobs"
  umoci gc --layout "$OCI"
  recompress_layers
  build_multiarch
  if [ "${RECORD_TRUTH:-1}" = 1 ]; then record_all_truth; fi
  write_build_info "$BUILD_INFO.new"
  if [ "${PUBLISH:-1}" = 1 ]; then
    publish
  else
    STAGED=()
    log "PUBLISH=0: left images/oci.new, truth.new, build-info.json.new; swap them in with: $0 publish"
  fi
  log "done"
  du -sh "$HERE" "$OCI_FINAL"
}

main "$@"
