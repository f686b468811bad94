#!/usr/bin/env bash
# The real registries imgaudit's registry tests run against: Debian's `docker-registry`
# (CNCF distribution 2.8) on loopback, in three set-ups, plus the token server of the third.
#
#   127.0.0.1:5000  plain HTTP, no auth                          (dir plain/)
#   127.0.0.1:5001  TLS (throwaway CA: ca.crt) + htpasswd Basic   (dir tls/)
#   127.0.0.1:5002  plain HTTP + `auth: token`, realm below       (dir token/)
#   127.0.0.1:5003  token server (tests/registry/token_server.py) (dir token/)
#
# User `alice`, password `wonderland` on 5001 and 5002; on 5002 anonymous clients may pull
# repositories under `public/`. Each registry's access log is `DIR/registry.log` (the tests
# count requests there). State lives in $IMGAUDIT_REGISTRY_DIR (default target/registry).
#
# Usage: scripts/registry.sh start|stop|status     (start is idempotent; run by setup.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${IMGAUDIT_REGISTRY_DIR:-$ROOT/target/registry}
BIN=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
PY=/usr/bin/python3


wait_up() { # PORT NAME
  for _ in $(seq 1 100); do
    if $PY -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), timeout=1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "registry.sh: $2 did not start on port $1; its log:" >&2
  tail -20 "$DIR/$2/registry.log" >&2 || true
  return 1
}

port_open() {
  $PY -c "import socket; socket.create_connection(('127.0.0.1', $1), timeout=1)" 2>/dev/null
}

config() { # NAME PORT EXTRA-YAML
  mkdir -p "$DIR/$1/data"
  cat >"$DIR/$1/config.yml" <<YAML
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $DIR/$1/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$2
  secret: imgaudit-test-secret
$3
YAML
}

launch() { # NAME PORT
  if port_open "$2"; then
    echo "registry.sh: $1 already listening on 127.0.0.1:$2" >&2
    return 0
  fi
  setsid nohup "$BIN" serve "$DIR/$1/config.yml" >>"$DIR/$1/registry.log" 2>&1 </dev/null &
  echo $! >"$DIR/$1/pid"
  wait_up "$2" "$1"
}

# Test registries this state dir did not start (another checkout of imgaudit, or one
# whose directory was deleted while they ran) hold our ports with another CA, other
# credentials files and another access log: every registry test would then fail
# obscurely (x509 "unknown authority", "no access log"). Stop them; ours start next.
stop_foreign() {
  # Ours are the processes our pid files name (a checkout deleted and cloned again
  # at the same path has the same paths but no pid files: not ours).
  local pid cmd stopped=0 ours=" "
  for f in "$DIR"/*/pid "$DIR"/token/token-server.pid; do
    [ -f "$f" ] && ours+="$(cat "$f") "
  done
  for pid in $(pgrep -f 'docker-registry serve .*/(plain|tls|token)/config\.yml|tests/registry/token_server\.py' || true); do
    [[ $ours == *" $pid "* ]] && continue
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    echo "registry.sh: stopping a test registry this state dir did not start: $cmd" >&2
    kill "$pid" 2>/dev/null || true; stopped=1
  done
  if [ "$stopped" = 1 ]; then
    for _ in $(seq 1 50); do
      port_open 5000 || port_open 5001 || port_open 5002 || port_open 5003 || break
      sleep 0.1
    done
  fi
}

start() {
  command -v "$BIN" >/dev/null || { echo "registry.sh: $BIN missing (apt-get install docker-registry)" >&2; exit 1; }
  mkdir -p "$DIR"

  # Throwaway CA and a server certificate for 127.0.0.1/localhost, and the token
  # signing key (self-signed; it is its own root in the registry's bundle).
  if [ ! -f "$DIR/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=imgaudit test CA" \
      -keyout "$DIR/ca.key" -out "$DIR/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$DIR/server.ext"
    openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
      -CAcreateserial -days 3650 -extfile "$DIR/server.ext" -out "$DIR/server.crt" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=imgaudit token issuer" \
      -keyout "$DIR/token.key" -out "$DIR/token.crt" 2>/dev/null
  fi
  [ -f "$DIR/htpasswd" ] || htpasswd -Bbn alice wonderland >"$DIR/htpasswd" 2>/dev/null \
    || $PY - "$DIR/htpasswd" <<'PY'
import sys, crypt
open(sys.argv[1], "w").write("alice:" + crypt.crypt("wonderland", crypt.mksalt(crypt.METHOD_BLOWFISH)) + "\n")
PY

  config plain 5000 ""
  config tls 5001 "  tls:
    certificate: $DIR/server.crt
    key: $DIR/server.key
auth:
  htpasswd:
    realm: imgaudit-test
    path: $DIR/htpasswd"
  config token 5002 "auth:
  token:
    realm: http://127.0.0.1:5003/token
    service: imgaudit-test
    issuer: imgaudit-test-issuer
    rootcertbundle: $DIR/token.crt"

  # Debian's own docker-registry service (its package starts it where an init
  # system runs) holds :5000 with htpasswd auth: it is not ours, stop it.
  if [ ! -f "$DIR/plain/pid" ] && pgrep -f "docker-registry serve /etc/docker/registry/config.yml" >/dev/null; then
    echo "registry.sh: stopping Debian's docker-registry service (it holds :5000)" >&2
    (service docker-registry stop || pkill -f "docker-registry serve /etc/docker/registry/config.yml") >/dev/null 2>&1 || true
    sleep 1
  fi
  stop_foreign
  launch plain 5000
  launch tls 5001
  launch token 5002
  # Something else on 5000 (Debian's own docker-registry service, started by
  # its package on a machine with an init system, asks for htpasswd auth)
  # would fail every test obscurely: check the plain one is ours.
  if ! $PY -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/v2/', timeout=5)" 2>/dev/null; then
    echo "registry.sh: 127.0.0.1:5000 answers, but not as an open registry: stop what listens there (e.g. 'service docker-registry stop') and run again" >&2
    exit 1
  fi
  if ! port_open 5003; then
    setsid nohup $PY "$ROOT/tests/registry/token_server.py" 5003 "$DIR/token.key" "$DIR/token.crt" \
      imgaudit-test-issuer imgaudit-test "$DIR/token/token.log" \
      >>"$DIR/token/token-server.err" 2>&1 </dev/null &
    echo $! >"$DIR/token/token-server.pid"
    wait_up 5003 token
  fi
  echo "registry.sh: registries up on 127.0.0.1:5000 (http), :5001 (tls+basic), :5002 (token, realm :5003); state in $DIR" >&2
}

stop() {
  for f in "$DIR"/*/pid "$DIR"/token/token-server.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) for p in 5000 5001 5002 5003; do port_open $p && echo "$p up" || echo "$p down"; done ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
