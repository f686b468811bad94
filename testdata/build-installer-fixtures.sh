#!/usr/bin/env bash
# Rebuild the COMMITTED installer fixtures of imgaudit (issue 11): the ways teams
# put Python into an image other than pip-in-a-venv, each built by the real tool,
# healthy and broken the way real slimming breaks it.
#
#   testdata/images/installers/              one OCI image layout, one manifest per tag;
#                                            its `base` is the committed `base` of
#                                            testdata/images/oci (same blobs)
#   testdata/images/installers-build-info.json   tool and wheel versions, tag list
#   testdata/truth/installers/TAG.json       runtime truth of every tag (see below)
#
# The chroot helpers, the step/commit/config conventions and the wheelhouse are
# those of testdata/build-fixtures.sh, whose functions are sourced (its `main` is
# not run), as bench/build-image.sh does.
#
# The tools run inside the image, as a Dockerfile's RUN would run them:
#   uv      the static (musl) binary of the pinned PyPI `uv` wheel, bind-mounted at
#           /tmp/tools/uv (`RUN --mount=from=ghcr.io/astral-sh/uv,source=/uv,...`);
#           offline: --no-index --find-links /tmp/wheels, --no-cache.
#   pip     the pinned pip wheel, run by the image's interpreter.
#
# Needs: root, network to PyPI (first run), umoci, skopeo, jq, chroot.
# Usage: sudo testdata/build-installer-fixtures.sh          (~2 min, truth included)
#        sudo testdata/build-installer-fixtures.sh truth    (re-record the truth only)
set -euo pipefail

REPO=${IMGAUDIT_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}   # set when sourced (build-layout-fixtures.sh)
export IMGAUDIT_FIXTURE_WORK=${IMGAUDIT_INSTALLER_WORK:-/var/tmp/imgaudit-installer-build}
FIXTURES="$REPO/testdata/build-fixtures.sh"
[ "$(tail -1 "$FIXTURES")" = 'main "$@"' ] ||
  { echo "build-installer-fixtures: $FIXTURES no longer ends with a plain 'main \"\$@\"' line" >&2; exit 1; }
# shellcheck disable=SC1090
source <(sed '/^main "\$@"$/d' "$FIXTURES")
for f in log die safe_rm cleanup chroot_env in_image mount_image_fs umount_image_fs open \
         commit config step tick fetch_wheels recompress_layers venv_config swap_in; do
  declare -F "$f" >/dev/null || die "$FIXTURES no longer defines $f"
done

HERE="$REPO/testdata"
SRC_OCI="$HERE/images/oci"                 # the committed base comes from here
OCI_FINAL="$HERE/images/installers"
TRUTH_FINAL="$HERE/truth/installers"
OCI="$OCI_FINAL.new"
TRUTH="$TRUTH_FINAL.new"
BUILD_INFO="$HERE/images/installers-build-info.json"
UV_VERSION=0.5.11
# Clock: after the main fixtures' steps, so no history time collides with theirs.
SEQ=100

