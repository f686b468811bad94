#!/usr/bin/env python3
"""Seeds of the `scan` fuzz target: a real plan and real shard outputs.

Writes a plan of the test layout's images (testdata/images/oci, built by the
fixture scripts) as `imgaudit scan --plan` does (one entry per platform of
an index), plus an entry whose reference cannot be read; runs two shards of
it with `--sarif` into one output directory, as two pods of an Indexed Job
do; then packs the plan, the two summaries and the files their rows name
into the target's input format (fuzz/fuzz_targets/scan.rs):

    python3 fuzz/make-scan-seeds.py target/debug/imgaudit

Seeds: everything; the same without the plan (`--merge` alone); one
image's row, report and SARIF log with and without the plan (a planned
image no shard recorded); the unreadable row alone. References are relative
(`oci:testdata/images/oci:TAG`), so the seeds do not name this machine.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYOUT = "testdata/images/oci"
TAGS = ["base", "healthy", "incident-later-run", "package-deleted", "multiarch"]
SEP = b"\n--FILE--\n"
OUT = os.path.join(ROOT, "fuzz", "corpus", "scan")


def blob(digest):
    with open(os.path.join(ROOT, LAYOUT, "blobs", "sha256", digest[len("sha256:"):])) as f:
        return json.load(f)


def plan():
    with open(os.path.join(ROOT, LAYOUT, "index.json")) as f:
        index = json.load(f)
    lines = []
    for tag in TAGS:
        desc = next(m for m in index["manifests"]
                    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
        manifest = blob(desc["digest"])
        children = []
        for c in manifest.get("manifests", []):
            p = c["platform"]
            platform = "/".join([p["os"], p["architecture"]] + ([p["variant"]] if "variant" in p else []))
            children.append((c["digest"], platform, blob(c["digest"])))
        if not children:
            children.append((desc["digest"], "linux/amd64", manifest))
        for digest, platform, m in children:
            lines.append({"ref": f"oci:{LAYOUT}:{tag}", "digest": digest,
                          "platform": platform, "base": m["layers"][0]["digest"]})
    # Unreadable: no such tag in the layout.
    lines.append({"ref": f"oci:{LAYOUT}:no-such-tag", "digest": "sha256:" + "0" * 64,
                  "platform": "linux/amd64", "base": None})
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()


def pack(plan_text, summaries, files):
    """The target's input: plan, summary-0, summary-1, then `name\\nbody` files."""
    parts = [plan_text] + [summaries.get(i, b"") for i in (0, 1)]
    parts += [name.encode() + b"\n" + body for name, body in files]
    return SEP.join(parts)


def main():
    imgaudit = os.path.abspath(sys.argv[1])
    plan_text = plan()
    with tempfile.TemporaryDirectory() as tmp:
        plan_path = os.path.join(tmp, "plan.jsonl")
        with open(plan_path, "wb") as f:
            f.write(plan_text)
        out = os.path.join(tmp, "out")
        for shard in ("0/2", "1/2"):
            subprocess.run([imgaudit, "scan", "--from", plan_path, "--out-dir", out, "--no-cache",
                            "--sarif", "--shard", shard],
                           cwd=ROOT, check=True, env=dict(os.environ, NO_COLOR="1"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def read(name):
            with open(os.path.join(out, name), "rb") as f:
                return f.read()

        summaries = {i: read(f"summary-{i}.jsonl") for i in (0, 1)}
        rows = {i: summaries[i].splitlines(keepends=True) for i in (0, 1)}
        # Each row's report and SARIF log, by the row's line.
        files = {}
        for i in (0, 1):
            for line in rows[i]:
                report = json.loads(line)["report"]
                if report:
                    sarif = report[: -len(".json")] + ".sarif"
                    files[line] = [(report, read(report)), (sarif, read(sarif))]
    every = [f for fs in files.values() for f in fs]
    audited = next(line for line in rows[0] + rows[1] if line in files)
    unreadable = next(line for line in rows[0] + rows[1] if line not in files)
    seeds = {
        "seed-all": pack(plan_text, summaries, every),
        "seed-no-plan": pack(b"", summaries, every),
        "seed-one-image": pack(b"", {0: audited}, files[audited]),
        "seed-one-image-planned": pack(plan_text, {1: audited}, files[audited]),
        "seed-unreadable": pack(b"", {0: unreadable}, []),
    }
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
