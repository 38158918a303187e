#!/usr/bin/env python3
"""Query benchmark: top-10 and series latency (p50/p95) for 1 h, 24 h and 7 d ranges, with and
without rollups, on both embedded servers, and the rollups' write cost.

    bench/query/run.py [--sizes 10000,100000,1000000] [--flows 100]
                       [--servers ferretdb,mongo-java-server] [--repetitions 5]
                       [--scan-limit 20000] [--scan-repetitions 3]
                       [--mjs-backend h2|memory] [--same-data] [--replace] [--resume]
                       [--out docs/benchmarks]

Each (server, size, rollups) point starts its server on a fresh data directory, runs
build/bench/query_benchmark (flows x minutes = size documents, ending now) and collects its JSON
lines, adding the server's CPU seconds (from /proc) for the write phase and the machine's
1-minute load average (sampled every 15 s while the point runs). Writes OUT/query.json,
OUT/query.png and the tables of OUT/query.md (between the "<!-- results -->" markers, the prose
around them is kept). Needs matplotlib for the plot (scripts/bench.sh's venv has it). Build
first: cmake --build build --target query_benchmark.

FerretDB v1 reads a query's whole collection for any filter but an exact _id, so a query that
reads the minute collection (rollups off, or filtered) takes minutes at a million documents.
Above --scan-limit documents such queries on FerretDB run --scan-repetitions times per range
instead of --repetitions.

--same-data: the rollups-off queries run on the data the rollups-on point wrote (the minute
collection is the same either way; the agent is opened with rollups off, so it plans on the
minute tier alone), and the rollups-off point only writes (its write cost), so a large size is
written twice, not queried twice on separate copies.
"""
import argparse
import json
import os
import subprocess
import statistics
import sys
import tempfile
import threading
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


class LoadSampler:
    """The 1-minute load average every `every` seconds while it runs (the machine is shared)."""

    def __init__(self, every=15.0):
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every):
        while True:
            self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))
            if self._stop.wait(every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))

    def summary(self):
        return {"load_min": min(self.samples), "load_median": statistics.median(self.samples),
                "load_max": max(self.samples)}