# The uv binary and a wheelhouse-independent tools dir, bind-mounted read-only.
fetch_tools() {
  [ -x "$WORK/tools/uv" ] && [ "$("$WORK/tools/uv" --version)" = "uv $UV_VERSION" ] && return
  log "downloading uv $UV_VERSION (static musl binary from its PyPI wheel)"
  rm -rf "$WORK/tools" "$WORK/uvwheel"; mkdir -p "$WORK/tools" "$WORK/uvwheel"
  env -u PIP_FIND_LINKS "$PIP_HOST" -m pip download -q --no-deps --only-binary=:all: \
    --platform musllinux_1_1_x86_64 -d "$WORK/uvwheel" "uv==$UV_VERSION"
  "$HOSTPY" - "$WORK/uvwheel" "$WORK/tools/uv" <<'EOF'
import glob, os, sys, zipfile
whl = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/uv"))
    open(sys.argv[2], "wb").write(z.read(name))
os.chmod(sys.argv[2], 0o755)
EOF
  rm -rf "$WORK/uvwheel"
}
# Wheels beyond the main fixtures' pins: setuptools 65's PEP 660 backend asks
# for `wheel` to build an editable (or any) wheel of the uv project.
EXTRA_PINS=(wheel==0.45.1)
fetch_extra_wheels() {
  local p
  for p in "${EXTRA_PINS[@]}"; do
    ls "$WORK/wheels/${p%%==*}-${p##*==}-"*.whl >/dev/null 2>&1 && continue
    env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT "$PIP_HOST" -m pip download -q \
      -d "$WORK/wheels" --only-binary=:all: --no-deps "$p"
  done
  chmod 644 "$WORK"/wheels/*
}
# Offline against the wheelhouse (what an index mirror would serve).
write_uv_config() {
  printf 'no-index = true\nfind-links = ["/tmp/wheels"]\n' > "$WORK/tools/uv.toml"
}

# Mount the tools next to the wheelhouse for one step (like RUN --mount=from=uv).
with_tools() {
  mkdir -p "$R/tmp/tools"
  mount --bind "$WORK/tools" "$R/tmp/tools"; MOUNTS+=("$R/tmp/tools")
  mount -o remount,bind,ro "$R/tmp/tools"
  "$@"
  umount -l "$R/tmp/tools"; rmdir "$R/tmp/tools"
  unset 'MOUNTS[${#MOUNTS[@]}-1]'
}

# uv inside the image, offline against the wheelhouse, nothing cached in a layer.
uv_in_image() {
  chroot_env UV_CONFIG_FILE=/tmp/tools/uv.toml UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never \
    UV_CONSTRAINT=/tmp/wheels/constraints.txt UV_LINK_MODE=copy UV_NO_PROGRESS=1 \
    chroot "$R" /bin/sh -ec "$1"
}
UV=/tmp/tools/uv
UV_RUN="RUN --mount=from=ghcr.io/astral-sh/uv:$UV_VERSION,source=/uv,target=/tmp/tools/uv --mount=type=bind,source=wheels,target=/tmp/wheels"

# A small project for `uv sync`: a setuptools (PEP 660) package in src/ layout with
# one console script, depending on pyflakes.
write_uv_project() {
  local d="$WORK/src/hello-uv"
  rm -rf "$d"; mkdir -p "$d/src/hello_uv"
  cat > "$d/pyproject.toml" <<'EOF'
[project]
name = "hello-uv"
version = "1.0"
description = "imgaudit fixture: a uv project with a console script"
requires-python = ">=3.11"
dependencies = ["pyflakes"]

[project.scripts]
hello-uv = "hello_uv.cli:main"

[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"
EOF
  echo '"""imgaudit fixture package."""' > "$d/src/hello_uv/__init__.py"
  cat > "$d/src/hello_uv/cli.py" <<'EOF'
"""imgaudit fixture: say hello, and prove pyflakes is importable."""
import argparse

import pyflakes


def main():
    parser = argparse.ArgumentParser(prog="hello-uv", description="say hello")
    parser.add_argument("name", nargs="?", default="world")
    args = parser.parse_args()
    print(f"hello, {args.name} (pyflakes {pyflakes.__version__})")
    return 0
EOF
  find "$d" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---------------------------------------------------------------------------
# Scenario steps ($R is the rootfs)
# ---------------------------------------------------------------------------
I_UV_VENV="$UV venv /opt/venv --python /usr/bin/python3.11 && VIRTUAL_ENV=/opt/venv $UV pip install flake8==7.1.1"
s_uv_venv() { uv_in_image "$I_UV_VENV"; }
s_distinfo_rm() { find "$R$1" -name '*.dist-info' -prune -exec rm -rf {} +; }
s_uv_venv_slim() { s_distinfo_rm /opt/venv; }

s_copy_uv_project() { mkdir -p "$R/app"; cp -a "$WORK/src/hello-uv/." "$R/app/"; }
I_UV_SYNC="cd /app && $UV sync --python /usr/bin/python3.11"
s_uv_sync() { uv_in_image "$I_UV_SYNC"; }
s_rm_src() { rm -rf "$R/app/src"; }

# Multi-stage: builder = base + project + `uv sync --no-editable`; only the venv is
# copied into the final image (uv's documented Docker pattern).
I_UV_SYNC_NE="cd /app && $UV sync --no-editable --python /usr/bin/python3.11"
in_builder() {   # FROMTAG SCRIPT-FUNCTION: run it in a throw-away bundle, sets BR
  local outer_b=$B outer_r=$R
  umount_image_fs "$R"
  B="$WORK/builder"; R="$B/rootfs"; safe_rm "$B"
  umoci unpack --image "$OCI:$1" "$B" >/dev/null
  mount_image_fs "$R"
  "$2"
  umount_image_fs "$R"
  BR=$R; BB=$B
  B=$outer_b; R=$outer_r
  mount_image_fs "$R"
}
s_uv_sync_ne_build() { s_copy_uv_project; with_tools uv_in_image "$I_UV_SYNC_NE"; }
s_uv_sync_ne() {
  in_builder base s_uv_sync_ne_build
  mkdir -p "$R/app"; cp -a "$BR/app/.venv" "$R/app/.venv"
  safe_rm "$BB"
}

I_UV_RELOC="$UV venv --relocatable /opt/venv --python /usr/bin/python3.11 && VIRTUAL_ENV=/opt/venv $UV pip install flake8==7.1.1"
s_uv_reloc() { uv_in_image "$I_UV_RELOC"; }

I_UV_TOOL="UV_TOOL_DIR=/opt/uv/tools UV_TOOL_BIN_DIR=/usr/local/bin $UV tool install --python /usr/bin/python3.11 flake8==7.1.1"
s_uv_tool() { uv_in_image "$I_UV_TOOL"; }
s_uv_tool_slim() { s_distinfo_rm /opt/uv/tools; }

I_UV_SYSTEM="$UV pip install --system --break-system-packages --python /usr/bin/python3.11 flake8==7.1.1"
s_uv_system() { uv_in_image "$I_UV_SYSTEM"; }

# ---------------------------------------------------------------------------
# Builders with network (multi-stage Dockerfiles: only what COPY --from takes
# reaches the image). poetry and its dependencies come from PyPI inside the
# builder, as `RUN pip install poetry==…` in a Dockerfile; the host's resolver
# and CA bundle are copied into the builder (it is thrown away).
# ---------------------------------------------------------------------------
POETRY_VERSION=1.8.5
net_in() {   # ROOTFS SCRIPT
  cp /etc/resolv.conf "$1/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$1/tmp/ca.crt"
  env -i PATH="$BASE_PATH" HOME=/root LANG=C.UTF-8 SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
    PIP_CERT=/tmp/ca.crt REQUESTS_CA_BUNDLE=/tmp/ca.crt SSL_CERT_FILE=/tmp/ca.crt \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    POETRY_VIRTUALENVS_IN_PROJECT=true POETRY_VIRTUALENVS_OPTIONS_NO_PIP=true \
    POETRY_VIRTUALENVS_OPTIONS_NO_SETUPTOOLS=true POETRY_CACHE_DIR=/tmp/poetry-cache \
    chroot "$1" /bin/sh -ec "$2"
}
write_poetry_project() {
  local d="$1/app"
  mkdir -p "$d/hello_poetry"
  cat > "$d/pyproject.toml" <<'EOF2'
[tool.poetry]
name = "hello-poetry"
version = "1.0"
description = "imgaudit fixture: a poetry project with a console script"
authors = ["imgaudit <fixtures@imgaudit.invalid>"]
packages = [{ include = "hello_poetry" }]

[tool.poetry.dependencies]
python = "^3.11"
pyflakes = "3.2.0"

[tool.poetry.scripts]
hello-poetry = "hello_poetry.cli:main"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
EOF2
  echo '"""imgaudit fixture package."""' > "$d/hello_poetry/__init__.py"
  sed -e 's/hello-uv/hello-poetry/' "$WORK/src/hello-uv/src/hello_uv/cli.py" > "$d/hello_poetry/cli.py"
}
# The poetry builder, once: base + /opt/poetry (pip install poetry) + COPY . /app
# + `poetry install` (in-project .venv, the project itself installed editable).
POETRY_BUILDER="$WORK/poetry-builder"
build_poetry_builder() {
  [ -f "$POETRY_BUILDER/.done" ] && return
  log "poetry builder: pip install poetry==$POETRY_VERSION, poetry install"
  safe_rm "$POETRY_BUILDER"
  umoci unpack --image "$OCI:base" "$POETRY_BUILDER" >/dev/null
  local r="$POETRY_BUILDER/rootfs"
  mkdir -p "$r/dev" "$r/proc"
  mount --bind /dev "$r/dev"; MOUNTS+=("$r/dev")
  mount -t proc proc "$r/proc"; MOUNTS+=("$r/proc")
  mount --bind "$WORK/wheels" "$r/tmp/wheels" 2>/dev/null || { mkdir -p "$r/tmp/wheels"; mount --bind "$WORK/wheels" "$r/tmp/wheels"; }
  MOUNTS+=("$r/tmp/wheels")
  write_poetry_project "$r"
  find "$r/app" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
  net_in "$r" "python3 -m venv --without-pip /opt/poetry && /opt/poetry/bin/python $PIP_WHEEL/pip install -q poetry==$POETRY_VERSION && cd /app && /opt/poetry/bin/poetry install --no-interaction --no-ansi"
  net_in "$r" "/opt/poetry/bin/python $PIP_WHEEL/pip freeze --path /opt/poetry/lib/python3.11/site-packages" > "$WORK/poetry-freeze.txt"
  cleanup
  touch "$POETRY_BUILDER/.done"
}
s_poetry_copy_app() { build_poetry_builder; cp -a "$POETRY_BUILDER/rootfs/app" "$R/app"; }
s_poetry_copy_venv() { build_poetry_builder; mkdir -p "$R/app"; cp -a "$POETRY_BUILDER/rootfs/app/.venv" "$R/app/.venv"; }
s_poetry_seed() { s_poetry_copy_app; find "$R/app/.venv" -type d -name '*.dist-info' -prune -exec rm -rf {} +; }

# ---------------------------------------------------------------------------
# pip's other targets, with Debian's python3.11 and the pinned pip wheel.
# ---------------------------------------------------------------------------
I_PIP_USER="python3 $PIP_WHEEL/pip install --user --break-system-packages flake8==7.1.1"
s_pip_user() { in_image "$I_PIP_USER"; }
I_PIP_PREFIX="python3 $PIP_WHEEL/pip install --prefix=/install --break-system-packages flake8==7.1.1"
s_pip_prefix_build() { in_image "$I_PIP_PREFIX"; }
s_pip_prefix() {   # SUBDIR of /install to copy ("" = all)
  in_builder pyslim s_pip_prefix_build
  mkdir -p "$R/usr/local/$1"
  cp -a "$BR/install/$1/." "$R/usr/local/$1/"
  safe_rm "$BB"
}
s_pip_prefix_all() { s_pip_prefix ""; }
s_pip_prefix_lib() { s_pip_prefix lib; }
s_pip_prefix_bin() { s_pip_prefix bin; }
I_PIP_TARGET="python3 $PIP_WHEEL/pip install --target /opt/lib flake8==7.1.1"
s_pip_target() { in_image "$I_PIP_TARGET"; }

# pipx, in a builder with network: python3.11-venv (ensurepip, for pipx's shared
# libs venv) from Debian, pipx from PyPI; the final image copies PIPX_HOME and
# the links of PIPX_BIN_DIR.
PIPX_VERSION=1.7.1
PIPX_DEBS=(python3.11-venv python3-pip-whl python3-setuptools-whl)
PIPX_BUILDER="$WORK/pipx-builder"
build_pipx_builder() {
  [ -f "$PIPX_BUILDER/.done" ] && return
  log "pipx builder: apt-get install python3.11-venv; pip install pipx==$PIPX_VERSION; pipx install flake8"
  safe_rm "$PIPX_BUILDER"
  umoci unpack --image "$OCI:base" "$PIPX_BUILDER" >/dev/null
  local r="$PIPX_BUILDER/rootfs" p
  mkdir -p "$WORK/pipx-debs"
  for p in "${PIPX_DEBS[@]}"; do
    ls "$WORK/pipx-debs/${p}_"*.deb >/dev/null 2>&1 || ( cd "$WORK/pipx-debs" && apt-get download -qq "$p" )
    dpkg-deb -x "$WORK/pipx-debs/${p}_"*.deb "$r"
  done
  mkdir -p "$r/dev" "$r/proc" "$r/tmp/wheels"
  mount --bind /dev "$r/dev"; MOUNTS+=("$r/dev")
  mount -t proc proc "$r/proc"; MOUNTS+=("$r/proc")
  mount --bind "$WORK/wheels" "$r/tmp/wheels"; MOUNTS+=("$r/tmp/wheels")
  net_in "$r" "python3 -m venv /opt/pipx-app && /opt/pipx-app/bin/pip install -q pipx==$PIPX_VERSION && PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin PIPX_MAN_DIR=/usr/local/share/man /opt/pipx-app/bin/pipx install flake8==7.1.1"
  net_in "$r" "/opt/pipx-app/bin/pip freeze --all" > "$WORK/pipx-freeze.txt"
  cleanup
  touch "$PIPX_BUILDER/.done"
}
s_pipx() {
  build_pipx_builder
  local b="$PIPX_BUILDER/rootfs" f
  cp -a "$b/opt/pipx" "$R/opt/pipx"
  # The builder's last RUN slims PIPX_HOME the legitimate way (keeps the
  # committed layer small: pipx's shared venv is pip 26 + setuptools 66).
  find "$R/opt/pipx" -name __pycache__ -prune -exec rm -rf {} +
  for f in "$b"/usr/local/bin/*; do cp -a "$f" "$R/usr/local/bin/"; done
}
s_pipx_slim_all() { s_distinfo_rm /opt/pipx; }
s_rm_venv_python() { rm "$R/opt/venv/bin/python"; }

tool_step() {   # FROM TO CREATED_BY FN: a step whose FN runs with the tools mounted
  local fn=$4
  eval "_ts_$fn() { with_tools $fn; }"
  step "$1" "$2" "$3" "_ts_$fn"
}

cmd_config() {   # TAG ENTRY...: CMD only
  local tag=$1; shift
  local json; json=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
  local args=() a
  for a in "$@"; do args+=(--config.cmd "$a"); done
  config "$tag" "CMD $json" --clear config.cmd "${args[@]}"
}

SCENARIOS=()
build_installer_scenarios() {
  write_uv_project
  # 1. uv venv + uv pip install
  tool_step base uv-venv "$UV_RUN uv venv /opt/venv --python /usr/bin/python3.11 && VIRTUAL_ENV=/opt/venv uv pip install flake8==7.1.1" s_uv_venv
  venv_config uv-venv /opt/venv /opt/venv/bin/flake8 --help
  step uv-venv uv-venv-dist-info-deleted "RUN find /opt/venv -name '*.dist-info' -exec rm -rf {} +" s_uv_venv_slim
  # 2. uv sync: the project installed editable (PEP 660), then its source deleted
  step base uv-sync "COPY hello-uv /app" s_copy_uv_project
  tool_step uv-sync uv-sync "$UV_RUN cd /app && uv sync --python /usr/bin/python3.11" s_uv_sync
  venv_config uv-sync /app/.venv /app/.venv/bin/hello-uv --help
  step uv-sync uv-sync-src-deleted "RUN rm -rf /app/src" s_rm_src
  # 3. uv sync --no-editable in a builder, COPY --from=builder /app/.venv /app/.venv
  step base uv-sync-no-editable "COPY --from=builder /app/.venv /app/.venv" s_uv_sync_ne
  venv_config uv-sync-no-editable /app/.venv /app/.venv/bin/hello-uv --help
  # 4. uv venv --relocatable
  tool_step base uv-relocatable "$UV_RUN uv venv --relocatable /opt/venv --python /usr/bin/python3.11 && VIRTUAL_ENV=/opt/venv uv pip install flake8==7.1.1" s_uv_reloc
  venv_config uv-relocatable /opt/venv /opt/venv/bin/flake8 --help
  # 5. uv tool install: tool venvs under UV_TOOL_DIR, symlinks in UV_TOOL_BIN_DIR
  tool_step base uv-tool "$UV_RUN UV_TOOL_DIR=/opt/uv/tools UV_TOOL_BIN_DIR=/usr/local/bin uv tool install --python /usr/bin/python3.11 flake8==7.1.1" s_uv_tool
  cmd_config uv-tool flake8 --help
  step uv-tool uv-tool-dist-info-deleted "RUN find /opt/uv/tools -name '*.dist-info' -exec rm -rf {} +" s_uv_tool_slim
  # 6. uv pip install --system (Debian's python: /usr/local/lib/python3.11/dist-packages)
  tool_step base uv-system "$UV_RUN uv pip install --system --break-system-packages flake8==7.1.1" s_uv_system
  cmd_config uv-system flake8 --help
  # 7. poetry, multi-stage: the whole /app (in-project .venv + source), only the
  #    .venv (the project's own launcher loses its source), and the seed incident.
  step base poetry "COPY --from=builder /app /app # builder: pip install poetry==$POETRY_VERSION; COPY . /app; POETRY_VIRTUALENVS_IN_PROJECT=true poetry install" s_poetry_copy_app
  venv_config poetry /app/.venv /app/.venv/bin/hello-poetry --help
  step base poetry-venv-only "COPY --from=builder /app/.venv /app/.venv # builder as for poetry" s_poetry_copy_venv
  venv_config poetry-venv-only /app/.venv /app/.venv/bin/hello-poetry --help
  step base poetry-seed-incident "COPY --from=builder /app /app # builder: poetry install && find /app/.venv -type d -name \"*.dist-info\" -exec rm -rf {} +" s_poetry_seed
  venv_config poetry-seed-incident /app/.venv /app/.venv/bin/hello-poetry --help
  # 8. pip --user as root (HOME=/root): ~/.local/bin and the user site
  step base pip-user "$RUN_PREFIX $I_PIP_USER" s_pip_user
  config pip-user "ENV PATH=/root/.local/bin:$BASE_PATH" --config.env "PATH=/root/.local/bin:$BASE_PATH"
  cmd_config pip-user flake8 --help
  # 9. pip install --prefix=/install in a builder, COPY --from=builder /install /usr/local
  #    (the python:slim pattern), and the twins that copy only lib/ or only bin/.
  #    On a python:slim-like CPython under /usr/local (the main fixtures' usr-local
  #    layer, rebuilt by its own function): Debian's python3.11 would write
  #    /install/local/lib/python3.11/dist-packages (its posix_local scheme), which
  #    the COPY turns into /usr/local/local/...: not a layout anyone keeps.
  step base pyslim "RUN cp /usr/bin/python3.11 /usr/local/bin/ && ln -s python3.11 /usr/local/bin/python3 && ln -s python3 /usr/local/bin/python && mkdir -p /usr/local/lib/python3.11/site-packages && ln -s site-packages /usr/local/lib/python3.11/dist-packages && ln -s /usr/lib/python3.11/* /usr/local/lib/python3.11/ # CPython-like /usr/local from Debian's python3.11 (as testdata/images/oci:usr-local)" s_usrlocal_python
  step pyslim pip-prefix-copy "COPY --from=builder /install /usr/local # builder: $I_PIP_PREFIX" s_pip_prefix_all
  cmd_config pip-prefix-copy flake8 --help
  step pyslim pip-prefix-copy-lib-only "COPY --from=builder /install/lib /usr/local/lib # builder: $I_PIP_PREFIX" s_pip_prefix_lib
  cmd_config pip-prefix-copy-lib-only flake8 --help
  step pyslim pip-prefix-copy-bin-only "COPY --from=builder /install/bin /usr/local/bin # builder: $I_PIP_PREFIX" s_pip_prefix_bin
  cmd_config pip-prefix-copy-bin-only flake8 --help
  # 10. pip install --target /opt/lib with ENV PYTHONPATH=/opt/lib, and the same
  #     image without the PYTHONPATH (a config-only twin: same layers)
  step base pip-target-pythonpath "$RUN_PREFIX $I_PIP_TARGET" s_pip_target
  cmd_config pip-target-pythonpath /opt/lib/bin/flake8 --help
  tick
  umoci config --image "$OCI:pip-target-pythonpath" --tag pip-target-no-pythonpath --created "$TS" \
    --history.created "$TS" --history.created_by "CMD [\"/opt/lib/bin/flake8\", \"--help\"]  # no PYTHONPATH"
  config pip-target-pythonpath "ENV PYTHONPATH=/opt/lib" --config.env PYTHONPATH=/opt/lib
  # 11. pipx: PIPX_HOME=/opt/pipx (tool venvs + the shared pip venv, linked by
  #     pipx_shared.pth), launchers as symlinks in PIPX_BIN_DIR=/usr/local/bin.
  step base pipx "COPY --from=builder /opt/pipx /opt/pipx && COPY --from=builder /usr/local/bin /usr/local/bin # builder: apt-get install python3.11-venv && pip install pipx==$PIPX_VERSION && PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install flake8==7.1.1 && find /opt/pipx -name __pycache__ -prune -exec rm -rf {} +" s_pipx
  cmd_config pipx flake8 --help
  step pipx pipx-dist-info-deleted "RUN find /opt/pipx -name '*.dist-info' -exec rm -rf {} +" s_pipx_slim_all
  # 12. slimming: bin/python deleted from a (uv) venv
  step uv-venv uv-venv-python-deleted "RUN rm /opt/venv/bin/python" s_rm_venv_python
  build_installer_scenarios_names
}

# ---------------------------------------------------------------------------
# Runtime truth. Launchers are every file, or symlink to a file, with a Python
# (or /bin/sh polyglot) shebang in: each venv's bin dir (found by pyvenv.cfg),
# /usr/local/bin, /usr/bin, ~/.local/bin of root, and every PATH dir of the
# image config. Each is run with --help; its entry point is looked up with
# importlib.metadata by the interpreter that runs it; flake8 also lints a file.
# ---------------------------------------------------------------------------
INSTALLER_TRUTH_PY='
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

# USER of the config: run as that user, with HOME from /etc/passwd in the image
# when the config sets none (what docker run does).
USERSPEC, home = [], "/root"
user = (cfg.get("User") or "").split(":")[0]
if user and user not in ("root", "0"):
    for line in open(os.path.join(root, "etc/passwd")):
        f = line.rstrip("\n").split(":")
        if len(f) >= 6 and (f[0] == user or f[2] == user):
            USERSPEC, home = ["--userspec=" + f[2] + ":" + f[3]], f[5]
            break
env.setdefault("HOME", home)

def run(argv, stdin=b""):
    try:
        p = subprocess.run(["chroot", *USERSPEC, root, *argv], env=env, capture_output=True,
                           input=stdin, timeout=20, cwd=root)
        code, so, se = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        code, so, se = "timeout", e.stdout or b"", e.stderr or b""
    return code, so.decode("utf-8", "replace"), se.decode("utf-8", "replace")

def tail(s, n=3):
    return "\n".join(s.rstrip("\n").splitlines()[-n:])

def head(s):
    lines = s.strip("\n").splitlines()
    return lines[0] if lines else ""

def host(p):
    return os.path.join(root, p.lstrip("/"))

def resolve(p, hops=40):  # image path -> image path, symlinks resolved inside the root
    parts, done = [x for x in p.split("/") if x], []
    while parts and hops:
        x = parts.pop(0)
        if x == "..":
            done = done[:-1]; continue
        if x == ".": continue
        cur = "/" + "/".join(done + [x])
        if os.path.islink(host(cur)):
            hops -= 1
            t = os.readlink(host(cur))
            if t.startswith("/"): done = []
            parts = [y for y in t.split("/") if y] + parts
        else:
            done.append(x)
    return "/" + "/".join(done)

def kind(text):
    if "EASY-INSTALL-ENTRY-SCRIPT" in text: return "setuptools-entry-script"
    if text.startswith("#!/bin/sh") and "\x27\x27\x27exec\x27" in text: return "pip-sh-polyglot"
    if re.search(r"^\s*from \S+ import \S+$", text, re.M) and "sys.exit(" in text: return "pip"
    return "script"

def interpreter_of(real, text):
    first = text.split("\n", 1)[0]
    if first.startswith("#!/bin/sh"):
        m = re.search(r"exec\x27 \"\$\(dirname -- \"\$\(realpath -- \"\$0\"\)\"\)\"/\x27([^\x27]+)\x27", text)
        if m: return os.path.dirname(real) + "/" + m.group(1)
        m = re.search(r"exec\x27 [\"\x27]([^\"\x27]+)[\"\x27]", text)
        return m.group(1) if m else None
    return first[2:].strip().split()[0]

def launchers(bindir):
    found = []
    d = host(bindir)
    if not os.path.isdir(d): return found
    for name in sorted(os.listdir(d)):
        path = bindir.rstrip("/") + "/" + name
        real = resolve(path)
        if not os.path.isfile(host(real)) or os.path.islink(host(real)): continue
        st = os.stat(host(real))
        with open(host(real), "rb") as f: text = f.read(4096).decode("utf-8", "replace")
        first = text.split("\n", 1)[0]
        if not first.startswith("#!"): continue
        polyglot = first.startswith("#!/bin/sh") and "\x27\x27\x27exec\x27" in text
        if "python" not in first and not polyglot: continue
        found.append({"path": path, "real": real, "kind": kind(text),
                      "x": bool(st.st_mode & 0o111), "python": interpreter_of(real, text)})
    return found

EP_PROBE = ("import importlib.metadata as m, sys; "
            "eps = [e.value for g in (\x27console_scripts\x27, \x27gui_scripts\x27) "
            "for e in m.entry_points(group=g) if e.name == sys.argv[1]]; "
            "print(eps[0] if eps else \x27\x27); sys.exit(0 if eps else 1)")
LIST_DISTS = ("import importlib.metadata as m, json; "
              "print(json.dumps(sorted(f\"{d.metadata[\x27Name\x27]}=={d.version}\" "
              "for d in m.distributions())))")

# Environments: every venv (pyvenv.cfg), and the image interpreter /usr/bin/python3.
envs = []
for top in ("opt", "app", "srv", "root", "home", "usr/local/share"):
    for dp, dns, fns in os.walk(host("/" + top)):
        if "pyvenv.cfg" in fns:
            prefix = "/" + os.path.relpath(dp, root)
            envs.append({"kind": "venv", "prefix": prefix, "python": prefix + "/bin/python",
                         "bin": prefix + "/bin"})
            dns[:] = []
if os.path.lexists(host("/usr/local/bin/python3")):
    envs.append({"kind": "usr-local", "prefix": "/usr/local", "python": "/usr/local/bin/python3",
                 "bin": "/usr/local/bin"})
envs.append({"kind": "debian-system", "prefix": "/usr", "python": "/usr/bin/python3", "bin": "/usr/bin"})
bindirs = [e["bin"] for e in envs] + ["/usr/local/bin", env.get("HOME", "/root") + "/.local/bin"]
for d in env.get("PATH", "").split(":"):
    if d.startswith("/") and d not in bindirs: bindirs.append(d)
# pip install --target DIR: scripts in DIR/bin
for d in env.get("PYTHONPATH", "").split(":"):
    if d.startswith("/") and d + "/bin" not in bindirs: bindirs.append(d + "/bin")

LAUNCHERS_EXTRA = []
result = {"tag": tag,
          "image": {"Env": cfg.get("Env", []), "Entrypoint": cfg.get("Entrypoint"), "Cmd": cfg.get("Cmd")},
          "envs": [], "launchers": []}
for e in envs:
    code, so, se = run([e["python"], pip_wheel + "/pip", "check"])
    e["pip_check"] = {"argv": [e["python"], pip_wheel + "/pip", "check"],
                      "via": "pip run from its wheel", "exit": code, "output": (so + se).strip()}
    code, so, se = run([e["python"], "-c", LIST_DISTS])
    e["distributions"] = json.loads(so) if code == 0 else {"exit": code, "stderr_tail": tail(se)}
    result["envs"].append(e)
seen, seen_dirs = set(), set()
# The command of the image, wherever it lives (on no PATH, in no bin dir).
argv0 = ((cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or []) + [""])[0]
start_launchers = []
if argv0.startswith("/"):
    start_launchers = [l for l in launchers(os.path.dirname(argv0))
                       if l["path"] == argv0]
for b in bindirs + ["<start>"]:
    if b == "<start>":
        for l in start_launchers:
            if l["path"] not in seen:
                LAUNCHERS_EXTRA.append(l)
        continue
    if resolve(b) in seen_dirs: continue          # /bin is /usr/bin in merged /usr
    seen_dirs.add(resolve(b))
    for l in launchers(b):
        LAUNCHERS_EXTRA.append(l)
for l in LAUNCHERS_EXTRA:
        if l["path"] in seen: continue
        seen.add(l["path"])
        code, so, se = run([l["path"], "--help"])
        entry = {"path": l["path"], "kind": l["kind"], "exit": code,
                 "stderr_tail": tail(se), "stdout_first_line": head(so)}
        if l["real"] != l["path"]:
            entry["symlink_to"] = l["real"]
        if not l["x"]:
            entry["executable"] = False
        # A launcher reached through a symlink is its target: the entry point is
        # looked up by the name the installer wrote, the target file name.
        name = os.path.basename(l["real"])
        py = l["python"]
        if py and os.path.exists(host(resolve(py))):
            code, so, se = run([py, "-c", EP_PROBE, name])
            entry["entry_point_probe"] = {"argv": [py, "-c", "<importlib.metadata console_scripts lookup>", name],
                                          "exit": code, "value": so.strip(), "stderr_tail": tail(se)}
        if os.path.basename(l["path"]) == "flake8":
            code, so, se = run([l["path"], "-"], stdin=b"import os\n")
            entry["flake8_lint_probe"] = {"argv": [l["path"], "-"], "stdin": "import os\n", "exit": code,
                                          "stdout": so.strip(), "stderr_tail": tail(se)}
        result["launchers"].append(entry)
argv = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
if argv:
    code, so, se = run(argv)
    result["entrypoint"] = {"argv": argv, "exit": code, "stderr_tail": tail(se),
                            "stdout_first_line": head(so)}
with open(out, "w") as f:
    json.dump(result, f, indent=2, sort_keys=False)
    f.write("\n")
'

record_installer_truth() {
  local tag=$1
  log "truth: $tag"
  open "$tag"
  mount_image_fs "$R"
  "$HOSTPY" -c "$INSTALLER_TRUTH_PY" "$R" "$tag" "$OCI" "$TRUTH/$tag.json" "$PIP_WHEEL"
  cleanup
  safe_rm "$B"
}

write_installer_build_info() {
  "$HOSTPY" - "$1" "$CREATED" "$CONSTRAINTS" "$UV_VERSION" "$(umoci --version)" \
    "$(skopeo --version)" "${EXTRA_PINS[*]}" "$WORK/poetry-freeze.txt" "${SCENARIOS[@]}" <<'EOF'
import json, os, sys
out, created, cons, uv, umoci_v, skopeo_v, extra, poetry_freeze, *tags = sys.argv[1:]
info = {"created": created, "base": "tag `base` of testdata/images/oci (same blobs)",
        "pypi_pins": [l for l in cons.splitlines() if l.strip()] + extra.split(),
        "tools": {"uv": uv + " (PyPI wheel, musllinux_1_1_x86_64 static binary)",
                  "poetry (builder stage, pip freeze)": open(poetry_freeze).read().split() if os.path.exists(poetry_freeze) else None,
                  "pipx (builder stage, pip freeze)": open(poetry_freeze.replace("poetry-freeze", "pipx-freeze")).read().split() if os.path.exists(poetry_freeze.replace("poetry-freeze", "pipx-freeze")) else None,
                  "pip": "24.0 (wheel run by the image's python3.11)"},
        "umoci": umoci_v, "skopeo": skopeo_v, "tags": ["base"] + tags}
with open(out, "w") as fh:
    json.dump(info, fh, indent=2); fh.write("\n")
EOF
}

installer_main() {
  mkdir -p "$WORK"
  [ -d "$WORK/wheels" ] || fetch_wheels
  fetch_extra_wheels
  fetch_tools
  write_uv_config
  if [ "${1:-}" = truth ]; then
    OCI=$OCI_FINAL
    build_installer_scenarios_names
  else
    safe_rm "$OCI" "$TRUTH"; STAGED+=("$OCI" "$TRUTH")
    log "base: copied from $SRC_OCI (same blobs)"
    skopeo copy -q "oci:$SRC_OCI:base" "oci:$OCI:base"
    build_installer_scenarios
    umoci gc --layout "$OCI"
    recompress_layers
  fi
  safe_rm "$TRUTH"; mkdir -p "$TRUTH"; STAGED+=("$TRUTH")
  local t
  for t in "${SCENARIOS[@]}"; do record_installer_truth "$t"; done
  if [ "${1:-}" != truth ]; then
    write_installer_build_info "$BUILD_INFO"
    swap_in "$OCI" "$OCI_FINAL"
  fi
  mkdir -p "$(dirname "$TRUTH_FINAL")"
  swap_in "$TRUTH" "$TRUTH_FINAL"
  STAGED=()
  log "done"
  du -sh "$OCI_FINAL" "$TRUTH_FINAL"
}
build_installer_scenarios_names() {
  SCENARIOS=(uv-venv uv-venv-dist-info-deleted uv-sync uv-sync-src-deleted uv-sync-no-editable
    uv-relocatable uv-tool uv-tool-dist-info-deleted uv-system
    poetry poetry-venv-only poetry-seed-incident
    pip-user pyslim pip-prefix-copy pip-prefix-copy-lib-only pip-prefix-copy-bin-only
    pip-target-pythonpath pip-target-no-pythonpath
    pipx pipx-dist-info-deleted uv-venv-python-deleted)
}

installer_main "$@"
