#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/seed-* from the real
files in testdata/ and from small generated layers and image layouts.
Idempotent; run from anywhere: python3 fuzz/make-seeds.py"""
import gzip, hashlib, io, json, os, pathlib, struct, sys, tarfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = ROOT / "testdata" / "python"
CORPUS = ROOT / "fuzz" / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data)


def slug(p):
    return str(p.relative_to(ROOT / "testdata")).replace("/", "_")


for f in sorted(PY.rglob("*")):
    if not f.is_file() or f.name in ("README.md", ".gitattributes"):
        continue
    data = f.read_bytes()
    if f.name in ("METADATA", "PKG-INFO"):
        put("metadata", slug(f), data)
        reqs = [l.split(":", 1)[1].strip() for l in data.decode("utf-8", "replace").splitlines()
                if l.startswith("Requires-Dist:")]
        for i, r in enumerate(reqs[:4]):
            put("markers", f"{slug(f)}-{i}", f"3.11 amd64\n{r}".encode())
    elif f.name == "RECORD":
        put("record", slug(f), data)
    elif f.name == "entry_points.txt":
        put("entry_points", slug(f), data)
    elif f.name in ("requires.txt", "installed-files.txt"):
        put("egg_info", slug(f), data)
    elif f.parent.name == "pyvenv":
        put("pyvenv", slug(f), data)
    elif f.parent.name == "launchers":
        put("launcher", slug(f), data[:4096])
for f in sorted((ROOT / "testdata" / "config").glob("*.toml")):
    put("config", f.name, f.read_bytes())
put("config", "cli-forms", b"10MiB\n")


def tar(members):
    """members: (name, type, payload) with type file/dir/symlink/hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload in members:
            ti = tarfile.TarInfo(name)
            ti.mode = 0o755
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, payload
                t.addfile(ti)
            else:
                ti.size = len(payload)
                t.addfile(ti, io.BytesIO(payload))
    return buf.getvalue()


SITE = "usr/lib/python3.11/site-packages"
DI = f"{SITE}/tiny_cli-1.0.dist-info"
tiny = PY / "dist-info" / "tiny_cli-1.0-installer"
base = tar([
    ("/", "dir", None),
    ("usr/bin/python3.11", "file", b"\x7fELF" + b"\0" * 60),
    ("usr/bin/python3", "symlink", "python3.11"),
    ("usr/bin/tiny", "file", (PY / "launchers" / "installer-tiny-obj").read_bytes()[:2048]),
    (f"{DI}/METADATA", "file", (tiny / "METADATA").read_bytes()),
    (f"{DI}/RECORD", "file", (tiny / "RECORD").read_bytes()),
    (f"{DI}/entry_points.txt", "file", (tiny / "entry_points.txt").read_bytes()),
    (f"{SITE}/tiny_cli/__init__.py", "file", b"def main(): pass\n"),
    ("opt/venv/pyvenv.cfg", "file", (PY / "pyvenv" / "venv.cfg").read_bytes()),
    ("opt/venv/bin/python", "symlink", "/usr/bin/python3"),
])
upper = tar([
    (f"{SITE}/tiny_cli/.wh.__init__.py", "file", b""),
    ("opt/venv/.wh..wh..opq", "file", b""),
    ("usr/bin/tiny2", "hardlink", "usr/bin/tiny"),
    ("/abs-name", "file", b"x"),
])
put("layer", "plain", b"\x00" + base)
put("layer", "gzip", b"\x01" + base)
put("layer", "whiteouts", b"\x02" + upper)
put("layer", "gzip-file", b"\x00" + gzip.compress(upper, mtime=0))
put("overlay", "two", base + b"\n--LAYER--\n" + upper)
put("overlay", "three", base + b"\n--LAYER--\n" + upper + b"\n--LAYER--\n" + tar([("usr/bin", "file", b"")]))
# The whole audit takes the overlay's input (its runs also read the overlay corpus).
put("audit", "two", base + b"\n--LAYER--\n" + upper)
put("audit", "three", base + b"\n--LAYER--\n" + upper + b"\n--LAYER--\n" + tar([("usr/bin", "file", b"")]))

