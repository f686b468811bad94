#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/seed-* from the real
files in testdata/ and from small generated layers and image layouts.
Idempotent; run from anywhere: python3 fuzz/make-seeds.py"""
import gzip, hashlib, io, json, os, pathlib, tarfile

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
put("layer", "gzip-file", b"\x00" + gzip.compress(upper))
put("overlay", "two", base + b"\n--LAYER--\n" + upper)
put("overlay", "three", base + b"\n--LAYER--\n" + upper + b"\n--LAYER--\n" + tar([("usr/bin", "file", b"")]))

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
