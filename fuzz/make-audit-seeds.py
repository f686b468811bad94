#!/usr/bin/env python3
"""Seeds of the `audit` fuzz target: the real test images, slimmed.

The target's own seeds (make-seeds.py) are two hand-made layers; replayed
with `-print_coverage=1`, the long runs' corpus had never produced a finding
of eight rules (record-mismatch, record-missing-file, shim-missing,
elf-arch-mismatch, shared-library-missing, extension-abi-mismatch,
dependency-conflict; size-budget-exceeded needs a budget the target's config
does not set) and never entered the native loader: the fuzzer does not invent
a RECORD whose hashes match the files beside it, nor an ELF file with the
right `DT_NEEDED`. The test images have all of that, built by the real tools
(testdata/images, the fixture scripts), but a Debian base layer is megabytes.

So each layer is slimmed to what the audit reads, keeping the shape:
directories, links and whiteouts on the paths the audit looks at; the
Python metadata and launchers; site-packages files up to 32 KiB, as they
are (their RECORD hashes still match); every ELF file replaced by a
generated one of a few hundred bytes with the same class, byte order,
machine, type, interpreter, `DT_NEEDED`, `DT_SONAME`, `DT_RPATH` and
`DT_RUNPATH` (read with `readelf`); the stdlib reduced to its landmarks
(`os.py`, `lib-dynload/`); pip, setuptools and wheel dropped with their
metadata and launchers (thousands of files that add nothing the other
distributions do not show).

Each seed is checked the way the target runs it: stored as the target's
`docker save` archive (`common::docker_archive`: the same fixed config) and
audited by the CLI; the script prints the rules the seed fires next to the
rules the real image fires, and writes the seed only if it fires something
(or the real image is clean and so is the seed).

    python3 fuzz/make-audit-seeds.py target/debug/imgaudit
"""
import base64
import csv
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))
from seedlib import elf  # noqa: E402

SEP = b"\n--LAYER--\n"
FLIP_SITE_ELF = {("native", "arm64-x86-ext")}
# Images of at most four layers (the target takes four), chosen so that
# every rule the target can reach fires in at least one seed.
IMAGES = [
    ("oci", "healthy"),
    ("oci", "incident-same-run"),
    ("oci", "incident-later-run"),
    ("oci", "launcher-deleted"),
    ("oci", "package-deleted"),
    ("oci", "file-edited"),
    ("oci", "dependency-uninstalled"),
    ("oci", "venv-moved"),
    ("oci", "interpreter-purged"),
    ("oci", "long-shebang"),
    ("oci", "usr-local"),
    ("oci", "shim-not-executable"),
    ("oci", "metadata-file-missing"),
    ("oci", "metadata-malformed"),
    ("oci", "dependency-conflict"),
    ("native", "native-libs"),
    ("native", "odbc-healthy"),
    ("native", "sqlite-purged"),
    ("native", "zmq-healthy"),
    ("native", "abi-mismatch"),
    # An arm64 image with an x86-64 extension: under the target's amd64
    # config, flipped (its site-packages ELF files say aarch64).
    ("native", "arm64-x86-ext"),
    ("native", "trixie-bookworm-venv"),
    ("installers", "uv-venv-dist-info-deleted"),
    ("installers", "uv-sync-no-editable"),
    ("installers", "pip-user"),
    ("installers", "pip-target-no-pythonpath"),
    ("installers", "pipx-dist-info-deleted"),
    ("installers", "uv-venv-python-deleted"),
    ("layouts", "epforms-namespace-deleted"),
    ("layouts", "epforms-so-stripped"),
    ("layouts", "editable-finder-src-deleted"),
    ("layouts", "egg-info-deleted"),
    ("layouts", "py-deleted-legacy-pyc"),
]
DROPPED = re.compile(
    r"-packages/(pip|setuptools|wheel|pkg_resources|_distutils_hack)([-_./]|$)"
    r"|-packages/distutils-precedence\.pth$"
    r"|/bin/(pip|pip3|pip3\.\d+|wheel)$"
)
STDLIB = re.compile(r"^(usr/|usr/local/)?lib/python3\.\d+/")
LOOKED_AT = re.compile(
    r"^(usr/)?(local/)?s?bin(/|$)|^(opt|app|root|home|srv|venv|\.venv)(/|$)|python"
    r"|^etc/(passwd|ld\.so\.cache)$|^(usr/)?lib(64|32)?(/[^/]*-linux-gnu[^/]*)?(/|$)"
)