# Image layouts: config, layer and manifest are blobs named by digest.
def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

layer = upper
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin"], "Entrypoint": ["tiny"]},
    "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    "history": [{"created_by": "COPY . /"}],
}).encode()
docker = json.dumps([{
    "Config": "blobs/sha256/" + digest(config)[7:],
    "RepoTags": ["tiny:latest"],
    "Layers": ["blobs/sha256/" + digest(layer)[7:]],
}]).encode()
SEP = b"\n--BLOB--\n"
put("source", "docker", b"\x00" + docker + SEP + config + SEP + layer)
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": digest(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest(layer), "size": len(layer)}],
}).encode()
index = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": digest(manifest), "size": len(manifest),
                   "platform": {"os": "linux", "architecture": "amd64"},
                   "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
}).encode()
put("source", "oci", b"\x05" + index + SEP + manifest + SEP + config + SEP + layer)
nested = json.dumps({
    "schemaVersion": 2,
    "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                   "digest": digest(index), "size": len(index)}],
}).encode()
put("source", "nested-index", b"\x01" + nested + SEP + index + SEP + manifest + SEP + config + SEP + layer)
# Selected by digest (bit 3: part 1's), untagged as cosign leaves an image:
# a manifest the index lists, an index nested in one.
untagged = json.loads(index)
del untagged["manifests"][0]["annotations"]
untagged = json.dumps(untagged).encode()
put("source", "oci-by-digest", b"\x09" + untagged + SEP + manifest + SEP + config + SEP + layer)
put("source", "nested-by-digest", b"\x09" + nested + SEP + untagged + SEP + manifest + SEP + config + SEP + layer)
# The archive gzip-compressed (bit 4), as `docker save | gzip` writes it.
put("source", "docker-gzip", b"\x10" + docker + SEP + config + SEP + layer)


# ELF files as the loader sees them: generated, small (a few hundred bytes)
# so the fuzzer mutates the structures, not padding. Both classes, both byte
# orders, an executable with PT_INTERP, a static one (no PT_DYNAMIC), and a
# patchelf-style file whose .dynstr sits after .dynamic in a second PT_LOAD.
sys.path.insert(0, str(ROOT / "fuzz"))
from seedlib import elf  # noqa: E402


# The first two bytes pick the chunk sizes the stream is fed in.
for name, chunks, f in [
    ("dso-x86_64", b"\x00\x40", elf(needed=("libm.so.6", "libc.so.6"), soname="libfoo.so.1",
                                    runpath="$ORIGIN/../lib")),
    ("exec-x86_64", b"\x10\x00", elf(etype=2, interp="/lib64/ld-linux-x86-64.so.2",
                                     needed=("libpython3.11.so.1.0", "libc.so.6"), rpath="/opt/lib")),
    ("patchelf-aarch64", b"\x00\x07", elf(machine=183, needed=("libgfortran-040039e1.so.5.0.0",),
                                          runpath="$ORIGIN/../numpy.libs", patchelf=True)),
    ("exec-i386", b"\x00\x01", elf(c64=False, machine=3, etype=2, interp="/lib/ld-linux.so.2",
                                   needed=("libc.so.6",))),
    ("dso-s390x-be", b"\x01\x00", elf(le=False, machine=22, needed=("libz.so.1",), soname="libx.so")),
    ("static", b"\x00\x10", elf(etype=2, dynamic=False)),
]:
    put("elf", name, chunks + f)


# /etc/ld.so.cache as ldconfig writes it (glibc sysdeps/generic/dl-cache.h).
def ldcache(entries, old=False, new=True):
    """entries: (flags, soname, path)."""
    out = b""
    if old:
        strs, offs = b"", []
        for _, n, p in entries:
            offs.append((len(strs), len(strs) + len(n) + 1))
            strs += n.encode() + b"\0" + p.encode() + b"\0"
        nold = 0 if new else len(entries)
        out = b"ld.so-1.7.0\0" + struct.pack("<I", nold)
        if not new:
            for (fl, _, _), (k, v) in zip(entries, offs):
                out += struct.pack("<iII", fl, k, v)
            return out + strs
        out += b"\0" * ((-len(out)) % 8)
    hdr_len, ent = 48, 24
    strs_at = hdr_len + ent * len(entries)
    strs, table = b"", b""
    for fl, n, p in entries:
        k = strs_at + len(strs)
        strs += n.encode() + b"\0"
        v = strs_at + len(strs)
        strs += p.encode() + b"\0"
        table += struct.pack("<iIIIQ", fl, k, v, 0, 0)
    hdr = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xIIII", len(entries), len(strs), 2, 0, 0, 0, 0)
    assert len(hdr) == hdr_len, len(hdr)
    return out + hdr + table + strs


