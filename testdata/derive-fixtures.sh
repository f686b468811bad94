#!/usr/bin/env bash
# Derive the other image formats imgaudit reads from the committed OCI layout
# testdata/images/oci, OFFLINE, into target/fixtures/ (not committed):
#
#   docker-archive/TAG.tar            legacy `docker save` layout (skopeo), every image tag;
#                                     RepoTags as skopeo writes them: docker.io/library/TAG:latest
#   docker-archive/multi.tar          two images in one archive, Docker's short RepoTags
#                                     healthy:latest and launcher-deleted:latest (skopeo can't)
#   oci-archive/healthy.tar           OCI layout in a tar (skopeo)
#   oci-dir/healthy-zstd/             OCI dir, zstd layers (skopeo --dest-compress-format zstd)
#   oci-dir/healthy-plain/            OCI dir, uncompressed layers, media type ...tar
#   oci-dir/healthy-plain-mislabeled/ what skopeo 1.9 writes for docker-archive -> oci with
#                                     --dest-oci-accept-uncompressed-layers: uncompressed
#                                     layers labelled ...tar+gzip (sniff the magic bytes!)
#   docker25/healthy.tar              Docker 25+ `docker save` (classic store): oci-layout,
#                                     index.json, blobs/sha256 (uncompressed layers),
#                                     manifest.json, repositories
#   docker25-containerd/healthy.tar   Docker 29 containerd store: gzip layers, index.json ->
#                                     image index with amd64 (present), arm64 and an
#                                     attestation manifest whose blobs are absent
#   stdin-order/healthy-manifest-last.tar   manifest.json is the very last member
#   stdin-order/healthy-manifest-first.tar  manifest.json and repositories first
#   fixtures.json                     what is where (kind, image tag, RepoTags)
#
# Idempotent: skipped when target/fixtures/.stamp matches the hash of index.json and
# of this script. Needs skopeo (1.9), jq and a python3 (stdlib only). Run by
# scripts/setup.sh before the tests.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OCI="$HERE/images/oci"
OUT=${IMGAUDIT_FIXTURES:-$ROOT/target/fixtures}
PY=${PYTHON:-python3}
SKOPEO=(skopeo --insecure-policy)      # local files only: no signature policy needed
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}

for c in skopeo jq "$PY" sha256sum; do
  command -v "$c" >/dev/null || { echo "derive-fixtures: missing $c (run scripts/setup.sh)" >&2; exit 1; }
done
[ -f "$OCI/index.json" ] || { echo "derive-fixtures: no OCI layout at $OCI" >&2; exit 1; }

