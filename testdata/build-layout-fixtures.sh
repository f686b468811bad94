#!/usr/bin/env bash
# Rebuild the COMMITTED "more layouts" fixtures of imgaudit (issue 11, second part):
# editable installs (PEP 660 finder, legacy .egg-link), entry-point forms, virtualenv,
# pdm, hatch, pip --break-system-packages, a non-root USER's --user site, a healthy
# `uv venv --relocatable`, and the slimming variants (*.py deleted with .pyc kept,
# strip of .so files, *.egg-info deleted, tests/ deleted).
#
#   testdata/images/layouts/              one OCI image layout, one manifest per tag;
#                                         its `base` is the committed `base` of
#                                         testdata/images/oci (same blobs)
#   testdata/images/layouts-build-info.json   tool and wheel versions, tag list
#   testdata/truth/layouts/TAG.json       runtime truth of every tag (the probes of
#                                         build-installer-fixtures.sh, plus the
#                                         image's own command)
#
# A separate layout from testdata/images/installers so that adding these did not
# rewrite the installer blobs (uv records install times: its layers never rebuild
# byte-identically). Functions come from build-installer-fixtures.sh (and, through
# it, build-fixtures.sh): chroot helpers, step/commit/config, the wheelhouse, uv,
# the runtime-truth probe.
#
# Needs: root, network to PyPI and Debian (first run), umoci, skopeo, jq, chroot, gcc
# and a CPython 3.11 with headers on the host (the one C extension wheel, built
# the way `pip wheel .` builds it in a CI job), binutils (`strip`).
# Usage: sudo testdata/build-layout-fixtures.sh          (~5 min, truth included)
#        sudo testdata/build-layout-fixtures.sh truth    (re-record the truth only)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export IMGAUDIT_INSTALLER_WORK=${IMGAUDIT_LAYOUT_WORK:-/var/tmp/imgaudit-installer-build}
export IMGAUDIT_REPO=$REPO
INSTALLERS="$REPO/testdata/build-installer-fixtures.sh"
[ "$(tail -1 "$INSTALLERS")" = 'installer_main "$@"' ] ||
  { echo "build-layout-fixtures: $INSTALLERS no longer ends with 'installer_main \"\$@\"'" >&2; exit 1; }
# shellcheck disable=SC1090
source <(sed '/^installer_main "\$@"$/d' "$INSTALLERS")
for f in step config venv_config cmd_config tool_step uv_in_image in_image record_installer_truth \
         fetch_tools fetch_extra_wheels write_uv_config net_in in_builder; do
  declare -F "$f" >/dev/null || die "$INSTALLERS no longer defines $f"
done

OCI_FINAL="$HERE/images/layouts"
TRUTH_FINAL="$HERE/truth/layouts"
OCI="$OCI_FINAL.new"
TRUTH="$TRUTH_FINAL.new"
BUILD_INFO="$HERE/images/layouts-build-info.json"
# Clock: after the installer fixtures' steps.
SEQ=300

LOCAL_WHEELS="$WORK/localwheels"     # wheels built here from the projects below
VENV_BARE="python3 -m venv --without-pip /opt/venv"
PIPV="/opt/venv/bin/python $PIP_WHEEL/pip"