libs = [(0x0303, "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
        (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
        (0x0003, "libc.so.6", "/lib/i386-linux-gnu/libc.so.6"),
        (0x0a03, "libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3"),
        (1, "libold.so.1", "/usr/lib/libold.so.1")]
put("ldcache", "new", ldcache(libs))
put("ldcache", "old-then-new", ldcache(libs, old=True))
put("ldcache", "old-only", ldcache(libs, old=True, new=False))


# WWW-Authenticate values and references, one per line (registry target).
put("registry", "challenges", "\n".join([
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"',
    'Basic realm="Registry Realm"',
    'Basic realm="x, y", Bearer realm=https://r/t,error="invalid_token"',
    'Bearer realm="https://127.0.0.1:5003/token",service="test",scope="repository:a/b:pull,push"',
]).encode())
put("registry", "references", "\n".join([
    "registry:127.0.0.1:5000/team/app:1.2",
    "docker://ghcr.io/org/img@sha256:" + "ab" * 32,
    "localhost/x",
    "python:3.11-slim",
    "index.docker.io/library/python:latest",
    "quay.io/a/b/c:tag@sha256:" + "0f" * 32,
    "[::1]:5000/app",
]).encode())


# A registry's answers (remote target): a mode byte (bit 0: the scan's plan,
# else the image; bits 1-2: the credential, Basic, none, a registry token, an
# identity token), then `PATH\nRAW HTTP RESPONSE` parts split on
# `\n--RESPONSE--\n`; `@ADDR@` is the target's server.
def resp(status, headers=(), body=b"", reason="OK", length=None):
    head = f"HTTP/1.1 {status} {reason}\r\n"
    for k, v in headers:
        head += f"{k}: {v}\r\n"
    n = len(body) if length is None else length
    return (head + f"Content-Length: {n}\r\n\r\n").encode() + body


def remote(mode, parts):
    return bytes([mode]) + b"\n--RESPONSE--\n".join(p.encode() + b"\n" + r for p, r in parts)


OCI_M = "application/vnd.oci.image.manifest.v1+json"
OCI_I = "application/vnd.oci.image.index.v1+json"
r_layer = gzip.compress(base, mtime=0)
r_config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/opt/venv/bin:/usr/bin"], "Entrypoint": ["tiny"]},
    "rootfs": {"type": "layers", "diff_ids": [digest(base)]},
    "history": [{"created_by": "RUN pip install tiny-cli"}],
}).encode()
r_manifest = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_M,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": digest(r_config), "size": len(r_config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest(r_layer), "size": len(r_layer)}],
}).encode()
r_index = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_I,
    "manifests": [
        {"mediaType": OCI_M, "digest": digest(r_manifest), "size": len(r_manifest),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_M, "digest": digest(r_manifest), "size": len(r_manifest),
         "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    ],
}).encode()
REPO = "/v2/fuzz/app"
ping = ("/v2/", resp(200, [("Docker-Distribution-Api-Version", "registry/2.0")], b"{}"))
blobs = [
    (f"{REPO}/blobs/{digest(r_config)}", resp(200, [("Content-Type", "application/octet-stream")], r_config)),
    (f"{REPO}/blobs/{digest(r_layer)}", resp(200, [("Content-Type", "application/octet-stream")], r_layer)),
]
tagged = (f"{REPO}/manifests/latest",
          resp(200, [("Content-Type", OCI_M), ("Docker-Content-Digest", digest(r_manifest))], r_manifest))
