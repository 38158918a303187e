#!/usr/bin/env python3
"""Query benchmark: top-10 and series latency (p50/p95) for 1 h, 24 h and 7 d ranges, with and
without rollups, on both embedded servers, and the rollups' write cost.

    bench/query/run.py [--sizes 10000,100000] [--flows 100] [--servers ferretdb,mongo-java-server]
                       [--repetitions 5] [--out docs/benchmarks]

Each (server, size, rollups) point starts its server on a fresh data directory, runs
build/bench/query_benchmark (flows x minutes = size documents, ending now) and collects its JSON
lines. Writes OUT/query.json, OUT/query.png and the tables of OUT/query.md (between the
"<!-- results -->" markers, the prose around them is kept). Needs matplotlib for the plot
(scripts/bench.sh's venv has it). Build first: cmake --build build --target query_benchmark.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "build/bench/query_benchmark"
START = {
    "ferretdb": [str(ROOT / "scripts/ferretdb.sh")],
    "mongo-java-server": [str(ROOT / "bench/servers/mongo-java-server.sh")],
}


def run_point(server, size, flows, rollups, repetitions):
    with tempfile.TemporaryDirectory(prefix="query-bench-") as state:
        uri = subprocess.run(START[server] + ["start", state], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        try:
            out = subprocess.run(
                ["nice", "-n", "10", str(BENCH), "--uri", uri, "--flows", str(flows), "--minutes",
                 str(max(1, size // flows)), "--rollups", "on" if rollups else "off", "--repetitions",
                 str(repetitions)], check=True, capture_output=True, text=True, timeout=3600).stdout
        finally:
            subprocess.run(START[server] + ["stop", state], check=False, capture_output=True)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for row in rows:
        row["server"] = server
    return rows


def tables(rows):
    lines = ["| server | documents | rollups | query | range | p50 ms | p95 ms | tiers |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["kind"] == "write":
            continue
        lines.append(f"| {r['server']} | {r['documents']:,} | {'on' if r['rollups'] else 'off'} | {r['kind']} | "
                     f"{r['range']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['tiers']} |")
    lines += ["", "| server | documents | rollups | records/s | CPU s per million records |", "|---|---|---|---|---|"]
    for r in rows:
        if r["kind"] == "write":
            lines.append(f"| {r['server']} | {r['documents']:,} | {'on' if r['rollups'] else 'off'} | "
                         f"{r['records_per_s']:,.0f} | {r['cpu_s_per_million']:.1f} |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    servers = sorted({r["server"] for r in rows})
    fig, axes = plt.subplots(1, len(servers), figsize=(6 * len(servers), 4), squeeze=False)
    for ax, server in zip(axes[0], servers):
        for kind in ("top10", "top10_filtered", "series60"):
            for rollups in (True, False):
                pts = [r for r in rows if r["server"] == server and r["kind"] == kind and r["rollups"] == rollups
                       and r["range"] == "24h"]
                pts.sort(key=lambda r: r["documents"])
                if pts:
                    ax.plot([r["documents"] for r in pts], [r["p50_ms"] for r in pts], marker="o",
                            linestyle="-" if rollups else "--",
                            label=f"{kind} {'rollups' if rollups else 'minute only'}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("minute documents")
        ax.set_ylabel("p50 latency, 24 h range (ms)")
        ax.set_title(server)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--servers", default="ferretdb,mongo-java-server")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks"))
    args = ap.parse_args()
    out = Path(args.out)
    rows = []
    for server in args.servers.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            for rollups in (True, False):
                print(f"{server} {size} rollups={rollups}", file=sys.stderr, flush=True)
                rows += run_point(server, size, args.flows, rollups, args.repetitions)
    (out / "query.json").write_text(json.dumps(rows, indent=1) + "\n")
    md = out / "query.md"
    text = md.read_text() if md.exists() else "# Query benchmarks\n\n<!-- results -->\n<!-- /results -->\n"
    head, _, rest = text.partition("<!-- results -->")
    _, _, tail = rest.partition("<!-- /results -->")
    md.write_text(head + "<!-- results -->\n" + tables(rows) + "\n<!-- /results -->" + tail)
    try:
        plot(rows, out / "query.png")
    except ImportError:
        print("matplotlib is missing: no plot", file=sys.stderr)


if __name__ == "__main__":
    main()
