#!/usr/bin/env python3
"""A small Docker token server for imgaudit's registry tests (distribution's `auth: token`).

Implements the two token endpoints of the Docker Registry v2 token spec on one URL:

  GET  /token?service=S&scope=repository:NAME:pull[,push]   anonymous or `Authorization: Basic`
  POST /token  (form: grant_type=password|refresh_token, ...) the OAuth2 flow that
                                                              `identitytoken` logins use

Anonymous requests get `pull` on repositories under `public/` only; user `alice` with password
`wonderland` gets everything asked; a refresh token (an `identitytoken`) stands for alice. A wrong
password answers 401. Tokens are RS256 JWTs carrying the signing certificate in `x5c`, which the
registry checks against its `rootcertbundle` (the same self-signed certificate).

Signing uses the `openssl` command line (Python's stdlib has no RSA), so the server needs nothing
beyond Debian's python3 and openssl. Every request is appended to the log file as one JSON line
(method, path, query, whether it carried credentials) for the tests to count.

Usage: token_server.py PORT KEY.pem CERT.pem ISSUER SERVICE LOGFILE
"""
import base64
import json
import subprocess
import sys
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, KEY, CERT, ISSUER, SERVICE, LOG = sys.argv[1:7]
USERS = {"alice": "wonderland"}
REFRESH = {"refresh-alice-0001": "alice"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der() -> bytes:
    pem = open(CERT).read()
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return base64.b64decode(body)


X5C = base64.b64encode(cert_der()).decode()


def sign(claims: dict) -> str:
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", KEY],
        input=signing_input.encode(), capture_output=True, check=True,
    ).stdout
    return signing_input + "." + b64url(sig)


def access_for(user, scopes):
    out = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) < 3 or parts[0] != "repository":
            continue
        name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
        if user is None:
            actions = [a for a in actions if a == "pull" and name.startswith("public/")]
        if actions:
            out.append({"type": "repository", "name": name, "actions": actions})
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, **kw):
        with open(LOG, "a") as f:
            f.write(json.dumps(kw) + "\n")

    def answer(self, code, body: dict):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if code == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="token"')
        self.end_headers()
        self.wfile.write(data)

    def issue(self, user, scopes, with_refresh=False):
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()),
            "access": access_for(user, scopes),
        }
        token = sign(claims)
        body = {"token": token, "access_token": token, "expires_in": 300}
        if with_refresh and user:
            body["refresh_token"] = next(k for k, v in REFRESH.items() if v == user)
        return body

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        self.record(method="GET", path=url.path, query=q, authorization=auth.split(" ")[0] or None)
        if url.path != "/token":
            return self.answer(404, {"error": "not found"})
        user = None
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return self.answer(400, {"error": "bad basic"})
            if USERS.get(u) != p:
                return self.answer(401, {"error": "wrong username or password"})
            user = u
        self.answer(200, self.issue(user, q.get("scope", [])))

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        n = int(self.headers.get("Content-Length", "0") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        grant = form.get("grant_type", [""])[0]
        self.record(method="POST", path=url.path, grant_type=grant)
        scopes = " ".join(form.get("scope", [])).split()
        if grant == "password":
            u, p = form.get("username", [""])[0], form.get("password", [""])[0]
            if USERS.get(u) != p:
                return self.answer(401, {"error": "wrong username or password"})
            return self.answer(200, self.issue(u, scopes, with_refresh=True))
        if grant == "refresh_token":
            user = REFRESH.get(form.get("refresh_token", [""])[0])
            if user is None:
                return self.answer(401, {"error": "invalid refresh token"})
            return self.answer(200, self.issue(user, scopes, with_refresh=True))
        self.answer(400, {"error": "unsupported grant_type"})


ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