stamp=$(cat "$OCI/index.json" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
  echo "derive-fixtures: $OUT is up to date"
  exit 0
fi

TMP="$OUT.tmp.$$"
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP"/{docker-archive,oci-archive,oci-dir,docker25,docker25-containerd,stdin-order}

# Image tags (manifests, not the multi-platform index) in the committed layout.
mapfile -t TAGS < <(jq -r '.manifests[]
  | select(.mediaType == "application/vnd.oci.image.manifest.v1+json")
  | .annotations["org.opencontainers.image.ref.name"]' "$OCI/index.json")

echo "derive-fixtures: docker-archive for ${#TAGS[@]} tags" >&2
for t in "${TAGS[@]}"; do
  "${SKOPEO[@]}" copy -q "oci:$OCI:$t" "docker-archive:$TMP/docker-archive/$t.tar:$t:latest"
done

echo "derive-fixtures: oci-archive, oci-dir (zstd, plain)" >&2
"${SKOPEO[@]}" copy -q "oci:$OCI:healthy" "oci-archive:$TMP/oci-archive/healthy.tar:healthy"
"${SKOPEO[@]}" copy -q --dest-compress --dest-compress-format zstd \
  "oci:$OCI:healthy" "oci:$TMP/oci-dir/healthy-zstd:healthy"
"${SKOPEO[@]}" copy -q --dest-oci-accept-uncompressed-layers \
  "docker-archive:$TMP/docker-archive/healthy.tar" "oci:$TMP/oci-dir/healthy-plain-mislabeled:healthy"

# The rest is assembled per the specs with Python's tarfile/json/hashlib.
"$PY" - "$OCI" "$TMP" <<'EOF'
import copy, gzip, hashlib, io, json, os, shutil, sys, tarfile

OCI, OUT = sys.argv[1], sys.argv[2]
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_TGZ = "application/vnd.oci.image.layer.v1.tar+gzip"

def blob(digest):
    algo, hexd = digest.split(":")
    with open(os.path.join(OCI, "blobs", algo, hexd), "rb") as f:
        return f.read()

def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()

def canon(obj):
    return json.dumps(obj, separators=(",", ":")).encode()

def tagged(tag):
    for d in json.load(open(os.path.join(OCI, "index.json")))["manifests"]:
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return d
    raise SystemExit(f"tag {tag!r} not in {OCI}")

def image(tag):
    desc = tagged(tag)
    man = json.loads(blob(desc["digest"]))
    return desc, man, blob(man["config"]["digest"])

class Tar:
    """A deterministic tar writer (fixed mtime, root-owned, PAX)."""
    def __init__(self, path):
        self.t = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
        self.seen = set()
    def dir(self, name):
        if name in self.seen:
            return
        self.seen.add(name)
        ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = EPOCH
        self.t.addfile(ti)
    def file(self, name, data, mode=0o644):
        if name in self.seen:
            return
        self.seen.add(name)
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = EPOCH
        self.t.addfile(ti, io.BytesIO(data))
    def blob(self, data):
        name = "blobs/sha256/" + hashlib.sha256(data).hexdigest()
        self.dir("blobs"); self.dir("blobs/sha256"); self.file(name, data)
        return name
    def close(self):
        self.t.close()

def docker_names(tag):
    return f"docker.io/library/{tag}:latest", f"{tag}:latest"

# --- Docker 25+ classic store: uncompressed layers as blobs -----------------
def docker25(tag, path):
    _, man, cfg = image(tag)
    t = Tar(path)
    layers, descs = [], []
    for l in man["layers"]:
        raw = gzip.decompress(blob(l["digest"]))
        layers.append(t.blob(raw))
        descs.append({"mediaType": MT_TAR, "digest": sha(raw), "size": len(raw)})
    cfg_name = t.blob(cfg)
    m = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
         "config": {"mediaType": MT_CONFIG, "digest": sha(cfg), "size": len(cfg)},
         "layers": descs}
    mb = canon(m); t.blob(mb)
    full, short = docker_names(tag)
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [
        {"mediaType": MT_MANIFEST, "digest": sha(mb), "size": len(mb),
         "annotations": {"io.containerd.image.name": full,
                         "org.opencontainers.image.ref.name": "latest"}}]}
    t.file("index.json", canon(index))
    t.file("manifest.json", canon([{"Config": cfg_name, "RepoTags": [short], "Layers": layers}]))
    t.file("oci-layout", canon({"imageLayoutVersion": "1.0.0"}))
    t.file("repositories", canon({tag: {"latest": layers[-1].rsplit("/", 1)[1]}}))
    t.close()

