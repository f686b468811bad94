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

The record format is `src/cache.rs`'s: magic (16 bytes), the digest and the
version (each a little-endian u32 length, then the bytes), the payload's
sha256 (32 bytes), the payload.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def main():
    imgaudit = sys.argv[1]
    out = os.path.join(ROOT, "fuzz", "corpus", "cache")
    os.makedirs(out, exist_ok=True)
    seen = set()
    with tempfile.TemporaryDirectory() as cache:
        for layout, ref in IMAGES:
            image = os.path.join(ROOT, "testdata", "images", layout) + ":" + ref
            subprocess.run([imgaudit, "--cache", cache, image],
                           stdout=subprocess.DEVNULL, check=False)
            facts = os.path.join(cache, "facts")
            parts = []
            for d in layers(layout, ref):
                key = d.replace(":", "-") + "-"
                [name] = [n for n in os.listdir(facts) if n.startswith(key)]
                part = payload(os.path.join(facts, name), d)
                if len(part) <= 64 << 10:
                    parts.append(part)
            seed = SEP.join(parts[-4:])
            if seed in seen:  # only the base layer was small enough
                continue
            seen.add(seed)
            with open(os.path.join(out, f"seed-{layout}-{ref}"), "wb") as f:
                f.write(seed)


if __name__ == "__main__":
    main()