def run_point(server, size, flows, rollups, args, query=True, unrolled_queries=False):
    """Runs one point on a fresh server. query=False: the write only (its cost).
    unrolled_queries: after the (rollups-on) point's own queries, the rollups-off queries on the
    same data."""
    slow_scans = server == "ferretdb" and size > args.scan_limit
    env = dict(os.environ)
    if server == "mongo-java-server":
        env["MONGO_JAVA_SERVER_BACKEND"] = args.mjs_backend
    with tempfile.TemporaryDirectory(prefix="query-bench-") as state:
        uri = subprocess.run(START[server] + ["start", state], check=True, capture_output=True,
                             text=True, env=env).stdout.strip().splitlines()[-1]
        pid = int(Path(state, PID_FILE[server]).read_text())
        rows = []
        try:
            def bench(extra, reps, rolled=rollups, write=True):
                cpu_before = cpu_seconds(pid)
                cmd = ["nice", "-n", "10", str(BENCH), "--uri", uri, "--flows", str(flows), "--minutes",
                       str(max(1, size // flows)), "--rollups", "on" if rolled else "off", "--repetitions",
                       str(reps), "--write", "on" if write else "off"]
                if args.five_tuple_hours:
                    cmd += ["--five-tuple-hours", args.five_tuple_hours]
                print("  $ " + " ".join(cmd[3:]) + " " + " ".join(extra), file=sys.stderr, flush=True)
                out = []
                with LoadSampler() as load:
                    proc = subprocess.Popen(cmd + extra, stdout=subprocess.PIPE, text=True)
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
                for row in out:
                    row.update(load.summary())
                return out

            if not query:
                rows = bench(["--queries", "none"], 1)
            elif not slow_scans:
                rows = bench([], args.repetitions)
            else:
                # The totals queries with --repetitions; the whole-collection ones (each reads
                # the whole minute collection, whatever the range) with --scan-repetitions.
                if rollups:
                    rows = bench(["--queries", "top10,series60"], args.repetitions)
                    rows += bench(["--queries", "top10_filtered"], args.scan_repetitions, write=False)
                else:
                    rows = bench(["--queries", "none"], 1)
                    rows += bench([], args.scan_repetitions, write=False)
            if unrolled_queries:
                reps = args.scan_repetitions if slow_scans else args.repetitions
                for row in bench([], reps, rolled=False, write=False):
                    rows.append(dict(row, data="written with rollups"))
        finally:
            subprocess.run(START[server] + ["stop", state], check=False, capture_output=True, env=env)
    for row in rows:
        row["server"] = server
        row["flows"] = flows
        if server == "mongo-java-server":
            row["backend"] = args.mjs_backend
        if args.five_tuple_hours and row["rollups"]:
            row["five_tuple_hours"] = args.five_tuple_hours
    return rows


def server_name(r):
    if r["server"] != "mongo-java-server":
        return r["server"]
    return f"mongo-java-server ({r.get('backend', 'h2')})"


def load_text(r):
    if "load_median" not in r:
        return "not recorded"
    return f"{r['load_median']:.1f} ({r['load_min']:.1f}-{r['load_max']:.1f})"


def rollups_text(r):
    if not r["rollups"]:
        return "off"
    text = "on" + (" (no 5-tuple hours)" if r.get("five_tuple_hours") == "off" else "")
    return text


def tables(rows):
    lines = ["| server | documents | flows/min | rollups | query | range | p50 ms | p95 ms | runs | tiers | load avg (median, range) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {"top10": 0, "top10_filtered": 1, "series60": 2}
    spans = {"1h": 0, "24h": 1, "7d": 2}
    queries = sorted((r for r in rows if r["kind"] != "write"),
                     key=lambda r: (server_name(r), r["documents"], not r["rollups"], spans[r["range"]], order[r["kind"]]))
    for r in queries:
        runs = str(r.get("repetitions", ""))
        if r.get("note"):
            runs = r["note"]
        elif r.get("data"):
            runs += f" ({r['data']})"
        if r.get("not_measured"):
            lines.append(f"| {server_name(r)} | {r['documents']:,} | {r.get('flows', 100):,} | "
                         f"{rollups_text(r)} | {r['kind']} | {r['range']} | not measured | | "
                         f"{r['not_measured']} | {r['tiers']} | |")
            continue
        p50 = f"{r['p50_ms']:,.1f}"
        p95 = f"{r['p95_ms']:,.1f}"
        if r.get("extrapolated"):
            p50, p95 = f"*~{r['p50_ms']:,.0f}*", "*n/a*"
        lines.append(f"| {server_name(r)} | {r['documents']:,} | {r.get('flows', 100):,} | "
                     f"{rollups_text(r)} | {r['kind']} | "
                     f"{r['range']} | {p50} | {p95} | {runs} | {r['tiers']} | {load_text(r)} |")
    lines += ["", "| server | documents | flows/min | rollups | records/s | CPU s per million records: collector | server | total | load avg (median, range) |",
              "|---|---|---|---|---|---|---|---|---|"]
    writes = sorted((r for r in rows if r["kind"] == "write"),
                    key=lambda r: (server_name(r), r["documents"], not r["rollups"]))
    for r in writes:
        server_cpu = r.get("server_cpu_s_per_million")
        total = f"{r['cpu_s_per_million'] + server_cpu:.1f}" if server_cpu is not None else "n/a"
        server_text = f"{server_cpu:.1f}" if server_cpu is not None else "not measured"
        lines.append(f"| {server_name(r)} | {r['documents']:,} | {r.get('flows', 100):,} | {rollups_text(r)} | "
                     f"{r['records_per_s']:,.0f} | {r['cpu_s_per_million']:.1f} | {server_text} | {total} | {load_text(r)} |")
    return "\n".join(lines)


def plot(rows, path):
    rows = [r for r in rows if not r.get("not_measured")]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    servers = sorted({server_name(r) for r in rows})
    kinds = ("top10", "top10_filtered", "series60")
    fig, axes = plt.subplots(len(servers), len(kinds), figsize=(5 * len(kinds), 3.8 * len(servers)),
                             squeeze=False, sharey=True)
    colors = {"1h": "tab:blue", "24h": "tab:orange", "7d": "tab:green"}
    for row_axes, server in zip(axes, servers):
        for ax, kind in zip(row_axes, kinds):
            for span in ("1h", "24h", "7d"):
                for rollups in (True, False):
                    pts = sorted((r for r in rows if server_name(r) == server and r["kind"] == kind
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
    ap.add_argument("--scan-repetitions", type=int, default=3,
                    help="repetitions of FerretDB's whole-collection queries above --scan-limit documents")
    ap.add_argument("--mjs-backend", choices=["h2", "memory"], default="memory",
                    help="mongo-java-server's backend (H2 1.47.0/2.3.232 fails at 100,000: query.md)")
    ap.add_argument("--same-data", action="store_true",
                    help="rollups-off queries on the rollups-on point's data; the rollups-off point only writes")
    ap.add_argument("--replace", action="store_true",
                    help="with --resume: run the given points again and replace their rows")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks"))
    args = ap.parse_args()
    out = Path(args.out)
    keep = (args.resume or args.tables_only) and (out / "query.json").exists()
    rows = json.loads((out / "query.json").read_text()) if keep else []
    def point(r):  # mongo-java-server's rows before --mjs-backend were all H2
        return (server_name(r), r["documents"], r["rollups"])

    done = {point(r) for r in rows}
    if args.tables_only:
        done = None
    for server in args.servers.split(",") if done is not None else []:
        name = server_name({"server": server, "backend": args.mjs_backend})
        for size in (int(s) for s in args.sizes.split(",")):
            if args.replace:
                rows = [r for r in rows if point(r)[:2] != (name, size)]
                done = {point(r) for r in rows}
            for rollups in (True, False):
                if (name, size, rollups) in done:
                    continue
                print(f"{server} {size} rollups={rollups}", file=sys.stderr, flush=True)
                rows += run_point(server, size, args.flows, rollups, args,
                                  query=rollups or not args.same_data,
                                  unrolled_queries=rollups and args.same_data)
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
