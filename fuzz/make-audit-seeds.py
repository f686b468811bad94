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

Each layer that adds or removes system libraries also gets the
`/etc/ld.so.cache` a Debian build would leave there (`with_ld_cache`).
Some are also written with their layers gzip-compressed (`GZIP`).

    python3 fuzz/make-audit-seeds.py target/debug/imgaudit [LAYOUT:REF...]
"""
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))
from seedlib import docker_archive, image_layers, slim, squash  # noqa: E402

SEP = b"\n--LAYER--\n"
FLIP_SITE_ELF = {("native", "arm64-x86-ext")}
# Not amd64: this machine's ldconfig would not index its libraries.
FOREIGN = {("native", "arm64-x86-ext")}
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
    ("layouts", "py-deleted-pycache-kept"),
    ("layouts", "tests-deleted"),
    ("layouts", "user-app"),
    ("layouts", "editable-legacy"),
    ("layouts", "pdm"),
    ("layouts", "hatch"),
    ("layouts", "virtualenv"),
    ("installers", "poetry-seed-incident"),
    ("installers", "pip-prefix-copy-lib-only"),
    ("installers", "pip-prefix-copy-bin-only"),
    ("installers", "uv-tool-dist-info-deleted"),
    # More than four layers: the bottom ones squashed into one.
    ("oci", "legacy-setuptools-healthy"),
    ("oci", "legacy-setuptools"),
    ("native", "odbc-purged"),
    ("native", "zmq-libs-deleted"),
    ("installers", "uv-sync-src-deleted"),
]


# Also stored with gzip-compressed layers (`seed-gz-*`), as registries
# serve them: the reader then streams each layer (the ELF stream, the
# record guard), which the target never did on an uncompressed archive.
GZIP = {("native", r) for r in ("native-libs", "sqlite-purged", "zmq-healthy", "abi-mismatch",
                                "arm64-x86-ext", "trixie-bookworm-venv", "odbc-purged",
                                "zmq-libs-deleted")} | {
    ("oci", "file-edited"), ("oci", "incident-later-run"), ("layouts", "epforms-so-stripped")}
# A library in a directory ldconfig indexes (/lib, /usr/lib, their
# multiarch directories), or its whiteout.
SYSTEM_LIB = re.compile(r"^(usr/)?lib(32|64)?/([^/]*-linux-gnu[^/]*/)?(\.wh\.)?[^/]*\.so[^/]*$")


def inside(member, dest):
    """tarfile's "tar" filter (nothing outside dest), skipping what it
    refuses rather than stopping: a link that resolves through an absolute
    symlink already extracted (`/lib64/ld-linux-x86-64.so.2`)."""
    try:
        return tarfile.tar_filter(member, dest)
    except tarfile.FilterError:
        return None


def with_ld_cache(layers, tmp):
    """The layers as an image built on Debian has them: each layer in which
    system libraries come or go (an apt or dpkg step, whose libc-bin
    trigger runs ldconfig) carries the `/etc/ld.so.cache` that `ldconfig -r`
    writes for the image as it stands after that layer. The fixture scripts
    unpack packages without their maintainer scripts, so the test images
    have no cache, and without one the loader never read an image's cache
    in the audit target (fuzz/tools/coverage.py gap audit). Needs root
    (ldconfig chroots)."""
    out = []
    for i, layer in enumerate(layers):
        names = [ti.name.lstrip("./") for ti in tarfile.open(fileobj=io.BytesIO(layer))]
        if not any(SYSTEM_LIB.match(n) for n in names):
            out.append(layer)
            continue
        root = os.path.join(tmp, f"root{i}")
        with tarfile.open(fileobj=io.BytesIO(squash(layers[:i + 1]))) as t:
            t.extractall(root, filter=inside)
        subprocess.run(["ldconfig", "-r", root], check=True)
        with open(os.path.join(root, "etc", "ld.so.cache"), "rb") as f:
            cache = f.read()
        buf = io.BytesIO()
        with tarfile.open(fileobj=io.BytesIO(layer)) as src, \
                tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as dst:
            for ti in src:
                if ti.name.lstrip("./") != "etc/ld.so.cache":
                    dst.addfile(ti, src.extractfile(ti) if ti.isfile() else None)
            ti = tarfile.TarInfo("etc/ld.so.cache")
            ti.size, ti.mode, ti.mtime = len(cache), 0o644, 1735689600
            dst.addfile(ti, io.BytesIO(cache))
        out.append(buf.getvalue())
    return out


def rules(imgaudit, image):
    # As the target opens it: without verification (a gzip layer's
    # diff_id is the digest of its compressed bytes there).
    out = subprocess.run([imgaudit, image, "--no-verify", "--format", "json"],
                         capture_output=True)
    if out.returncode == 2:
        return {"<refused: " + out.stderr.decode(errors="replace").strip() + ">"}
    return {f["rule"] for f in json.loads(out.stdout)["findings"]}


def main():
    imgaudit = sys.argv[1]
    out = os.path.join(ROOT, "fuzz", "corpus", "audit")
    reached = set()
    only = set(sys.argv[2:])
    with tempfile.TemporaryDirectory() as tmp:
        for layout, ref in IMAGES:
            if only and f"{layout}:{ref}" not in only:
                continue
            layers = slim(image_layers(layout, ref), (layout, ref) in FLIP_SITE_ELF)
            if (layout, ref) not in FOREIGN:
                layers = with_ld_cache(layers, tmp)
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
            if kept and (layout, ref) in GZIP:
                gz = [gzip.compress(layer, compresslevel=9, mtime=0) for layer in layers]
                with open(archive, "wb") as f:
                    f.write(docker_archive(gz))
                same = rules(imgaudit, archive) == fired
                print(f"  gzip-compressed: {len(SEP.join(gz)) // 1024} KiB;"
                      f" {'fires the same' if same else 'fires otherwise (not kept)'}")
                if same:
                    with open(os.path.join(out, f"seed-gz-{layout}-{ref}"), "wb") as f:
                        f.write(SEP.join(gz))
    print("rules the seeds reach:", " ".join(sorted(reached)))


if __name__ == "__main__":
    main()