# --- Docker 29 containerd store: gzip layers, index with absent platforms ----
def docker25_containerd(tag, path):
    desc, man, cfg = image(tag)
    mb = blob(desc["digest"])
    t = Tar(path)
    layers = [t.blob(blob(l["digest"])) for l in man["layers"]]
    cfg_name = t.blob(cfg)
    t.blob(mb)
    # Descriptors of manifests that `docker save` does not include (other platform,
    # BuildKit attestation): their digests point at blobs absent from the tar.
    arm = canon({"schemaVersion": 2, "mediaType": MT_MANIFEST, "absent": "linux/arm64"})
    att = canon({"schemaVersion": 2, "mediaType": MT_MANIFEST, "absent": "attestation"})
    idx = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [
        {"mediaType": MT_MANIFEST, "digest": sha(mb), "size": len(mb),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": MT_MANIFEST, "digest": sha(arm), "size": len(arm),
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": MT_MANIFEST, "digest": sha(att), "size": len(att),
         "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.digest": sha(mb),
                         "vnd.docker.reference.type": "attestation-manifest"}}]}
    ib = canon(idx); t.blob(ib)
    full, short = docker_names(tag)
    top = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [
        {"mediaType": MT_INDEX, "digest": sha(ib), "size": len(ib),
         "annotations": {"io.containerd.image.name": full,
                         "org.opencontainers.image.ref.name": "latest"}}]}
    t.file("index.json", canon(top))
    t.file("manifest.json", canon([{"Config": cfg_name, "RepoTags": [short], "Layers": layers}]))
    t.file("oci-layout", canon({"imageLayoutVersion": "1.0.0"}))
    t.close()

