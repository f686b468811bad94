"""What the seed scripts share: small ELF files as the loader sees them
(make-seeds.py), and the real test images slimmed to what the audit reads
(make-audit-seeds.py, make-cache-seeds.py: the why is in the first)."""
import base64
import csv
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import struct
import subprocess
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def elf(c64=True, le=True, machine=62, etype=3, interp=None, needed=(), soname=None,
        rpath=None, runpath=None, patchelf=False, dynamic=True):
    e = "<" if le else ">"
    ehsize, phsz, dynent = (64, 56, 16) if c64 else (52, 32, 8)
    strs, offs = b"\0", {}
    for s in [*needed, soname, rpath, runpath]:
        if s and s not in offs:
            offs[s] = len(strs)
            strs += s.encode() + b"\0"
    dyn = [(1, offs[n]) for n in needed]
    dyn += [(t, offs[s]) for t, s in ((14, soname), (15, rpath), (29, runpath)) if s]
    nph = 1 + (1 if interp else 0) + (1 if patchelf else 0) + (1 if dynamic else 0)
    pos = ehsize + nph * phsz
    interp_b = interp.encode() + b"\0" if interp else b""
    interp_off = pos
    pos += len(interp_b)
    ndyn = len(dyn) + 3
    if not patchelf:
        str_off = pos
        pos = (pos + len(strs) + 7) & ~7
        dyn_off = pos
        pos += ndyn * dynent
        load1 = pos
    else:
        pos = (pos + 7) & ~7
        dyn_off = pos
        pos += ndyn * dynent
        load1 = pos
        pos += 40  # other sections between
        str_off = pos
        pos += len(strs)
    second = 0x100000  # patchelf maps the appended strings at a new address
    strtab = str_off + (second if patchelf else 0)
    dyn += [(5, strtab), (10, len(strs)), (0, 0)]
    out = bytearray(pos)
    ident = b"\x7fELF" + bytes([2 if c64 else 1, 1 if le else 2, 1, 0]) + b"\0" * 8
    hdr = (etype, machine, 1, 0, ehsize, 0, 0, ehsize, phsz, nph, 64 if c64 else 40, 0, 0)
    out[:ehsize] = ident + struct.pack(e + ("HHIQQQIHHHHHH" if c64 else "HHIIIIIHHHHHH"), *hdr)
    ph = []
    if interp:
        ph.append((3, 4, interp_off, interp_off, len(interp_b), 4))
    ph.append((1, 5, 0, 0, load1, 4096))
    if patchelf:
        ph.append((1, 4, str_off, str_off + second, len(strs), 4096))
    if dynamic:
        ph.append((2, 6, dyn_off, dyn_off, ndyn * dynent, 8))
    at = ehsize
    for typ, flags, off, vaddr, size, align in ph:
        if c64:
            b = struct.pack(e + "IIQQQQQQ", typ, flags, off, vaddr, vaddr, size, size, align)
        else:
            b = struct.pack(e + "IIIIIIII", typ, off, vaddr, vaddr, size, size, flags, align)
        out[at:at + phsz] = b
        at += phsz
    out[interp_off:interp_off + len(interp_b)] = interp_b
    out[str_off:str_off + len(strs)] = strs
    if dynamic:
        for i, (tag, val) in enumerate(dyn):
            out[dyn_off + i * dynent:dyn_off + (i + 1) * dynent] = struct.pack(
                e + ("qQ" if c64 else "iI"), tag, val)
    return bytes(out)


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
            # The targets take four layers: the bottom ones become one.
            return [squash(out[:-3])] + out[-3:] if len(out) > 4 else out
    raise SystemExit(f"{layout}:{ref}: no such image (run the fixture scripts)")


def squash(layers):
    """Layers applied in order into one (OCI whiteouts: `.wh.NAME` removes
    NAME below, `.wh..wh..opq` empties its directory below)."""
    state = {}
    for layer in layers:
        src = tarfile.open(fileobj=io.BytesIO(layer))
        mine = []
        for ti in src:
            path = ti.name.lstrip("./").rstrip("/")
            parent, _, base = path.rpartition("/")
            if base.startswith(".wh."):
                gone = parent if base == ".wh..wh..opq" else posixpath.join(parent, base[4:])
                for p in [p for p in state if p.startswith(gone + "/") or
                          (p == gone and base != ".wh..wh..opq")]:
                    del state[p]
                continue
            mine.append((path, ti, src.extractfile(ti).read() if ti.isfile() else None))
        for path, ti, data in mine:
            if not ti.isdir():
                for p in [p for p in state if p.startswith(path + "/")]:
                    del state[p]
            state[path] = (ti, data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for ti, data in state.values():
            dst.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


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
    if "-packages/" in path or path.endswith(".py"):
        # What the audit needs of a module (in a site dir, or the source
        # tree an editable install points to) is that it exists.
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
