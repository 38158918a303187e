#!/usr/bin/env python3
"""Query benchmark: top-10 and series latency (p50/p95) for 1 h, 24 h and 7 d ranges, with and
without rollups, on both embedded servers, and the rollups' write cost.

    bench/query/run.py [--sizes 10000,100000,1000000] [--flows 100]
                       [--servers ferretdb,mongo-java-server] [--repetitions 5]
                       [--scan-limit 20000] [--resume] [--out docs/benchmarks]

Each (server, size, rollups) point starts its server on a fresh data directory, runs
build/bench/query_benchmark (flows x minutes = size documents, ending now) and collects its JSON
lines, adding the server's CPU seconds (from /proc) for the write phase. Writes
OUT/query.json, OUT/query.png and the tables of OUT/query.md (between the "<!-- results -->"
markers, the prose around them is kept). Needs matplotlib for the plot (scripts/bench.sh's
venv has it). Build first: cmake --build build --target query_benchmark.

FerretDB v1 reads a query's whole collection at about 5-20k documents/s on a loaded 2-core
machine, so a query that reads the minute collection (rollups off, or filtered) takes minutes
at a million documents. Above --scan-limit documents such queries on FerretDB are run once,
for the 24 h range only; the other ranges (which read the same whole collection) are written
as that measurement, marked "measured once (24 h)" in the tables.
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


PID_FILE = {"ferretdb": "ferretdb.pid", "mongo-java-server": "server.pid"}


def cpu_seconds(pid):
    """User + system CPU of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def run_point(server, size, flows, rollups, repetitions, scan_limit, five_tuple_hours=None):
    slow_scans = server == "ferretdb" and size > scan_limit
    with tempfile.TemporaryDirectory(prefix="query-bench-") as state:
        uri = subprocess.run(START[server] + ["start", state], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        pid = int(Path(state, PID_FILE[server]).read_text())
        rows = []
        try:
            def bench(extra, reps):
                cpu_before = cpu_seconds(pid)
                proc = subprocess.Popen(
                    ["nice", "-n", "10", str(BENCH), "--uri", uri, "--flows", str(flows), "--minutes",
                     str(max(1, size // flows)), "--rollups", "on" if rollups else "off", "--repetitions",
                     str(reps)] + (["--five-tuple-hours", five_tuple_hours] if five_tuple_hours else []) + extra,
                    stdout=subprocess.PIPE, text=True)
                out = []
                for line in proc.stdout:
                    if not line.startswith("{"):
                        continue
                    row = json.loads(line)
                    if row["kind"] == "write":
                        row["server_cpu_s_per_million"] = (cpu_seconds(pid) - cpu_before) / row["documents"] * 1e6
                    out.append(row)
                    print("  " + json.dumps(row), file=sys.stderr, flush=True)
                if proc.wait() != 0:
                    raise RuntimeError(f"query_benchmark failed: {proc.returncode}")
                return out

            if not slow_scans:
                rows = bench([], repetitions)
            else:
                # The totals queries as usual; the whole-collection ones once, on 24 h, and
                # that figure stands for the other ranges (each reads the whole collection).
                rows = bench(["--queries", "top10,series60" if rollups else "none"], repetitions)
                scans = "top10_filtered" if rollups else "top10,top10_filtered,series60"
                for row in bench(["--write", "off", "--ranges", "24h", "--queries", scans], 1):
                    for span in ("1h", "24h", "7d"):
                        rows.append(dict(row, range=span, note="measured once (24 h)"))
        finally:
            subprocess.run(START[server] + ["stop", state], check=False, capture_output=True)
    for row in rows:
        row["server"] = server
        row["flows"] = flows
        if five_tuple_hours and rollups:
            row["five_tuple_hours"] = five_tuple_hours
    return rows


def tables(rows):
    lines = ["| server | documents | flows/min | rollups | query | range | p50 ms | p95 ms | runs | tiers |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    order = {"top10": 0, "top10_filtered": 1, "series60": 2}
    spans = {"1h": 0, "24h": 1, "7d": 2}
    queries = sorted((r for r in rows if r["kind"] != "write"),
                     key=lambda r: (r["server"], r["documents"], not r["rollups"], spans[r["range"]], order[r["kind"]]))
    for r in queries:
        runs = r.get("note", str(r.get("repetitions", "")))
        p50 = f"{r['p50_ms']:,.1f}"
        p95 = f"{r['p95_ms']:,.1f}"
        if r.get("extrapolated"):
            p50, p95 = f"*~{r['p50_ms']:,.0f}*", "*n/a*"
        rolled = ("on" + (" (no 5-tuple hours)" if r.get("five_tuple_hours") == "off" else "")) if r["rollups"] else "off"
        lines.append(f"| {r['server']} | {r['documents']:,} | {r.get('flows', 100):,} | "
                     f"{rolled} | {r['kind']} | "
                     f"{r['range']} | {p50} | {p95} | {runs} | {r['tiers']} |")
    lines += ["", "| server | documents | flows/min | rollups | records/s | CPU s per million records: collector | server | total |",
              "|---|---|---|---|---|---|---|---|"]
    writes = sorted((r for r in rows if r["kind"] == "write"),
                    key=lambda r: (r["server"], r["documents"], not r["rollups"]))
    for r in writes:
        server_cpu = r.get("server_cpu_s_per_million")
        total = f"{r['cpu_s_per_million'] + server_cpu:.1f}" if server_cpu is not None else "n/a"
        server_text = f"{server_cpu:.1f}" if server_cpu is not None else "not measured"
        rolled = ("on" + (" (no 5-tuple hours)" if r.get("five_tuple_hours") == "off" else "")) if r["rollups"] else "off"
        lines.append(f"| {r['server']} | {r['documents']:,} | {r.get('flows', 100):,} | {rolled} | "
                     f"{r['records_per_s']:,.0f} | {r['cpu_s_per_million']:.1f} | {server_text} | {total} |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    servers = sorted({r["server"] for r in rows})
    kinds = ("top10", "top10_filtered", "series60")
    fig, axes = plt.subplots(len(servers), len(kinds), figsize=(5 * len(kinds), 3.8 * len(servers)),
                             squeeze=False, sharey=True)
    colors = {"1h": "tab:blue", "24h": "tab:orange", "7d": "tab:green"}
    for row_axes, server in zip(axes, servers):
        for ax, kind in zip(row_axes, kinds):
            for span in ("1h", "24h", "7d"):
                for rollups in (True, False):
                    pts = sorted((r for r in rows if r["server"] == server and r["kind"] == kind
                                  and r["rollups"] == rollups and r["range"] == span),
                                 key=lambda r: r["documents"])
                    measured = [r for r in pts if not r.get("extrapolated")]
                    guessed = [r for r in pts if r.get("extrapolated")]
                    style = "-" if rollups else "--"
                    label = f"{span} {'rollups' if rollups else 'minute only'}"
                    if measured:
                        ax.plot([r["documents"] for r in measured], [max(r["p50_ms"], 0.1) for r in measured],
                                marker="o", color=colors[span], linestyle=style, label=label)
                    if guessed:
                        link = measured[-1:] + guessed
                        ax.plot([r["documents"] for r in link], [max(r["p50_ms"], 0.1) for r in link], marker="o",
                                markerfacecolor="none", color=colors[span], linestyle=":",
                                label=None if measured else label)
                    for r in pts:
                        if r.get("extrapolated") or r.get("flows", 100) != 100:
                            ax.annotate("extrapolated" if r.get("extrapolated") else f"{r['flows']:,} flows",
                                        (r["documents"], max(r["p50_ms"], 0.1)), fontsize=6,
                                        textcoords="offset points", xytext=(3, 3))
            ax.axhline(200, color="grey", linewidth=0.8, linestyle=":")
            ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("minute documents")
            ax.set_ylabel("p50 latency (ms)")
            ax.set_title(f"{server}: {kind}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--scan-limit", type=int, default=20000)
    ap.add_argument("--resume", action="store_true", help="keep the points OUT/query.json already has")
    ap.add_argument("--five-tuple-hours", choices=["on", "off"], help="default: the agent's (off on FerretDB)")
    ap.add_argument("--tables-only", action="store_true", help="only rewrite the tables and the plot from OUT/query.json")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--servers", default="ferretdb,mongo-java-server")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks"))
    args = ap.parse_args()
    out = Path(args.out)
    keep = (args.resume or args.tables_only) and (out / "query.json").exists()
    rows = json.loads((out / "query.json").read_text()) if keep else []
    done = {(r["server"], r["documents"], r["rollups"]) for r in rows}
    if args.tables_only:
        done = None
    for server in args.servers.split(",") if done is not None else []:
        for size in (int(s) for s in args.sizes.split(",")):
            for rollups in (True, False):
                if (server, size, rollups) in done:
                    continue
                print(f"{server} {size} rollups={rollups}", file=sys.stderr, flush=True)
                rows += run_point(server, size, args.flows, rollups, args.repetitions, args.scan_limit,
                                  args.five_tuple_hours)
                # Saved as it goes: a long run stopped half way keeps what it measured.
                (out / "query.json").write_text(json.dumps(rows, indent=1) + "\n")
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
