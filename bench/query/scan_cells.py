#!/usr/bin/env python3
"""The whole-collection cells of a large point on FerretDB, measured in interleaved passes.

    bench/query/scan_cells.py --size 1000000 --flows 2000 [--passes 3] [--state DIR]
                              [--deadline-minutes M] [--ranges 1h,24h,7d] [--out docs/benchmarks]

On FerretDB v1 a query that reads the minute collection (every query without rollups, and the
filtered top-10 with them: FerretDB keeps no five-tuple hour tier) decodes the whole collection
whatever its range. At a million documents that is minutes per query on a loaded 2-core
machine, too long for run.py's one-cell-at-a-time repetitions. This writes the collection once
without rollups (the rollups-off write cost, a row of its own), then runs passes: each pass asks
every such cell once, one query per query_benchmark call (rollups off: top10, top10_filtered,
series60; rollups on: top10_filtered, which the agent plans on the minute collection with or
without the totals tiers; 1 h, 24 h and 7 d). A cell's p50/p95 are over its runs;
--deadline-minutes stops starting queries after that long, so a late pass may leave some cells
with one run fewer (each row says its count). Rows replace the same cells in
OUT/query.json (the rollups-on write and totals rows are left alone); run run.py --tables-only
afterwards for the tables and the plot.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the same helpers: cpu_seconds, LoadSampler, START, BENCH)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--deadline-minutes", type=float, default=None)
    ap.add_argument("--ranges", default="1h,24h,7d",
                    help="the ranges to ask, in this order (a run cut by its deadline keeps the earlier ones)")
    ap.add_argument("--state", help="keep the server's data here (default: a temporary directory)")
    ap.add_argument("--out", default=str(run.ROOT / "docs/benchmarks"))
    args = ap.parse_args()
    server = "ferretdb"
    minutes = args.size // args.flows
    base = ["nice", "-n", "10", str(run.BENCH), "--flows", str(args.flows), "--minutes", str(minutes)]
    state_holder = None if args.state else tempfile.TemporaryDirectory(prefix="query-bench-")
    state = args.state or state_holder.name
    uri = subprocess.run(run.START[server] + ["start", state], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    pid = int(Path(state, run.PID_FILE[server]).read_text())
    rows = []
    started = time.monotonic()

    def bench(extra):
        cmd = base + ["--uri", uri] + extra
        print("  $ " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
        cpu_before = run.cpu_seconds(pid)
        with run.LoadSampler() as load:
            done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            # Kept, so that a cell that breaks says how and when (the rows so far are kept too).
            raise RuntimeError(f"query_benchmark exited {done.returncode}: {done.stderr.strip()[-500:]}")
        out = done.stdout
        got = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        server_cpu = run.cpu_seconds(pid) - cpu_before
        for row in got:
            row.update(load.summary())
            print("  " + json.dumps(row), file=sys.stderr, flush=True)
        return got, server_cpu

    try:
        written, server_cpu = bench(["--rollups", "off", "--queries", "none", "--repetitions", "1"])
        for row in written:
            row["server_cpu_s_per_million"] = server_cpu / row["documents"] * 1e6
            rows.append(row)
        runs = {}  # (rollups, kind, range) -> [ms], loads, server CPU
        cells = [(rollups, kind, span) for span in args.ranges.split(",")
                 for rollups, kind in ((False, "top10"), (False, "top10_filtered"), (False, "series60"),
                                       (True, "top10_filtered"))]
        failed = {}  # cell -> what happened, when it never gave a row
        passes = 0
        for _ in range(args.passes):
            for rollups, kind, span in cells:
                if args.deadline_minutes is not None and time.monotonic() - started > args.deadline_minutes * 60:
                    break
                began = time.monotonic()
                try:
                    got, cpu = bench(["--write", "off", "--rollups", "on" if rollups else "off", "--queries", kind,
                                      "--ranges", span, "--repetitions", "1", "--timeout-minutes", "60"])
                except RuntimeError as e:
                    failed[(rollups, kind, span)] = f"failed after {(time.monotonic() - began) / 60:.0f} min: {e}"
                    print("  " + failed[(rollups, kind, span)], file=sys.stderr, flush=True)
                    continue
                for row in got:
                    cell = runs.setdefault((rollups, kind, span), {"ms": [], "loads": [], "tiers": row["tiers"], "cpu": []})
                    cell["ms"].append(row["p50_ms"])
                    cell["loads"] += [row["load_min"], row["load_max"]]
                    cell["cpu"].append(cpu)  # FerretDB's CPU for the call: the query, and the agent's start
            else:
                passes += 1
                continue
            break
        for (rollups, kind, span), cell in runs.items():
            rows.append({"kind": kind, "range": span, "rollups": rollups, "documents": args.size,
                         "p50_ms": statistics.median(cell["ms"]), "p95_ms": percentile(cell["ms"], 0.95),
                         "repetitions": len(cell["ms"]), "runs_ms": cell["ms"], "tiers": cell["tiers"],
                         "server_cpu_s": statistics.median(cell["cpu"]),
                         "load_min": min(cell["loads"]), "load_max": max(cell["loads"]),
                         "load_median": statistics.median(cell["loads"]),
                         "note": f"{len(cell['ms'])} (interleaved passes)" +
                                 ("; data written without rollups" if rollups else "")})
        for (rollups, kind, span), why in failed.items():
            if (rollups, kind, span) not in runs:
                rows.append({"kind": kind, "range": span, "rollups": rollups, "documents": args.size,
                             "tiers": "minute", "not_measured": why})
    finally:
        subprocess.run(run.START[server] + ["stop", state], check=False, capture_output=True)
    for row in rows:
        row["server"] = server
        row["flows"] = args.flows
    out = Path(args.out) / "query.json"
    keep = json.loads(out.read_text()) if out.exists() else []
    replaced = {(r["kind"], r.get("range"), r["rollups"]) for r in rows}
    keep = [r for r in keep if not (r["server"] == server and r["documents"] == args.size
                                    and ((r["kind"], r.get("range"), r["rollups"]) in replaced
                                         or r.get("extrapolated")))]
    out.write_text(json.dumps(keep + rows, indent=1) + "\n")
    print(f"{passes} passes in {(time.monotonic() - started) / 60:.1f} min", file=sys.stderr)


if __name__ == "__main__":
    main()