def image_layers(layout, ref):
    base = os.path.join(ROOT, "testdata", "images", layout)
    with open(os.path.join(base, "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
            with open(os.path.join(base, "blobs", "sha256", m["digest"][7:])) as f:
                layers = json.load(f)["layers"]
            out = []
            for l in layers:
                with open(os.path.join(base, "blobs", "sha256", l["digest"][7:]), "rb") as f:
                    data = f.read()
                out.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
            return out
    sys.exit(f"{layout}:{ref}: no such image (run the fixture scripts)")


def small_elf(data, machine=None):
    """The loader's facts of a real ELF file, in a generated one (with
    another `e_machine` when given)."""
    if data[:4] != b"\x7fELF" or len(data) < 20:
        return None
    c64, le = data[4] == 2, data[5] == 1
    order = "little" if le else "big"
    etype = int.from_bytes(data[16:18], order)
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["readelf", "-W", "-l", "-d", f.name],
                             capture_output=True, text=True).stdout
    interp = re.search(r"Requesting program interpreter: ([^\]]+)\]", out)
    tag = lambda t: re.findall(r"\(" + t + r"\)\s+\S.*?: \[([^\]]*)\]", out)
    soname, rpath, runpath = (tag(t)[0] if tag(t) else None
                              for t in ("SONAME", "RPATH", "RUNPATH"))
    return elf(c64=c64, le=le, machine=machine or int.from_bytes(data[18:20], order), etype=etype,
               interp=interp.group(1) if interp else None, needed=tuple(tag("NEEDED")),
               soname=soname, rpath=rpath, runpath=runpath,
               dynamic="Dynamic section at offset" in out)


def keep_file(path, data, recorded, flip):
    """The bytes to keep for a regular file, or None to drop it. A file a
    RECORD lists with a hash its bytes do not match is kept as it is (the
    edit is what the image shows)."""
    if recorded.get(path, sha256_b64(data)) != sha256_b64(data):
        return data
    if data[:4] == b"\x7fELF":
        return small_elf(data, 183 if flip and "-packages/" in path else None)
    if STDLIB.match(path) and "-packages/" not in path:
        return b"" if path.endswith("/os.py") else None
    if path.endswith(".pyc"):
        # A sourceless module (a legacy `.pyc` where its `.py` was) is a
        # module; what `__pycache__` holds is not.
        return None if "/__pycache__/" in path else b""
    meta = re.search(r"\.(dist|egg)-info(/|$)|pyvenv\.cfg$|\.pth$|_finder\.py$", path)
    if meta or path in ("etc/passwd", "etc/ld.so.cache"):
        return data if len(data) <= 256 << 10 else data[:4096]
    if re.search(r"(^|/)s?bin/[^/]+$", path):
        system = re.match(r"^(usr/)?s?bin/", path)
        if system and "python" not in path and b"python" not in data[:256]:
            return None
        return data[:4096]
    if "-packages/" in path:
        # What the audit needs of a module is that it exists.
        return data if len(data) <= 256 else b""
    return None


def sha256_b64(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def records(layers):
    """Every RECORD row with a sha256 hash, by the path it names."""
    rows = {}
    for layer in layers:
        for ti in tarfile.open(fileobj=io.BytesIO(layer)):
            path = ti.name.lstrip("./")
            if ti.isfile() and path.endswith(".dist-info/RECORD"):
                site = posixpath.dirname(posixpath.dirname(path))
                text = tarfile.open(fileobj=io.BytesIO(layer)).extractfile(ti.name).read()
                for row in csv.reader(io.StringIO(text.decode("utf-8", "replace"))):
                    if len(row) >= 2 and row[1].startswith("sha256="):
                        rows[posixpath.normpath(posixpath.join(site, row[0]))] = row[1][7:]
    return rows


def rewrite_record(path, text, changed, dropped):
    """RECORD as the installer would have written it for the slimmed files:
    rows of dropped files removed, rows of changed files re-hashed."""
    site = posixpath.dirname(posixpath.dirname(path))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text.decode("utf-8", "replace"))):
        name = posixpath.normpath(posixpath.join(site, row[0])) if row else ""
        if name in dropped:
            continue
        if name in changed and len(row) >= 3 and row[1]:
            row = [row[0], "sha256=" + sha256_b64(changed[name]), str(len(changed[name]))]
        w.writerow(row)
    return out.getvalue().encode()


