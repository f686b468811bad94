#!/usr/bin/env python3
"""rows.py RUNS TARGET:SECONDS...: a row of docs/fuzzing.md's run tables for
each run of fuzz/tools/long-run.sh (runs, exec/s, cov at start and end, the
per-minute samples, how long it was flat at the end, peak RSS, crashes).
The "added" column is what `long-run.sh merge` printed: fill it in by hand."""
import os
import re
import sys


def fmt(n):
    return f"{int(n):,}".replace(",", " ")


def row(run_dir, target, secs):
    log = open(os.path.join(run_dir, "log"), errors="replace").read()
    init = re.search(r"INITED cov: (\d+)", log)
    done = re.search(r"#(\d+)\s+DONE\s+cov: (\d+).*?exec/s: (\d+)", log)
    rss = re.search(r"peak_rss_mb:\s+(\d+)", log)
    samples = [int(m.group(1)) for line in open(os.path.join(run_dir, "samples"))
               if (m := re.search(r"cov: (\d+)", line))]
    end = int(done.group(2)) if done else samples[-1]
    flat = 0
    for x in reversed(samples):
        if x != end:
            break
        flat += 1
    step = 5 if len(samples) > 12 else 1
    seen = ", ".join(str(x) for x in samples[step - 1::step])
    crashes = len(os.listdir(os.path.join(run_dir, "art")))
    return (f"| `{target}` | {fmt(secs)} | {fmt(done.group(1)) if done else '?'} | "
            f"{fmt(done.group(3)) if done else '?'} | {init.group(1) if init else '?'} → {end} | "
            f"{'every 5 min: ' if step == 5 else ''}{seen} | "
            f"{f'last {flat - 1} min' if flat > 1 else '—'} | ADDED | "
            f"{fmt(rss.group(1)) + ' MB' if rss else '?'} | "
            f"{'none' if crashes == 0 else f'**{crashes}**'} |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    for arg in sys.argv[2:]:
        target, secs = arg.split(":")
        print(row(os.path.join(sys.argv[1], target), target, secs))