# --- OCI dir with uncompressed layers, media type ...tar ----------------------
def oci_plain(tag, outdir):
    _, man, cfg = image(tag)
    os.makedirs(os.path.join(outdir, "blobs", "sha256"))
    def put(data):
        d = sha(data)
        with open(os.path.join(outdir, "blobs", "sha256", d.split(":")[1]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}
    m = copy.deepcopy(man)
    m["layers"] = [{"mediaType": MT_TAR, **put(gzip.decompress(blob(l["digest"])))}
                   for l in man["layers"]]
    m["config"] = {"mediaType": MT_CONFIG, **put(cfg)}
    md = put(canon(m))
    with open(os.path.join(outdir, "index.json"), "w") as f:
        f.write(json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": MT_MANIFEST, **md,
             "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    with open(os.path.join(outdir, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')

# --- docker-archive helpers ---------------------------------------------------
def members(path):
    """[(TarInfo, bytes or None)] in archive order."""
    out = []
    with tarfile.open(path) as t:
        for ti in t:
            data = t.extractfile(ti).read() if ti.isreg() else None
            out.append((ti, data))
    return out

def write(path, items):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in items:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)

def short(name):
    """docker save writes `healthy:latest`; skopeo writes docker.io/library/healthy:latest."""
    return name[len("docker.io/library/"):] if name.startswith("docker.io/library/") else name

def merge_archives(path, inputs):
    """Like `docker save healthy launcher-deleted`: one archive, two images, Docker's
    short RepoTags."""
    seen, blobs, manifests, repos = set(), [], [], {}
    for p in inputs:
        for ti, data in members(p):
            if ti.name == "manifest.json":
                for ent in json.loads(data):
                    ent["RepoTags"] = [short(t) for t in ent.get("RepoTags") or []]
                    manifests.append(ent)
            elif ti.name == "repositories":
                for repo, tags in json.loads(data).items():
                    repos.setdefault(short(repo), {}).update(tags)
            elif ti.name not in seen:         # shared base layers are stored once
                seen.add(ti.name); blobs.append((ti, data))
    def meta(name, obj):
        b = canon(obj); ti = tarfile.TarInfo(name); ti.size = len(b); ti.mode = 0o444
        return ti, b
    write(path, blobs + [meta("manifest.json", manifests), meta("repositories", repos)])

def reorder(src, dst, manifest_last):
    items = members(src)
    meta = [m for m in items if m[0].name in ("manifest.json", "repositories")]
    rest = [m for m in items if m[0].name not in ("manifest.json", "repositories")]
    meta.sort(key=lambda m: m[0].name != "repositories")   # repositories, manifest.json
    write(dst, rest + meta if manifest_last else list(reversed(meta)) + rest)

docker25("healthy", os.path.join(OUT, "docker25", "healthy.tar"))
docker25_containerd("healthy", os.path.join(OUT, "docker25-containerd", "healthy.tar"))
oci_plain("healthy", os.path.join(OUT, "oci-dir", "healthy-plain"))
da = os.path.join(OUT, "docker-archive")
merge_archives(os.path.join(da, "multi.tar"),
               [os.path.join(da, "healthy.tar"), os.path.join(da, "launcher-deleted.tar")])
reorder(os.path.join(da, "healthy.tar"),
        os.path.join(OUT, "stdin-order", "healthy-manifest-last.tar"), True)
reorder(os.path.join(da, "healthy.tar"),
        os.path.join(OUT, "stdin-order", "healthy-manifest-first.tar"), False)

# An index of what was made, for the tests.
def repo_tags(path):
    with tarfile.open(path) as t:
        return [rt for ent in json.load(t.extractfile("manifest.json")) for rt in ent["RepoTags"]]

fx = {"source": "testdata/images/oci", "fixtures": []}
for name in sorted(os.listdir(da)):
    entry = {"path": f"docker-archive/{name}", "kind": "docker-archive",
             "repo_tags": repo_tags(os.path.join(da, name))}
    if name == "multi.tar":
        entry["images"] = ["healthy", "launcher-deleted"]
    else:
        entry["image"] = name[:-4]
    fx["fixtures"].append(entry)
fx["fixtures"] += [
    {"path": "oci-archive/healthy.tar", "kind": "oci-archive", "image": "healthy"},
    {"path": "oci-dir/healthy-zstd", "kind": "oci-dir", "image": "healthy", "layers": "zstd"},
    {"path": "oci-dir/healthy-plain", "kind": "oci-dir", "image": "healthy", "layers": "tar"},
    {"path": "oci-dir/healthy-plain-mislabeled", "kind": "oci-dir", "image": "healthy",
     "layers": "tar, media type says tar+gzip (skopeo 1.9)"},
    {"path": "docker25/healthy.tar", "kind": "docker25", "image": "healthy",
     "repo_tags": ["healthy:latest"], "layers": "tar"},
    {"path": "docker25-containerd/healthy.tar", "kind": "docker25-containerd", "image": "healthy",
     "repo_tags": ["healthy:latest"], "layers": "gzip", "absent_platforms": ["linux/arm64/v8"]},
    {"path": "stdin-order/healthy-manifest-last.tar", "kind": "docker-archive", "image": "healthy",
     "repo_tags": repo_tags(os.path.join(OUT, "stdin-order", "healthy-manifest-last.tar")),
     "member_order": "layers, config, legacy <id>/ dirs, repositories, manifest.json"},
    {"path": "stdin-order/healthy-manifest-first.tar", "kind": "docker-archive", "image": "healthy",
     "repo_tags": repo_tags(os.path.join(OUT, "stdin-order", "healthy-manifest-first.tar")),
     "member_order": "manifest.json, repositories, layers, config, legacy <id>/ dirs"},
]
with open(os.path.join(OUT, "fixtures.json"), "w") as f:
    json.dump(fx, f, indent=2); f.write("\n")
EOF

# Every expected file must be there.
for f in docker-archive/multi.tar oci-archive/healthy.tar oci-dir/healthy-zstd/index.json \
  oci-dir/healthy-plain/index.json oci-dir/healthy-plain-mislabeled/index.json \
  docker25/healthy.tar docker25-containerd/healthy.tar \
  stdin-order/healthy-manifest-last.tar stdin-order/healthy-manifest-first.tar fixtures.json; do
  [ -s "$TMP/$f" ] || { echo "derive-fixtures: $f was not produced" >&2; exit 1; }
done
for t in "${TAGS[@]}"; do [ -s "$TMP/docker-archive/$t.tar" ]; done

echo "$stamp" > "$TMP/.stamp"
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$TMP" "$OUT"
trap - EXIT
echo "derive-fixtures: wrote $OUT ($(du -sh "$OUT" | cut -f1))"
