#!/usr/bin/env python3
"""Where a target's corpus reaches in imgaudit's code, and where a run's late
finds land. Both replay a corpus with libFuzzer's -runs=0 -print_coverage=1
(the instrumented build: cargo +nightly fuzz build -O).

  fuzz/tools/coverage.py gap TARGET [DIR...]
      Replay the committed corpus (+ DIRs). Per file of src/: covered/total
      edges of the functions the binary holds, and the functions never
      entered, largest first. A growing `cov` says a fuzzer still finds code;
      this says which code no input has reached (docs/fuzzing.md, "Eighth
      session": 8 of the 18 rules had never fired in the audit corpus).

  fuzz/tools/coverage.py late TARGET RUNS MINUTES
      Split RUNS/TARGET/new (fuzz/tools/long-run.sh) by when libFuzzer wrote
      each input, MINUTES before the newest, and replay
        A  = the committed corpus + the inputs found before the split,
        A' = A again (the target's own nondeterminism: thread pools),
        B  = A + the late inputs;
      prints the edge differences by place (imgaudit's src/, a crate, std),
      the functions of src/ that gained most, and the most outside it. Late
      growth that is all in rayon or std is noise; growth in src/ is new
      behaviour. Safe on a run still going (its inputs are copied first).
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = f"{ROOT}/src/"
TRIPLE = re.search(r"host: (\S+)", subprocess.run(["rustc", "-vV"], capture_output=True,
                                                    text=True).stdout).group(1)
LINE = re.compile(r"^(?:UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) (.*) (\S+):\d+$")


def corpora(target):
    """The committed corpora a target starts from (as long-run.sh)."""
    dirs = [ROOT / "fuzz/corpus" / target]
    partner = {"audit": "overlay", "overlay": "audit"}.get(target)
    if partner:
        dirs.append(ROOT / "fuzz/corpus" / partner)
    return dirs


def replay(target, dirs):
    """{(function, file): (covered, total)} for one replay of dirs."""
    binary = ROOT / "fuzz/target" / TRIPLE / "release" / target
    if not binary.exists():
        sys.exit(f"coverage: no {binary} (cargo +nightly fuzz build -O)")
    pre = []
    if target == "remote":
        pre = ["unshare", "-rn", "sh", "-c", 'ip link set lo up; exec "$@"', "sh"]
    out = subprocess.run(pre + [str(binary), "-runs=0", "-print_coverage=1", "-detect_leaks=0",
                                "-rss_limit_mb=4096", "-timeout=60"] + [str(d) for d in dirs],
                         capture_output=True, text=True, errors="replace").stderr
    funcs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            funcs[(m.group(3), m.group(4))] = (int(m.group(1)), int(m.group(2)))
    if not funcs:
        sys.exit(f"coverage: the replay printed no coverage:\n{out[-2000:]}")
    return funcs


def where(path):
    if path.startswith(SRC):
        return "imgaudit " + path[len(SRC):]
    if path.startswith(f"{ROOT}/fuzz/"):
        return "harness"
    if path.startswith("/rustc/"):
        return "std"
    m = re.search(r"/registry/src/[^/]+/([^/]+?)-\d[^/]*/", path)
    return "crate " + m.group(1) if m else "other " + path


def gap(target, extra):
    funcs = replay(target, corpora(target) + [Path(d) for d in extra])
    files = collections.defaultdict(lambda: [0, 0])
    never = collections.defaultdict(list)
    for (fn, path), (covered, total) in funcs.items():
        if not path.startswith(SRC):
            continue
        f = path[len(SRC):]
        files[f][0] += covered
        files[f][1] += total
        if covered == 0:
            never[f].append((total, fn))
    covered = sum(c for c, _ in files.values())
    total = sum(t for _, t in files.values())
    print(f"{target}: edges of src/ covered {covered}/{total}")
    for f, (c, t) in sorted(files.items()):
        if not c:
            continue
        miss = sorted(never[f], reverse=True)
        print(f"  {f:45s} {c:5d}/{t:<5d} {100 * c / t:5.1f}%  never entered: "
              f"{len(miss)} fns, {sum(e for e, _ in miss)} edges")
        for edges, fn in miss[:3]:
            print(f"      {edges:5d}  {fn[:100]}")
    untouched = sorted(f for f, (c, _) in files.items() if not c)
    if untouched:
        print(f"  in the binary, never entered at all: {', '.join(untouched)}")


def late(target, runs, minutes):
    new_dir = Path(runs) / target / "new"
    with tempfile.TemporaryDirectory() as tmp:
        # A snapshot first: a run still going deletes the inputs it reduces.
        snap = Path(tmp) / "snap"
        snap.mkdir()
        found = []
        for p in new_dir.iterdir():
            try:
                mtime = p.stat().st_mtime
                shutil.copy2(p, snap / p.name)
            except FileNotFoundError:
                continue
            found.append((mtime, snap / p.name))
        if not found:
            sys.exit(f"coverage: nothing in {new_dir}")
        split = max(m for m, _ in found) - minutes * 60
        early = [p for m, p in found if m < split]
        late_ = [p for m, p in found if m >= split]

        def corpus(name, inputs):
            d = Path(tmp) / name
            d.mkdir()
            for base in corpora(target):
                for f in base.iterdir():
                    shutil.copy(f, d / ("b-" + f.name))
            for p in inputs:
                shutil.copy(p, d / ("n-" + p.name))
            return [d]

        a = replay(target, corpus("A", early))
        a2 = replay(target, corpus("A2", early))
        b = replay(target, corpus("B", early + late_))

    def diff(x, y):
        by_place, by_fn = collections.Counter(), collections.Counter()
        for k in set(x) | set(y):
            d = y.get(k, (0, 0))[0] - x.get(k, (0, 0))[0]
            if d:
                by_place[where(k[1])] += d
                by_fn[k] += d
        return by_place, by_fn

    total = lambda f: sum(c for c, _ in f.values())
    print(f"{target}: {len(early)} inputs found before the split, {len(late_)} in the last "
          f"{minutes:g} min; edges A={total(a)} A'={total(a2)} B={total(b)}")
    noise, _ = diff(a, a2)
    print("  A' - A (nondeterminism):", dict(noise) or "none")
    places, fns = diff(a, b)
    print("  B - A by place:", dict(sorted(places.items(), key=lambda kv: -kv[1])) or "none")
    ours = [(v, k) for k, v in fns.items() if k[1].startswith(SRC)]
    for v, (fn, path) in sorted(ours, reverse=True)[:15]:
        print(f"    {v:+d} {fn[:100]} ({where(path)})")
    # What the rest is: Unicode tables and formatting in std, a parser's
    # states in a crate, or a thread pool's timing.
    theirs = [(v, k) for k, v in fns.items() if not k[1].startswith(SRC) and v > 0]
    if theirs:
        print("  outside src/, most:")
        for v, (fn, path) in sorted(theirs, reverse=True)[:8]:
            print(f"    {v:+d} {fn[:100]} ({where(path)})")


def main(argv):
    if len(argv) >= 2 and argv[0] == "gap":
        gap(argv[1], argv[2:])
    elif len(argv) == 4 and argv[0] == "late":
        late(argv[1], argv[2], float(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