# ---------------------------------------------------------------------------
# Projects
# ---------------------------------------------------------------------------
# epforms: one distribution with every entry-point form (issue 11 item 7):
#   epf-attr  = epforms.cli:app.run        module:object.attribute
#   epf-extra = epforms.cli:main [color]   an extra that is NOT installed (pip writes
#                                          the launcher anyway; it runs)
#   epf-ns    = epfns.tool:main            a PEP 420 namespace package (no __init__.py)
#   epf-ext   = epforms._fast:main         an extension module (.so) target
#   epf-gui   = epforms.gui:main           gui_scripts
write_epforms() {
  local d="$WORK/src/epforms"
  rm -rf "$d"; mkdir -p "$d/epforms" "$d/epfns"
  cat > "$d/pyproject.toml" <<'EOF'
[build-system]
requires = ["setuptools==65.5.0", "wheel==0.45.1"]
build-backend = "setuptools.build_meta"

[project]
name = "epforms"
version = "1.0"
description = "imgaudit fixture: every console-script entry-point form"
requires-python = ">=3.11"

[project.optional-dependencies]
color = ["pyflakes==3.2.0"]

[project.scripts]
epf-attr = "epforms.cli:app.run"
epf-extra = "epforms.cli:main [color]"
epf-ns = "epfns.tool:main"
epf-ext = "epforms._fast:main"

[project.gui-scripts]
epf-gui = "epforms.gui:main"

[tool.setuptools]
packages = ["epforms", "epfns"]
EOF
  # setuptools 65 has no `ext-modules` in pyproject.toml: the extension is declared
  # in setup.py, as most C-extension projects still do.
  cat > "$d/setup.py" <<'EOF'
from setuptools import Extension, setup

setup(ext_modules=[Extension("epforms._fast", ["epforms/_fast.c"])])
EOF
  echo '"""imgaudit fixture: entry-point forms."""' > "$d/epforms/__init__.py"
  cat > "$d/epforms/cli.py" <<'EOF'
"""Targets of epf-attr (an attribute of an object) and epf-extra."""


class _App:
    def run(self):
        print("epf-attr: module:object.attribute")
        return 0


app = _App()


def main():
    print("epf-extra: an entry point with [extras]")
    return 0
EOF
  cat > "$d/epforms/gui.py" <<'EOF'
"""Target of the gui_scripts entry point."""


def main():
    print("epf-gui: a gui_scripts entry point")
    return 0
EOF
  cat > "$d/epforms/_fast.c" <<'EOF'
/* Target of epf-ext: a console script whose module is an extension module. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *fast_main(PyObject *self, PyObject *unused) {
    PySys_WriteStdout("epf-ext: an extension-module entry point\n");
    return PyLong_FromLong(0);
}
static PyMethodDef methods[] = {
    {"main", fast_main, METH_NOARGS, "entry point"},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};
PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
EOF
  cat > "$d/epfns/tool.py" <<'EOF'
"""Target of epf-ns: a module of a PEP 420 namespace package."""


def main():
    print("epf-ns: a namespace-package module")
    return 0
EOF
  find "$d" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
}
# The wheel, built on the host as a CI job's `pip wheel .` would (CPython 3.11, gcc):
# tag cp311-cp311-linux_x86_64, the extension with its symbol table (not stripped).
build_epforms_wheel() {
  ls "$LOCAL_WHEELS"/epforms-1.0-*.whl >/dev/null 2>&1 && return
  log "epforms wheel: pip wheel (host CPython 3.11 + gcc)"
  mkdir -p "$LOCAL_WHEELS"
  "$PIP_HOST" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' ||
    die "PIP_HOST must be a CPython 3.11 with headers (the image runs 3.11)"
  env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT "$PIP_HOST" -m pip wheel -q --no-deps \
    -w "$LOCAL_WHEELS" "$WORK/src/epforms"
}

# hello-flat: a flat-layout setuptools project. `pip install -e` (PEP 660) gives it a
# finder module (`__editable___hello_flat_1_0_finder.py`, MAPPING to /src/hello-flat),
# not a static path: setuptools only writes a plain path .pth for a src-like layout.
# hello-legacy-ed: setup.py only; `pip install --no-use-pep517 -e` runs `setup.py
# develop`: hello-legacy-ed.egg-link, easy-install.pth, the egg-info in /src.
write_editable_projects() {
  local f="$WORK/src/hello-flat" l="$WORK/src/hello-legacy-ed"
  rm -rf "$f" "$l"; mkdir -p "$f/hello_flat" "$l/hello_legacy_ed"
  cat > "$f/pyproject.toml" <<'EOF'
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "hello-flat"
version = "1.0"
description = "imgaudit fixture: flat layout, installed editable"
dependencies = ["pyflakes"]

[project.scripts]
hello-flat = "hello_flat.cli:main"

[tool.setuptools]
packages = ["hello_flat"]
EOF
  echo '"""imgaudit fixture package."""' > "$f/hello_flat/__init__.py"
  sed -e 's/hello-uv/hello-flat/' "$WORK/src/hello-uv/src/hello_uv/cli.py" > "$f/hello_flat/cli.py"
  cat > "$l/setup.py" <<'EOF'
from setuptools import setup

setup(
    name="hello-legacy-ed",
    version="1.0",
    description="imgaudit fixture: setup.py develop (legacy editable)",
    packages=["hello_legacy_ed"],
    install_requires=["pyflakes"],
    entry_points={"console_scripts": ["hello-legacy-ed = hello_legacy_ed.cli:main"]},
)
EOF
  echo '"""imgaudit fixture package."""' > "$l/hello_legacy_ed/__init__.py"
  sed -e 's/hello-uv/hello-legacy-ed/' "$WORK/src/hello-uv/src/hello_uv/cli.py" > "$l/hello_legacy_ed/cli.py"
  find "$f" "$l" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---------------------------------------------------------------------------
# Scenario steps ($R is the rootfs)
# ---------------------------------------------------------------------------
# Debian packages a step installs (apt-get download on the host), unpacked the way
# the base layers were (testdata/build-fixtures.sh extract_debs + merge_usr: dpkg
# status and file lists extended, merged /usr kept): coreutils for the relocatable
# launchers' dirname/realpath, with the libraries it links.
LAYOUT_DEBS=(coreutils libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10)
debs_into() {   # ROOTFS PKG...
  local root=$1 s="$WORK/stage-debs" p x; shift
  mkdir -p "$WORK/debs"
  for p in "$@"; do
    ls "$WORK/debs/${p}_"*.deb >/dev/null 2>&1 || ( cd "$WORK/debs" && apt-get download -qq "$p" )
  done
  rm -rf "$s"; mkdir -p "$s"
  cp -a "$root/var" "$s/"                          # dpkg database to extend
  extract_debs "$s" "$@"
  merge_usr "$s"
  for x in bin sbin lib lib64; do rmdir "$s/$x" 2>/dev/null || true; done
  cp -a "$s/." "$root/"
  rm -rf "$s"
}
s_coreutils() { debs_into "$R" "${LAYOUT_DEBS[@]}"; }
I_UV_RELOC_OK="$UV venv --relocatable /opt/venv --python /usr/bin/python3.11 && VIRTUAL_ENV=/opt/venv $UV pip install flake8==7.1.1"
s_uv_reloc_ok() { uv_in_image "$I_UV_RELOC_OK"; }

I_PIP_BSP="python3 $PIP_WHEEL/pip install --break-system-packages flake8==7.1.1"
s_pip_bsp() { in_image "$I_PIP_BSP"; }

# A non-root USER: `useradd -m app` (uid 1000, HOME=/home/app from /etc/passwd, no
# ENV HOME), then `USER app` + `pip install --user`.
s_useradd() {
  echo 'app:x:1000:1000::/home/app:/bin/sh' >> "$R/etc/passwd"
  echo 'app:x:1000:' >> "$R/etc/group"
  install -d -m 0755 -o 1000 -g 1000 "$R/home/app"
}
I_PIP_USER_APP="python3 $PIP_WHEEL/pip install --user --break-system-packages flake8==7.1.1"
s_pip_user_app() {
  chroot_env HOME=/home/app chroot --userspec=1000:1000 "$R" /bin/sh -ec "$I_PIP_USER_APP"
}

I_EPFORMS="$VENV_BARE && $PIPV install --find-links /tmp/localwheels epforms==1.0"
s_epforms() {
  mkdir -p "$R/tmp/localwheels"
  mount --bind "$LOCAL_WHEELS" "$R/tmp/localwheels"; MOUNTS+=("$R/tmp/localwheels")
  in_image "$I_EPFORMS"
  rm_pycache /opt/venv
  umount -l "$R/tmp/localwheels"; rmdir "$R/tmp/localwheels"
  unset 'MOUNTS[${#MOUNTS[@]}-1]'
}
s_rm_epfns() { rm -rf "$R/opt/venv/lib/python3.11/site-packages/epfns"; }
# RUN apt-get install binutils && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} + && apt-get purge binutils
# (Debian bookworm's binutils, here run from the host: same tool, same version line.)
s_strip_so() { find "$R/opt/venv" -name '*.so' -exec strip --strip-unneeded {} +; }

# The base has no findutils: the `find` of a RUN line runs from the host, on the
# rootfs (same effect).
rm_pycache() { local d; for d in "$@"; do find "$R$d" -name __pycache__ -prune -exec rm -rf {} +; done; }
I_FLAKE8_VENV="$VENV_BARE && $PIPV install flake8==7.1.1"
s_flake8_venv() { in_image "$I_FLAKE8_VENV"; }
s_rm_py() { find "$R/opt/venv" -name '*.py' -delete; }
I_PYC_LEGACY="python3 -m compileall -q -b /opt/venv/lib && find /opt/venv -name '*.py' -delete && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +"
s_pyc_legacy() { in_image "python3 -m compileall -q -b /opt/venv/lib"; s_rm_py; rm_pycache /opt/venv; }
s_rm_tests() { find "$R/opt/venv" -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +; }

s_copy_flat() { mkdir -p "$R/src"; cp -a "$WORK/src/hello-flat" "$R/src/hello-flat"; }
I_EDIT_FINDER="$VENV_BARE && $PIPV install setuptools==65.5.0 wheel==0.45.1 && $PIPV install --no-build-isolation -e /src/hello-flat"
s_edit_finder() { s_copy_flat; in_image "$I_EDIT_FINDER"; rm_pycache /opt/venv /src; }
s_rm_flat() { rm -rf "$R/src/hello-flat"; }

s_copy_legacy_ed() { mkdir -p "$R/src"; cp -a "$WORK/src/hello-legacy-ed" "$R/src/hello-legacy-ed"; }
I_EDIT_LEGACY="$VENV_BARE && $PIPV install setuptools==65.5.0 wheel==0.45.1 && $PIPV install --no-use-pep517 -e /src/hello-legacy-ed"
s_edit_legacy() { s_copy_legacy_ed; in_image "$I_EDIT_LEGACY"; rm_pycache /opt/venv /src; }
s_rm_legacy_ed() { rm -rf "$R/src/hello-legacy-ed"; }
s_rm_egg_info() { find "$R/opt/venv" "$R/src" -name '*.egg-info' -prune -exec rm -rf {} +; }

# virtualenv, in a builder with network (pip install virtualenv), venv copied out.
VIRTUALENV_VERSION=21.15.11
VENV_BUILDER="$WORK/virtualenv-builder"
build_virtualenv_builder() {
  [ -f "$VENV_BUILDER/.done" ] && return
  log "virtualenv builder: pip install virtualenv==$VIRTUALENV_VERSION; virtualenv /opt/venv; pip install flake8"
  safe_rm "$VENV_BUILDER"
  umoci unpack --image "$OCI:base" "$VENV_BUILDER" >/dev/null
  local r="$VENV_BUILDER/rootfs"
  mkdir -p "$r/dev" "$r/proc" "$r/tmp/wheels"
  mount --bind /dev "$r/dev"; MOUNTS+=("$r/dev")
  mount -t proc proc "$r/proc"; MOUNTS+=("$r/proc")
  mount --bind "$WORK/wheels" "$r/tmp/wheels"; MOUNTS+=("$r/tmp/wheels")
  net_in "$r" "python3 -m venv --without-pip /opt/virtualenv && /opt/virtualenv/bin/python $PIP_WHEEL/pip install -q virtualenv==$VIRTUALENV_VERSION && /opt/virtualenv/bin/virtualenv --no-pip --no-setuptools --no-wheel /opt/venv && /opt/venv/bin/python $PIP_WHEEL/pip install -q --no-index --find-links /tmp/wheels -c /tmp/wheels/constraints.txt flake8==7.1.1"
  find "$r/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
  net_in "$r" "/opt/virtualenv/bin/python $PIP_WHEEL/pip freeze --path /opt/virtualenv/lib/python3.11/site-packages" > "$WORK/virtualenv-freeze.txt"
  cleanup
  touch "$VENV_BUILDER/.done"
}
s_virtualenv() { build_virtualenv_builder; cp -a "$VENV_BUILDER/rootfs/opt/venv" "$R/opt/venv"; }

# pdm, in a builder with network: pdm install (in-project .venv, the project itself
# editable, pdm-backend), the whole /app copied out; its broken twin copies only .venv.
PDM_VERSION=2.29.4
# pdm 2.29.4 asks for hishel>=1.4.0, and hishel 2.0.0 dropped the SyncSqliteStorage it
# imports ("module 'hishel' has no attribute 'SyncSqliteStorage'"): hishel pinned at
# 1.4.0, the version of pdm's own `locked` extra (which itself no longer resolves).
PDM_BUILDER="$WORK/pdm-builder"
write_pdm_project() {
  local d="$1/app"
  mkdir -p "$d/src/hello_pdm"
  cat > "$d/pyproject.toml" <<'EOF'
[project]
name = "hello-pdm"
version = "1.0"
description = "imgaudit fixture: a pdm project with a console script"
requires-python = ">=3.11"
dependencies = ["pyflakes==3.2.0"]

[project.scripts]
hello-pdm = "hello_pdm.cli:main"

[build-system]
requires = ["pdm-backend"]
build-backend = "pdm.backend"

[tool.pdm]
distribution = true
EOF
  echo '"""imgaudit fixture package."""' > "$d/src/hello_pdm/__init__.py"
  sed -e 's/hello-uv/hello-pdm/' "$WORK/src/hello-uv/src/hello_uv/cli.py" > "$d/src/hello_pdm/cli.py"
}
build_pdm_builder() {
  [ -f "$PDM_BUILDER/.done" ] && return
  log "pdm builder: pip install pdm==$PDM_VERSION; pdm install"
  safe_rm "$PDM_BUILDER"
  umoci unpack --image "$OCI:base" "$PDM_BUILDER" >/dev/null
  local r="$PDM_BUILDER/rootfs"
  mkdir -p "$r/dev" "$r/proc" "$r/tmp/wheels"
  mount --bind /dev "$r/dev"; MOUNTS+=("$r/dev")
  mount -t proc proc "$r/proc"; MOUNTS+=("$r/proc")
  mount --bind "$WORK/wheels" "$r/tmp/wheels"; MOUNTS+=("$r/tmp/wheels")
  write_pdm_project "$r"
  find "$r/app" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  net_in "$r" "python3 -m venv --without-pip /opt/pdm && /opt/pdm/bin/python $PIP_WHEEL/pip install -q pdm==$PDM_VERSION 'hishel[httpx2]==1.4.0' && cd /app && PDM_CHECK_UPDATE=false PDM_CACHE_DIR=/tmp/pdm-cache /opt/pdm/bin/pdm install"
  net_in "$r" "/opt/pdm/bin/python $PIP_WHEEL/pip freeze --path /opt/pdm/lib/python3.11/site-packages" > "$WORK/pdm-freeze.txt"
  find "$r/app" -name __pycache__ -prune -exec rm -rf {} +
  cleanup
  touch "$PDM_BUILDER/.done"
}
s_pdm_app() { build_pdm_builder; cp -a "$PDM_BUILDER/rootfs/app" "$R/app"; rm -rf "$R/app/.pdm-build"; }
s_pdm_venv_only() { build_pdm_builder; mkdir -p "$R/app"; cp -a "$PDM_BUILDER/rootfs/app/.venv" "$R/app/.venv"; }

# hatch, in a builder with network: `hatch env create` with the default environment
# in-project (`path = ".venv"`) and uv as its installer (no pip seeded: hatch's own
# option); the project installed in development mode (hatchling's editable `.pth`).
HATCH_VERSION=1.18.2
HATCH_BUILDER="$WORK/hatch-builder"
write_hatch_project() {
  local d="$1/app"
  mkdir -p "$d/src/hello_hatch"
  cat > "$d/pyproject.toml" <<'EOF'
[project]
name = "hello-hatch"
version = "1.0"
description = "imgaudit fixture: a hatch project with a console script"
requires-python = ">=3.11"
dependencies = ["pyflakes==3.2.0"]

[project.scripts]
hello-hatch = "hello_hatch.cli:main"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.envs.default]
path = ".venv"
installer = "uv"
EOF
  echo '"""imgaudit fixture package."""' > "$d/src/hello_hatch/__init__.py"
  sed -e 's/hello-uv/hello-hatch/' "$WORK/src/hello-uv/src/hello_uv/cli.py" > "$d/src/hello_hatch/cli.py"
}
build_hatch_builder() {
  [ -f "$HATCH_BUILDER/.done" ] && return
  log "hatch builder: pip install hatch==$HATCH_VERSION; hatch env create"
  safe_rm "$HATCH_BUILDER"
  umoci unpack --image "$OCI:base" "$HATCH_BUILDER" >/dev/null
  local r="$HATCH_BUILDER/rootfs"
  mkdir -p "$r/dev" "$r/proc" "$r/tmp/wheels"
  mount --bind /dev "$r/dev"; MOUNTS+=("$r/dev")
  mount -t proc proc "$r/proc"; MOUNTS+=("$r/proc")
  mount --bind "$WORK/wheels" "$r/tmp/wheels"; MOUNTS+=("$r/tmp/wheels")
  debs_into "$r" libgcc-s1       # the uv binary hatch runs links libgcc_s
  write_hatch_project "$r"
  find "$r/app" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  net_in "$r" "python3 -m venv --without-pip /opt/hatch && /opt/hatch/bin/python $PIP_WHEEL/pip install -q hatch==$HATCH_VERSION && cd /app && HATCH_DATA_DIR=/tmp/hatch-data HATCH_CACHE_DIR=/tmp/hatch-cache UV_CACHE_DIR=/tmp/uv-cache /opt/hatch/bin/hatch env create"
  net_in "$r" "/opt/hatch/bin/python $PIP_WHEEL/pip freeze --path /opt/hatch/lib/python3.11/site-packages" > "$WORK/hatch-freeze.txt"
  find "$r/app" -name __pycache__ -prune -exec rm -rf {} +
  cleanup
  touch "$HATCH_BUILDER/.done"
}
s_hatch_app() { build_hatch_builder; cp -a "$HATCH_BUILDER/rootfs/app" "$R/app"; }
s_hatch_venv_only() { build_hatch_builder; mkdir -p "$R/app"; cp -a "$HATCH_BUILDER/rootfs/app/.venv" "$R/app/.venv"; }

build_layout_scenarios() {
  write_uv_project
  write_epforms
  build_epforms_wheel
  write_editable_projects
  # 1. pip install --break-system-packages into Debian's Python (/usr/local/lib/python3.11/dist-packages)
  step base pip-break-system "$RUN_PREFIX $I_PIP_BSP" s_pip_bsp
  cmd_config pip-break-system flake8 --help
  # 2. a non-root USER with pip --user: HOME comes from /etc/passwd, not from ENV
  step base user-app "RUN useradd -m -u 1000 app" s_useradd
  config user-app "USER app" --config.user app
  step user-app pip-user-app "$RUN_PREFIX $I_PIP_USER_APP" s_pip_user_app
  config pip-user-app "ENV PATH=/home/app/.local/bin:$BASE_PATH" --config.env "PATH=/home/app/.local/bin:$BASE_PATH"
  cmd_config pip-user-app flake8 --help
  # 3. uv venv --relocatable on a base with coreutils (dirname, realpath): healthy
  step base coreutils "RUN apt-get install -y --no-install-recommends coreutils" s_coreutils
  tool_step coreutils uv-relocatable-ok "$UV_RUN uv venv --relocatable /opt/venv --python /usr/bin/python3.11 && VIRTUAL_ENV=/opt/venv uv pip install flake8==7.1.1" s_uv_reloc_ok
  venv_config uv-relocatable-ok /opt/venv /opt/venv/bin/flake8 --help
  # 4. entry-point forms, healthy; the namespace package deleted; the .so stripped
  step base epforms "RUN --mount=type=bind,source=dist,target=/tmp/localwheels $I_EPFORMS && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +" s_epforms
  venv_config epforms /opt/venv /opt/venv/bin/epf-ext --help
  step epforms epforms-namespace-deleted "RUN rm -rf /opt/venv/lib/python3.11/site-packages/epfns" s_rm_epfns
  step epforms epforms-so-stripped "RUN apt-get install -y binutils && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} + && apt-get purge -y binutils" s_strip_so
  # 5. slimming a pip venv: every *.py deleted (only __pycache__ left), sources
  #    compiled to legacy .pyc first, tests/ deleted
  step base pip-venv "$RUN_PREFIX $I_FLAKE8_VENV" s_flake8_venv
  venv_config pip-venv /opt/venv /opt/venv/bin/flake8 --help
  step pip-venv py-deleted-pycache-kept "RUN find /opt/venv -name '*.py' -delete" s_rm_py
  step pip-venv py-deleted-legacy-pyc "RUN $I_PYC_LEGACY" s_pyc_legacy
  step pip-venv tests-deleted "RUN find /opt/venv -type d \\( -name tests -o -name test \\) -prune -exec rm -rf {} +" s_rm_tests
  # 6. PEP 660 editable with a finder module (flat layout), then its source deleted
  step base editable-finder "COPY hello-flat /src/hello-flat && $RUN_PREFIX $I_EDIT_FINDER && find /opt/venv /src -name __pycache__ -prune -exec rm -rf {} +" s_edit_finder
  venv_config editable-finder /opt/venv /opt/venv/bin/hello-flat --help
  step editable-finder editable-finder-src-deleted "RUN rm -rf /src/hello-flat" s_rm_flat
  # 7. legacy editable (setup.py develop: .egg-link + easy-install.pth), then its
  #    source deleted, and its egg-info deleted
  step base editable-legacy "COPY hello-legacy-ed /src/hello-legacy-ed && $RUN_PREFIX $I_EDIT_LEGACY && find /opt/venv /src -name __pycache__ -prune -exec rm -rf {} +" s_edit_legacy
  venv_config editable-legacy /opt/venv /opt/venv/bin/hello-legacy-ed --help
  step editable-legacy editable-legacy-src-deleted "RUN rm -rf /src/hello-legacy-ed" s_rm_legacy_ed
  step editable-legacy egg-info-deleted "RUN find /opt/venv /src -name '*.egg-info' -exec rm -rf {} +" s_rm_egg_info
  # 8. virtualenv (its activators, _virtualenv.pth), multi-stage
  step base virtualenv "COPY --from=builder /opt/venv /opt/venv # builder: pip install virtualenv==$VIRTUALENV_VERSION && virtualenv --no-pip --no-setuptools --no-wheel /opt/venv && /opt/venv/bin/python pip.whl/pip install flake8==7.1.1" s_virtualenv
  venv_config virtualenv /opt/venv /opt/venv/bin/flake8 --help
  # 9. pdm: the whole /app, and only its .venv (the editable project loses its source)
  if [ "${SKIP_PDM:-0}" != 1 ]; then
    step base pdm "COPY --from=builder /app /app # builder: pip install pdm==$PDM_VERSION; COPY . /app; pdm install" s_pdm_app
    venv_config pdm /app/.venv /app/.venv/bin/hello-pdm --help
    step base pdm-venv-only "COPY --from=builder /app/.venv /app/.venv # builder as for pdm" s_pdm_venv_only
    venv_config pdm-venv-only /app/.venv /app/.venv/bin/hello-pdm --help
  fi
  # 10. hatch: the whole /app, and only its .venv
  if [ "${SKIP_HATCH:-0}" != 1 ]; then
    step base hatch "COPY --from=builder /app /app # builder: pip install hatch==$HATCH_VERSION; COPY . /app; hatch env create" s_hatch_app
    venv_config hatch /app/.venv /app/.venv/bin/hello-hatch --help
    step base hatch-venv-only "COPY --from=builder /app/.venv /app/.venv # builder as for hatch" s_hatch_venv_only
    venv_config hatch-venv-only /app/.venv /app/.venv/bin/hello-hatch --help
  fi
  build_layout_scenarios_names
}
build_layout_scenarios_names() {
  SCENARIOS=(pip-break-system pip-user-app uv-relocatable-ok
    epforms epforms-namespace-deleted epforms-so-stripped
    pip-venv py-deleted-pycache-kept py-deleted-legacy-pyc tests-deleted
    editable-finder editable-finder-src-deleted
    editable-legacy editable-legacy-src-deleted egg-info-deleted
    virtualenv)
  if [ "${SKIP_PDM:-0}" != 1 ]; then SCENARIOS+=(pdm pdm-venv-only); fi
  if [ "${SKIP_HATCH:-0}" != 1 ]; then SCENARIOS+=(hatch hatch-venv-only); fi
}

write_layout_build_info() {
  "$HOSTPY" - "$1" "$CREATED" "$CONSTRAINTS" "$UV_VERSION" "$(umoci --version)" \
    "$(skopeo --version)" "${EXTRA_PINS[*]}" "$WORK" "$("$PIP_HOST" --version 2>&1)" \
    "$(strip --version | head -1)" "${SCENARIOS[@]}" <<'EOF'
import json, os, sys
out, created, cons, uv, umoci_v, skopeo_v, extra, work, host_py, strip_v, *tags = sys.argv[1:]
def freeze(name):
    p = os.path.join(work, name + "-freeze.txt")
    return open(p).read().split() if os.path.exists(p) else None
info = {"created": created, "base": "tag `base` of testdata/images/oci (same blobs)",
        "pypi_pins": [l for l in cons.splitlines() if l.strip()] + extra.split(),
        "tools": {"uv": uv + " (PyPI wheel, musllinux_1_1_x86_64 static binary)",
                  "pip": "24.0 (wheel run by the image's python3.11)",
                  "epforms wheel": "built on the host by `pip wheel` with " + host_py,
                  "strip": strip_v,
                  "virtualenv (builder stage, pip freeze)": freeze("virtualenv"),
                  "pdm (builder stage, pip freeze)": freeze("pdm"),
                  "hatch (builder stage, pip freeze)": freeze("hatch")},
        "umoci": umoci_v, "skopeo": skopeo_v, "tags": ["base"] + tags}
with open(out, "w") as fh:
    json.dump(info, fh, indent=2); fh.write("\n")
EOF
}

layout_main() {
  mkdir -p "$WORK"
  [ -d "$WORK/wheels" ] || fetch_wheels
  fetch_extra_wheels
  fetch_tools
  write_uv_config
  if [ "${1:-}" = truth ]; then
    OCI=$OCI_FINAL
    build_layout_scenarios_names
  else
    safe_rm "$OCI" "$TRUTH"; STAGED+=("$OCI" "$TRUTH")
    log "base: copied from $SRC_OCI (same blobs)"
    skopeo copy -q "oci:$SRC_OCI:base" "oci:$OCI:base"
    build_layout_scenarios
    umoci gc --layout "$OCI"
    recompress_layers
  fi
  safe_rm "$TRUTH"; mkdir -p "$TRUTH"; STAGED+=("$TRUTH")
  local t
  for t in "${SCENARIOS[@]}"; do record_installer_truth "$t"; done
  if [ "${1:-}" != truth ]; then
    write_layout_build_info "$BUILD_INFO"
    swap_in "$OCI" "$OCI_FINAL"
  fi
  mkdir -p "$(dirname "$TRUTH_FINAL")"
  swap_in "$TRUTH" "$TRUTH_FINAL"
  STAGED=()
  log "done"
  du -sh "$OCI_FINAL" "$TRUTH_FINAL"
}

layout_main "$@"
