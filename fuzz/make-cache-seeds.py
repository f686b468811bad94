#!/usr/bin/env python3
"""Seeds of the `cache` fuzz target: real fact-cache records.

Runs imgaudit with a fresh `--cache` on test images (testdata/images, built
by the fixture scripts), then writes, per image, the postcard payloads of
its layers' records (the header and checksum stripped: the target adds its
own) joined by the target's separator, bottom first as the image stacks
them: the layers whose payload is at most 64 KiB, the top four of them (a
venv layer's payload is ~360 KB: an input that size runs at ~10/s, so the
seeds keep the small layers, whose entries have the same shapes).

    python3 fuzz/make-cache-seeds.py target/debug/imgaudit

Then the same from the `audit` target's seeds (the test images slimmed by
make-audit-seeds.py, run first): their layers are small enough that the
records of most of them, venv layers included, fit under the 64 KiB.

The record format is `src/cache.rs`'s: magic (16 bytes), the digest and the
version (each a little-endian u32 length, then the bytes), the payload's
sha256 (32 bytes), the payload.
"""
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))
from seedlib import docker_archive  # noqa: E402
SEP = b"\n--LAYER--\n"
MAGIC = b"imgaudit-facts\n\x01"
# (layout under testdata/images, ref name): a Python venv, the incident, a
# legacy egg-info install, native libraries (ELF facts), an ABI mismatch,
# uv's editable install, pipx.
IMAGES = [
    ("oci", "healthy"),
    ("oci", "incident-same-run"),
    ("oci", "legacy-setuptools"),
    ("native", "zmq-libs-deleted"),
    ("native", "abi-mismatch"),
    ("installers", "uv-sync"),
    ("installers", "pipx"),
]


def layers(layout, ref):
    base = os.path.join(ROOT, "testdata", "images", layout)
    with open(os.path.join(base, "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
            algo, hex_ = m["digest"].split(":")
            with open(os.path.join(base, "blobs", algo, hex_)) as f:
                return [l["digest"] for l in json.load(f)["layers"]]
    sys.exit(f"{layout}:{ref}: no such image (run the fixture scripts)")


def payload(path, digest):
    with open(path, "rb") as f:
        rec = f.read()
    assert rec.startswith(MAGIC), path
    rest = rec[len(MAGIC):]
    for want in (digest.encode(), None):
        (n,) = struct.unpack("<I", rest[:4])
        if want is not None:
            assert rest[4:4 + n] == want, path
        rest = rest[4 + n:]
    return rest[32:]


def seed_of(imgaudit, cache, image, digests):
    """The payloads of `image`'s layers (bottom first) that are at most
    64 KiB, the top four of them, joined; None when none is."""
    subprocess.run([imgaudit, "--cache", cache, image],
                   stdout=subprocess.DEVNULL, check=False)
    facts = os.path.join(cache, "facts")
    parts = []
    for d in digests:
        key = d.replace(":", "-") + "-"
        [name] = [n for n in os.listdir(facts) if n.startswith(key)]
        part = payload(os.path.join(facts, name), d)
        if len(part) <= 64 << 10:
            parts.append(part)
    return SEP.join(parts[-4:]) if parts else None


def main():
    imgaudit = sys.argv[1]
    out = os.path.join(ROOT, "fuzz", "corpus", "cache")
    os.makedirs(out, exist_ok=True)
    seeds = {}
    with tempfile.TemporaryDirectory() as cache:
        for layout, ref in IMAGES:
            image = os.path.join(ROOT, "testdata", "images", layout) + ":" + ref
            seeds[f"seed-{layout}-{ref}"] = seed_of(imgaudit, cache, image, layers(layout, ref))
        for path in sorted(glob.glob(os.path.join(ROOT, "fuzz", "corpus", "audit", "seed-*-*"))):
            if os.path.basename(path).startswith("seed-gz-"):
                continue  # the same facts as its uncompressed seed
            with open(path, "rb") as f:
                slim = f.read().split(SEP)
            image = os.path.join(cache, "slim.tar")
            with open(image, "wb") as f:
                f.write(docker_archive(slim))
            digests = ["sha256:" + hashlib.sha256(l).hexdigest() for l in slim]
            name = "seed-slim-" + os.path.basename(path)[len("seed-"):]
            seeds[name] = seed_of(imgaudit, cache, image, digests)
    seen = set()
    for name, seed in seeds.items():
        if seed is None or seed in seen:  # only the base layer was small enough
            continue
        seen.add(seed)
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