put("remote", "image", remote(0, [ping, tagged] + blobs))
bearer = [
    ("/v2/", resp(401, [("WWW-Authenticate",
                         'Bearer realm="http://@ADDR@/token",service="fuzz",scope="repository:fuzz/app:pull"')],
                  b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')),
    ("/token", resp(200, [("Content-Type", "application/json")], b'{"token":"t1","expires_in":300}')),
    ("/token", resp(200, [("Content-Type", "application/json")], b'{"access_token":"t2"}')),
    (f"{REPO}/manifests/latest", resp(401, [("WWW-Authenticate", 'Bearer realm="http://@ADDR@/token",error="invalid_token"')])),
]
put("remote", "bearer", remote(0, bearer + [tagged] + blobs))
# The same registry, anonymous, with a `--registry-token`, and with an
# identity token from the credential files (POSTed to the realm).
put("remote", "bearer-anonymous", remote(2, bearer + [tagged] + blobs))
put("remote", "bearer-registry-token", remote(4, bearer + [tagged] + blobs))
put("remote", "bearer-identity-token", remote(6, bearer + [tagged] + blobs))
put("remote", "basic", remote(0, [("/v2/", resp(401, [("WWW-Authenticate", 'Basic realm="fuzz"')])), tagged] + blobs))
put("remote", "index", remote(0, [
    ping,
    (f"{REPO}/manifests/latest", resp(200, [("Content-Type", OCI_I)], r_index)),
    (f"{REPO}/manifests/{digest(r_manifest)}", resp(200, [("Content-Type", OCI_M)], r_manifest)),
] + blobs))
half = len(r_layer) // 2
put("remote", "resume-redirect-retry", remote(0, [
    ping,
    (f"{REPO}/manifests/latest", resp(503, [("Retry-After", "0")])),
    tagged,
    blobs[0],
    (f"{REPO}/blobs/{digest(r_layer)}", resp(307, [("Location", f"http://@ADDR@/cdn/layer")])),
    ("/cdn/layer", resp(200, [], r_layer[:half], length=len(r_layer))),
    (f"{REPO}/blobs/{digest(r_layer)}", resp(206, [("Content-Range", f"bytes {half}-{len(r_layer) - 1}/{len(r_layer)}")],
                                             r_layer[half:], reason="Partial Content")),
]))
put("remote", "errors", remote(0, [
    ping,
    (f"{REPO}/manifests/latest", resp(404, [("Content-Type", "application/json")],
                                      b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"latest"}}]}')),
]))
plan_parts = [
    ping,
    ("/v2/_catalog", resp(200, [("Link", '</v2/_catalog?last=fuzz%2Fapp&n=1000>; rel="next"')],
                          b'{"repositories":["fuzz/app"]}')),
    ("/v2/_catalog", resp(200, [], b'{"repositories":["fuzz/multi","Bad/Name"]}')),
    (f"{REPO}/tags/list", resp(200, [], b'{"name":"fuzz/app","tags":["latest","1.0","-bad"]}')),
    ("/v2/fuzz/multi/tags/list", resp(200, [], b'{"name":"fuzz/multi","tags":["1"]}')),
    (f"{REPO}/manifests/latest", resp(200, [("Content-Type", OCI_M), ("Docker-Content-Digest", digest(r_manifest))],
                                      length=len(r_manifest))),
    (f"{REPO}/manifests/1.0", resp(200, [("Content-Type", OCI_M), ("Docker-Content-Digest", digest(r_manifest))],
                                   length=len(r_manifest))),
    ("/v2/fuzz/multi/manifests/1", resp(200, [("Content-Type", OCI_I), ("Docker-Content-Digest", digest(r_index))],
                                        length=len(r_index))),
    (f"{REPO}/manifests/{digest(r_manifest)}", resp(200, [("Content-Type", OCI_M)], r_manifest)),
    (f"/v2/fuzz/multi/manifests/{digest(r_index)}", resp(200, [("Content-Type", OCI_I)], r_index)),
    (f"/v2/fuzz/multi/manifests/{digest(r_manifest)}", resp(200, [("Content-Type", OCI_M)], r_manifest)),
    blobs[0],
]
put("remote", "plan", remote(1, plan_parts))