def slim(layers, flip=False):
    recorded = records(layers)
    kept, changed, dropped = [], {}, set()
    for layer in layers:
        src = tarfile.open(fileobj=io.BytesIO(layer))
        entries = []
        for ti in src:
            path = ti.name.lstrip("./")
            base = path.rsplit("/", 1)[-1]
            data = src.extractfile(ti).read() if ti.isfile() else None
            whiteout = base.startswith(".wh.")
            keep = not DROPPED.search(path) and (whiteout or LOOKED_AT.search(path))
            if keep and ti.isfile() and not whiteout:
                new = keep_file(path, data, recorded, flip)
                if new is None:
                    keep = False
                elif new != data:
                    changed[path] = new
                data = new
            elif keep and ti.isdir() and STDLIB.match(path + "/") and "-packages" not in path \
                    and "lib-dynload" not in path \
                    and not re.fullmatch(r"(usr/|usr/local/)?lib/python3\.\d+", path):
                keep = False
            if keep:
                entries.append((ti, data))
            else:
                dropped.add(path)
        kept.append(entries)
    out = []
    for entries in kept:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as dst:
            for ti, data in entries:
                path = ti.name.lstrip("./")
                if data is not None and path.endswith(".dist-info/RECORD"):
                    data = rewrite_record(path, data, changed, dropped)
                if data is not None:
                    ti.size = len(data)
                    dst.addfile(ti, io.BytesIO(data))
                elif ti.isdir() or ti.issym() or ti.islnk():
                    dst.addfile(ti)
        out.append(buf.getvalue())
    return out


def docker_archive(layers):
    """`fuzz_targets/common.rs`'s `docker_archive`: the same config and names."""
    digests = [hashlib.sha256(l).hexdigest() for l in layers]
    config = (
        '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/opt/venv/bin:'
        '/usr/local/bin:/usr/bin:/bin"],"Entrypoint":["tiny"],"Cmd":["--help"],"User":"app"},'
        '"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' % (
            ",".join(f'"sha256:{d}"' for d in digests),
            ",".join('{"created_by":"RUN step %d"}' % i for i in range(len(layers))))
    ).encode()
    chex = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": f"blobs/sha256/{chex}", "RepoTags": ["fuzz:latest"],
                            "Layers": [f"blobs/sha256/{d}" for d in digests]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in [("manifest.json", manifest), (f"blobs/sha256/{chex}", config),
                           *[(f"blobs/sha256/{d}", l) for d, l in zip(digests, layers)]]:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def rules(imgaudit, image):
    out = subprocess.run([imgaudit, image, "--format", "json"], capture_output=True)
    if out.returncode == 2:
        return {"<refused: " + out.stderr.decode(errors="replace").strip() + ">"}
    return {f["rule"] for f in json.loads(out.stdout)["findings"]}


def main():
    imgaudit = sys.argv[1]
    out = os.path.join(ROOT, "fuzz", "corpus", "audit")
    reached = set()
    with tempfile.TemporaryDirectory() as tmp:
        for layout, ref in IMAGES:
            layers = slim(image_layers(layout, ref), (layout, ref) in FLIP_SITE_ELF)
            assert len(layers) <= 4, (layout, ref)
            seed = SEP.join(layers)
            archive = os.path.join(tmp, "seed.tar")
            with open(archive, "wb") as f:
                f.write(docker_archive(layers))
            fired = rules(imgaudit, archive)
            real = rules(imgaudit, os.path.join(ROOT, "testdata", "images", layout) + ":" + ref)
            kept = bool(fired) == bool(real) and not any(r.startswith("<") for r in fired)
            print(f"{layout}:{ref}: {len(seed) // 1024} KiB; seed fires {sorted(fired) or '-'};"
                  f" the image fires {sorted(real) or '-'}{'' if kept else ' (not kept)'}")
            if kept:
                reached |= fired
                with open(os.path.join(out, f"seed-{layout}-{ref}"), "wb") as f:
                    f.write(seed)
    print("rules the seeds reach:", " ".join(sorted(reached)))


if __name__ == "__main__":
    main()
