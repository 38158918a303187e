#!/usr/bin/env python3
"""The flowmetrics benchmark suite: flowmetrics against the described Go design and pymongo.

    bench/run.py [--full] [--servers ferretdb,mongo-java-server] [--uri URI] [--repetitions R]
    bench/run.py --self-check      only the checks of the checker (FerretDB, under a minute)

Runs every peer on the same generated workloads against the same server, interleaved
(repetition by repetition, peers in turn), and writes docs/benchmarks/results.md,
results.json and PNG plots. Each figure names the server it comes from. Start it through
scripts/bench.sh, which installs and builds what it needs.

A figure counts only if the run did the work: after every run the suite reads the collection
back and compares it with what the workload must leave (check_written). A run that fails the
check is reported as failed, not as a figure. Every suite run starts with self_check(), which
shows that the check catches a run that wrote nothing or wrote wrong values.
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workloads import Expectation

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
BUILD = ROOT / "build"
DB = "flowmetrics_bench"

PEERS = {
    "flowmetrics": [str(BUILD / "bench/peers/flowmetrics_peer")],
    "go-fields": [str(TOOLS / "bench/peer-go"), "--filter", "fields"],
    "go-id": [str(TOOLS / "bench/peer-go"), "--filter", "id"],
    "pymongo-fields": [str(TOOLS / "bench-venv/bin/python"), str(ROOT / "bench/peers/python/peer.py"), "--filter",
                       "fields"],
}
AGENT = "flowmetrics-agent"  # `flowmetrics ingest`, the collector's whole path
RUN_TIMEOUT_S = 420  # one peer run; past it the run counts as failed (the machine may be shared)
EXPERIMENTS = ("realistic", "workloads", "batch", "concurrency", "collection_size", "agent_scale")
KEY_FIELDS = ("source_ip", "dest_ip", "source_port", "dest_port", "protocol", "timestamp")

# Sizes on the index-backed servers: (quick, full). FerretDB's are in run_ferretdb().
SIZES = {
    "mongo-java-server": {"metrics": (10_000, 200_000), "keys": (2_500, 50_000),
                          "prefill": ((0, 100_000), (0, 100_000, 1_000_000))},
    "external": {"metrics": (100_000, 1_000_000), "keys": (20_000, 100_000),
                 "prefill": ((0, 100_000), (0, 100_000, 1_000_000))},
}


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Server:
    """An embedded server started through its script, or an external URI."""

    def __init__(self, name, uri=None):
        self.name = name
        self.state = TOOLS / f"bench-{name}"
        self.uri = uri
        self.pid = None
        self._client = None

    def __enter__(self):
        if self.uri:
            return self
        script = {"ferretdb": ROOT / "scripts/ferretdb.sh",
                  "mongo-java-server": ROOT / "bench/servers/mongo-java-server.sh"}[self.name]
        subprocess.run([script, "stop", self.state], check=False)
        subprocess.run(["rm", "-rf", str(self.state)], check=True)
        self.state.mkdir(parents=True)
        self.uri = subprocess.run([script, "start", self.state], check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1]
        pid_file = next(self.state.glob("*.pid"))
        self.pid = int(pid_file.read_text().strip())
        self.script = script
        log(f"{self.name} at {self.uri} (pid {self.pid})")
        return self

    def __exit__(self, *exc):
        if self._client:
            self._client.close()
            self._client = None
        if self.pid:
            subprocess.run([self.script, "stop", self.state], check=False)

    def collection(self, name):
        """The suite's own view of a collection, for dropping and checking (never timed)."""
        if not self._client:
            import pymongo
            from bson.codec_options import DatetimeConversion
            # Dates as milliseconds since the epoch, the workload's own unit.
            self._client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=5000,
                                               datetime_conversion=DatetimeConversion.DATETIME_MS)
        return self._client[DB][name]

    def cpu_seconds(self):
        """User+system CPU the server process has used so far (None for an external server)."""
        if not self.pid:
            return None
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_workload(kind, metrics, keys, seed, directory):
    path = directory / f"{kind}-{metrics}-{keys}-{seed}.tsv"
    if not path.exists():
        with open(path, "w") as out:
            subprocess.run([sys.executable, ROOT / "bench/workloads.py", "--kind", kind, "--metrics", str(metrics),
                            "--keys", str(keys), "--seed", str(seed)], stdout=out, check=True)
    return path


def as_jsonl(tsv):
    """The same workload as JSON lines, for `flowmetrics ingest`."""
    path = tsv.with_suffix(".jsonl")
    if not path.exists():
        with open(tsv) as src, open(path, "w") as out:
            for line in src:
                if line.startswith("#"):
                    continue
                s, d, sp, dp, proto, ts, value = line.rstrip("\n").split("\t")
                out.write(f'{{"source_ip":"{s}","dest_ip":"{d}","source_port":{sp},"dest_port":{dp},'
                          f'"protocol":"{proto}","timestamp":{ts},"value":{value}}}\n')
    return path


class CheckFailed(RuntimeError):
    """A run's collection does not hold what its workload must leave."""


_expectations = {}


def expectation(workload):
    """The workload's Expectation, read once per file."""
    if workload not in _expectations:
        _expectations[workload] = Expectation(workload)
    return _expectations[workload]


def check_written(server, collection, workload, before, exact):
    """Reads the collection back and compares it with what `workload` must leave there under
    `replace`, on top of the `before` documents it held when the run started: exactly one
    document per distinct key of the workload (so `before` + that many in all), each with
    the key's last value in the file (`exact`) or, where two batches holding one key may
    finish in either order, one of the values the key took. Returns what was found (counts
    and value sums, in the workload's units); raises CheckFailed with the first problems."""
    want = expectation(workload)
    found = {}
    total = duplicates = 0
    projection = dict.fromkeys(KEY_FIELDS + ("value",), 1) | {"_id": 0}
    for doc in server.collection(collection).find({}, projection, batch_size=10_000):
        total += 1
        timestamp = doc.get("timestamp")
        key = tuple(doc.get(f) for f in KEY_FIELDS[:-1]) + (None if timestamp is None else int(timestamp),)
        if key in want.last:
            duplicates += key in found
            found[key] = doc.get("value")
    problems = []
    written = total - before
    if written != len(want):
        problems.append(f"{written} documents written, the workload makes {len(want)}")
    if len(found) != len(want):
        problems.append(f"{len(want) - len(found)} of the workload's {len(want)} keys have no document")
    if duplicates:
        problems.append(f"{duplicates} keys have more than one document")
    wrong = 0
    value_sum = 0
    for key, value in found.items():
        cents = round(value * 100) if isinstance(value, float) else None
        if cents is None or cents / 100 != value:
            wrong += 1
            continue
        value_sum += cents
        if cents != want.last[key] and (exact or cents not in want.alternatives.get(key, ())):
            wrong += 1
    if wrong:
        problems.append(f"{wrong} documents do not hold their key's last value in the workload" if exact else
                        f"{wrong} documents hold a value their key never had in the workload")
    if exact and not problems and value_sum != want.last_sum:
        problems.append(f"value sum {value_sum / 100:.2f}, the workload's {want.last_sum / 100:.2f}")
    if problems:
        raise CheckFailed(f"check of {collection}: " + "; ".join(problems))
    return {"documents": written, "expected_documents": len(want), "value_sum": value_sum / 100,
            "expected_value_sum": want.last_sum / 100 if exact else None,
            "values": "last" if exact else "any of the key's"}


def agent_command(server, workload, collection, batch, concurrency, spool, skip_indexes=False):
    """`flowmetrics ingest` of the workload, spooling into `spool`. ingest resumes a file
    from the offset its spool recorded, so a spool used twice makes the second run ingest
    nothing: every measured run gets a directory of its own."""
    command = [str(BUILD / "apps/flowmetrics"), "ingest", str(as_jsonl(workload)),
               "--set", f"spool.directory={spool}",
               "--set", f"database.uri={server.uri}", "--set", f"database.database={DB}",
               "--set", f"database.collection={collection}", "--set", "database.merge_policy=replace",
               "--set", "pipeline.bucket_seconds=0", "--set", f"pipeline.writers={min(concurrency, 9)}",
               "--set", f"pipeline.max_batch_keys={batch}", "--set", "log.level=warn"]
    if skip_indexes:
        command += ["--set", "database.create_indexes=false"]
    return command


def fresh_spool():
    (TOOLS / "bench-spools").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="spool-", dir=TOOLS / "bench-spools"))


def run_peer(peer, server, workload, collection, batch, concurrency, skip_indexes=False):
    """Runs one peer once and checks what it wrote (check_written); returns its figures, with
    the client's peak RSS, the server's CPU and the check's findings. Raises RuntimeError
    (CheckFailed when the collection is wrong) if the run does not count."""
    spool = None
    if peer == AGENT:
        spool = fresh_spool()
        command = agent_command(server, workload, collection, batch, concurrency, spool, skip_indexes)
    else:
        command = PEERS[peer] + ["--uri", server.uri, "--db", DB, "--collection", collection, "--workload",
                                 str(workload), "--batch", str(batch), "--concurrency", str(concurrency)]
        if skip_indexes:
            command.append("--skip-indexes")
    before = server.collection(collection).count_documents({})
    try:
        result = timed_run(peer, server, command, workload, cwd=spool)
    finally:
        if spool:
            shutil.rmtree(spool, ignore_errors=True)
    # Each key's last value is deterministic where one writer holds a key at a time: the agent
    # (a key always goes to the same writer, in file order) and any peer with one worker.
    result["check"] = check_written(server, collection, workload, before,
                                    exact=peer == AGENT or concurrency == 1)
    return result


def timed_run(peer, server, command, workload, cwd=None):
    """Runs one peer's command and measures it (wall time, its rusage, the server's CPU)."""
    server_cpu = server.cpu_seconds()
    start = time.monotonic()
    out_file, err_file = open(TOOLS / "bench-peer.out", "w+"), open(TOOLS / "bench-peer.err", "w+")
    process = subprocess.Popen(command, stdout=out_file, stderr=err_file, text=True, cwd=cwd)
    deadline = start + RUN_TIMEOUT_S
    peak_rss_kb = 0
    while True:
        # The peer's own high-water mark, sampled every 10 ms. rusage's ru_maxrss will not do:
        # Linux carries the forking process's RSS (this suite's, with its pymongo and the
        # workload it checks against) into the child's figure across exec.
        try:
            status_text = Path(f"/proc/{process.pid}/status").read_text()
            peak_rss_kb = max(peak_rss_kb, int(status_text.split("VmHWM:", 1)[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise RuntimeError(f"{peer} did not finish within {RUN_TIMEOUT_S} s")
        time.sleep(0.01)
    wall = time.monotonic() - start
    out_file.seek(0)
    err_file.seek(0)
    stdout, stderr = out_file.read(), err_file.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{peer} failed ({code}): {stderr.strip()[-2000:]}")
    if "resuming at byte" in stderr:
        raise RuntimeError(f"{peer} resumed from an earlier run's spool: {stderr.strip()[-300:]}")
    metrics = sum(1 for line in open(workload) if not line.startswith("#"))
    if peer == AGENT:
        # The agent is measured from outside: all of it counts, parsing included.
        result = {"peer": AGENT, "metrics": metrics, "seconds": wall, "p50_ms": None, "p99_ms": None,
                  "documents_written": None, "cpu_user_s": usage.ru_utime, "cpu_sys_s": usage.ru_stime}
    else:
        result = json.loads(stdout.strip().splitlines()[-1])
        if result["metrics"] != metrics:
            raise RuntimeError(f"{peer} reports {result['metrics']} metrics, the workload has {metrics}")
    result["peak_rss_mb"] = peak_rss_kb / 1024 if peak_rss_kb else None
    after = server.cpu_seconds()
    result["server_cpu_s"] = None if server_cpu is None else after - server_cpu
    result["metrics_per_s"] = result["metrics"] / result["seconds"]
    result["client_cpu_s_per_million"] = (result["cpu_user_s"] + result["cpu_sys_s"]) / result["metrics"] * 1e6
    if result.get("documents_written") is not None:
        result["documents_per_s"] = result["documents_written"] / result["seconds"]
    return result


def drop_collection(server, collection):
    server.collection(collection).drop()


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def experiment(name, server, peers, workload, batch, concurrency, repetitions, prefill=None, results=None):
    """Runs every peer `repetitions` times, interleaved; each run on a fresh collection unless
    `prefill` names a prefilled one. `workload` is a path, or a function (rep, peer) -> path
    giving each run its own keys (so that runs on a prefilled collection all insert new ones)."""
    import pymongo.errors

    runs = {peer: [] for peer in peers}
    failures = {peer: [] for peer in peers}
    for rep in range(repetitions):
        order = list(peers)
        random.Random(rep).shuffle(order)  # no peer always runs first on a cold server
        for peer in order:
            collection = prefill or f"{name}_{peer}_{rep}".replace("-", "_")
            path = workload(rep, peer) if callable(workload) else workload
            try:
                if not prefill:
                    drop_collection(server, collection)
                result = run_peer(peer, server, path, collection, batch, concurrency, skip_indexes=bool(prefill))
            except (RuntimeError, subprocess.TimeoutExpired, pymongo.errors.PyMongoError) as error:
                # A peer that fails, or whose collection fails the check, is a result too: it
                # is reported as failed (never as a figure), and the suite goes on.
                failures[peer].append((str(error).strip().splitlines() or ["?"])[-1][:300])
                log(f"{server.name} {name} batch={batch} conc={concurrency} {peer}: FAILED {failures[peer][-1]}")
                continue
            runs[peer].append(result)
            log(f"{server.name} {name} batch={batch} conc={concurrency} {peer}: "
                f"{result['metrics_per_s']:.0f} metrics/s, {result['client_cpu_s_per_million']:.2f} CPU s/M, "
                f"checked {result['check']['documents']} documents")
            if not prefill:
                drop_collection(server, collection)
    row = {"experiment": name, "server": server.name, "batch": batch, "concurrency": concurrency,
           "workload": workload.name if not callable(workload) else "unique (new keys per run)",
           "prefill": prefill, "peers": {}}
    for peer, peer_runs in runs.items():
        row["peers"][peer] = {key: summarize([r.get(key) for r in peer_runs]) for key in
                              ("metrics_per_s", "documents_per_s", "p50_ms", "p99_ms", "client_cpu_s_per_million",
                               "peak_rss_mb", "server_cpu_s")}
        row["peers"][peer]["runs"] = repetitions
        row["peers"][peer]["checked_runs"] = len(peer_runs)
        row["peers"][peer]["failed"] = failures[peer][0] if failures[peer] else None
        row["peers"][peer]["failures"] = failures[peer]
        row["peers"][peer]["checks"] = [r["check"] for r in peer_runs]
    results.append(row)
    return row


def prefill_collection(server, documents, directory):
    """A collection holding `documents` documents written by flowmetrics (with its index)."""
    collection = f"prefill_{documents}"
    drop_collection(server, collection)
    if documents:
        workload = make_workload("unique", documents, documents, 1000 + documents, directory)
        run_peer("flowmetrics", server, workload, collection, 10_000, 4)
    else:
        # An empty collection with the same unique index, so that every size is measured
        # with the index the peers' filters rely on.
        server.collection(collection).create_index([(f, 1) for f in KEY_FIELDS], unique=True,
                                                   name="flowmetrics_key_unique")
    return collection


def machine_description():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    memory = next(line.split(":", 1)[1].strip() for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({model}), {memory} memory, {platform.platform()}"


def fmt(summary, scale=1.0, digits=0):
    if not summary:
        return "-"
    return f"{summary['median'] * scale:,.{digits}f} [{summary['min'] * scale:,.{digits}f}-{summary['max'] * scale:,.{digits}f}]"


def checked(s):
    """The 'checked runs' cell: how many of the runs passed the check, and why the others did not."""
    cell = f"{s['checked_runs']}/{s['runs']}"
    if s["failures"]:
        cell += f" ({len(s['failures'])} failed: {s['failures'][0]})".replace("|", "/")
    return cell


def write_report(results, out, args, context):
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"context": context, "results": results}, indent=1))
    lines = [
        "# flowmetrics benchmark results", "",
        f"Measured {context['date']} on {context['machine']}, at commit {context['commit']}. "
        f"Load average (1/5/15 min) at the start {context['load_start']}, at the end {context['load_end']}: "
        "the figures are only comparable within one run, peers against each other.",
        f"Command: `{context['command']}` ({args.repetitions} repetitions for the "
        f"realistic workload, {max(2, args.repetitions - 1)} for the sweeps (when run), 2 for the agent below 100k documents "
        "and 1 from 100k; peers interleaved; each run on a fresh collection unless prefilled; each run of the "
        f"agent with a fresh spool directory). It took {context['minutes']:.0f} minutes.",
        "Cells: median [min-max] over the runs that passed the check. Client CPU counts the peer process's own "
        "user+system time while it writes (the agent: its whole run, parsing included). Server CPU is the server "
        "process's CPU during the run.", "",
    ]
    if skipped := [e for e in EXPERIMENTS if e not in args.experiments]:
        lines += [f"Experiments run: {', '.join(args.experiments)}; not run this time: {', '.join(skipped)}.", ""]
    lines += [
        "**Every run is checked.** After each run the suite reads the collection back (pymongo, untimed) and "
        "compares it with what the workload must leave under `replace`: one document per distinct key of the "
        "workload and no other new one, each holding the key's last value in the file (the agent, and any peer "
        "with one worker) or, for peers with several workers, one of the values the key took (two batches "
        "holding one key may finish in either order), and for the former the exact sum of the values. A run "
        "that fails the check, or exits non-zero, is counted as failed and gives no figure (`checked runs`). "
        "Before measuring, the suite runs its self-check (`scripts/bench.sh --self-check` runs it alone): two "
        "agent runs in a row both pass, and the check fails a run that reused a spool (and wrote nothing), a "
        "changed value, a missing document and an extra one.", "",
    ]
    headline = [r for r in results if r["experiment"] == "realistic"]
    for row in headline:
        base = row["peers"]["flowmetrics"]
        lines += [f"## Realistic workload (Zipf flows), {row['server']}", "",
                  f"Workload `{row['workload']}`, batch {row['batch']}, concurrency {row['concurrency']}.", "",
                  "| peer | checked runs | metrics/s | documents/s | batch p50 ms | batch p99 ms | "
                  "client CPU s / M metrics | client peak RSS MB | server CPU s | flowmetrics speed-up | "
                  "flowmetrics CPU saving |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for peer, s in row["peers"].items():
            if not s["metrics_per_s"]:
                lines.append(f"| {peer} | {checked(s)} | failed | | | | | | | | |")
                continue
            ratio = cpu_ratio = "-"
            if base["metrics_per_s"]:
                ratio = f"{base['metrics_per_s']['median'] / s['metrics_per_s']['median']:.2f}x"
                cpu_ratio = (f"{s['client_cpu_s_per_million']['median'] / base['client_cpu_s_per_million']['median']:.2f}x")
            lines.append(f"| {peer} | {checked(s)} | {fmt(s['metrics_per_s'])} | {fmt(s['documents_per_s'])} | "
                         f"{fmt(s['p50_ms'], digits=1)} | {fmt(s['p99_ms'], digits=1)} | "
                         f"{fmt(s['client_cpu_s_per_million'], digits=2)} | {fmt(s['peak_rss_mb'], digits=1)} | "
                         f"{fmt(s['server_cpu_s'], digits=2)} | {ratio} | {cpu_ratio} |")
        lines.append("")
    for name, title, key in (("batch", "Throughput vs batch size", "batch"),
                             ("concurrency", "Throughput vs concurrency", "concurrency"),
                             ("collection_size", "Throughput vs collection size (documents before the run)",
                              "prefill"),
                             ("workloads", "Workload kinds", "workload"),
                             ("agent_scale", "The agent writing N new documents (choice of default server)",
                              "documents")):
        rows = [r for r in results if r["experiment"] == name]
        if not rows:
            continue
        lines += [f"## {title}", "",
                  "| server | " + key + " | peer | checked runs | metrics/s | client CPU s / M | p99 ms |",
                  "|---|---|---|---|---|---|---|"]
        for row in rows:
            for peer, s in row["peers"].items():
                if not s["metrics_per_s"]:
                    lines.append(f"| {row['server']} | {row[key]} | {peer} | {checked(s)} | failed | | |")
                    continue
                lines.append(f"| {row['server']} | {row[key]} | {peer} | {checked(s)} | {fmt(s['metrics_per_s'])} | "
                             f"{fmt(s['client_cpu_s_per_million'], digits=2)} | {fmt(s['p99_ms'], digits=1)} |")
        lines.append("")
    lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in context.get("plots", [])] + [""]
    (out / "results.md").write_text("\n".join(lines))
    log(f"wrote {out / 'results.md'}")


def plot(results, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def curve(name, key, filename, xlabel, logx=True):
        rows = [r for r in results if r["experiment"] == name]
        if not rows:
            return
        fig, axes = plt.subplots(1, len({r["server"] for r in rows}), figsize=(6 * len({r["server"] for r in rows}), 4),
                                 squeeze=False)
        for ax, server in zip(axes[0], sorted({r["server"] for r in rows})):
            server_rows = sorted((r for r in rows if r["server"] == server), key=lambda r: r[key] or 0)
            for peer in server_rows[0]["peers"]:
                server_rows_ok = [r for r in server_rows if r["peers"][peer]["metrics_per_s"]]
                if not server_rows_ok:
                    continue
                xs = [r[key] for r in server_rows_ok]
                ys = [r["peers"][peer]["metrics_per_s"]["median"] for r in server_rows_ok]
                lo = [r["peers"][peer]["metrics_per_s"]["min"] for r in server_rows_ok]
                hi = [r["peers"][peer]["metrics_per_s"]["max"] for r in server_rows_ok]
                ax.errorbar(xs, ys, yerr=[[y - l for y, l in zip(ys, lo)], [h - y for y, h in zip(ys, hi)]],
                            marker="o", capsize=3, label=peer)
            if logx:
                ax.set_xscale("symlog" if key == "prefill" else "log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("metrics/s")
            ax.set_title(server)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / filename, dpi=110)
        plt.close(fig)
        written.append(filename)

    curve("batch", "batch", "throughput_vs_batch.png", "batch size")
    curve("concurrency", "concurrency", "throughput_vs_concurrency.png", "concurrent writers")
    curve("collection_size", "prefill", "throughput_vs_collection_size.png", "documents before the run")
    rows = [r for r in results if r["experiment"] == "realistic"]
    if rows:
        fig, axes = plt.subplots(1, len(rows), figsize=(6 * len(rows), 4), squeeze=False)
        for ax, row in zip(axes[0], rows):
            peers = [p for p in row["peers"] if row["peers"][p]["client_cpu_s_per_million"]]
            values = [row["peers"][p]["client_cpu_s_per_million"]["median"] for p in peers]
            ax.bar(peers, values)
            ax.set_ylabel("client CPU seconds per million metrics")
            ax.set_title(f"realistic workload, {row['server']}")
            ax.tick_params(axis="x", rotation=30)
        fig.tight_layout()
        fig.savefig(out / "cpu_per_million_metrics.png", dpi=110)
        plt.close(fig)
        written.append("cpu_per_million_metrics.png")
    return sorted(written)


def agent_scale(server, args, work, results):
    """The agent writing 10k, 100k (and 1M with --full) new documents: the default-server choice."""
    if "agent_scale" not in args.experiments:
        return
    for documents in (10_000, 100_000) + ((1_000_000,) if args.full else ()):
        unique = make_workload("unique", documents, documents, 7, work)
        row = experiment("agent_scale", server, [AGENT], unique, 5_000, 2, 1 if documents >= 100_000 else 2,
                         results=results)
        row["documents"] = documents


def run_ferretdb(server, args, size, work, results):
    """FerretDB v1 limits what can be run: an update command of more than 100 statements hangs
    it for good, concurrent upserts of one new key fail there (no server-side retry), and a
    filter on the six fields scans the collection per statement. So the peers that send one
    update command per batch run with batch 100 and one worker, on a small workload."""
    metrics, keys = (1_000, 10_000)[size], (200, 2_000)[size]
    zipf = make_workload("zipf", metrics, keys, 1, work)
    if "realistic" in args.experiments:
        experiment("realistic", server, ["flowmetrics", AGENT, "go-fields", "go-id", "pymongo-fields"], zipf, 100, 1,
                   args.repetitions, results=results)
    agent_scale(server, args, work, results)


def run_indexed(server, args, size, work, results):
    """A server that looks documents up through its indexes: every sweep."""
    sizes = SIZES[server.name]
    metrics, keys = sizes["metrics"][size], sizes["keys"][size]
    all_peers = ["flowmetrics", AGENT, "go-fields", "go-id", "pymongo-fields"]
    core_peers = ["flowmetrics", "go-fields", "pymongo-fields"]
    zipf = make_workload("zipf", metrics, keys, 1, work)
    wanted = args.experiments
    if "realistic" in wanted:
        experiment("realistic", server, all_peers, zipf, 1_000, 4, args.repetitions, results=results)
    # The sweeps get one repetition fewer than the headline (at least 2), to keep the quick
    # suite under 10 minutes.
    sweep_reps = max(2, args.repetitions - 1)
    for kind in ("unique", "update") if "workloads" in wanted else ():
        row = experiment("workloads", server, core_peers, make_workload(kind, metrics, keys, 2, work), 1_000, 4,
                         sweep_reps, results=results)
        row["workload"] = kind
    for batch in (100, 1_000, 10_000) if "batch" in wanted else ():
        experiment("batch", server, core_peers, zipf, batch, 4, sweep_reps, results=results)
    for concurrency in ((1, 4, 16) if not args.full else (1, 2, 4, 8, 16, 32)) if "concurrency" in wanted else ():
        experiment("concurrency", server, core_peers, zipf, 1_000, concurrency, sweep_reps, results=results)
    peer_index = {peer: i for i, peer in enumerate(core_peers)}
    per_run = min(metrics, 10_000)
    for documents in sizes["prefill"][size] if "collection_size" in wanted else ():
        try:
            collection = prefill_collection(server, documents, work)
        except RuntimeError as error:
            # Without its prefilled collection the size cannot be measured: every peer fails it.
            reason = f"prefill failed: {(str(error).strip().splitlines() or ['?'])[-1][:200]}"
            log(f"{server.name} collection_size {documents}: {reason}")
            results.append({"experiment": "collection_size", "server": server.name, "batch": 1_000,
                            "concurrency": 4, "workload": "unique (new keys per run)", "prefill": documents,
                            "peers": {peer: {"metrics_per_s": None, "runs": sweep_reps, "checked_runs": 0,
                                             "failed": reason, "failures": [reason], "checks": []}
                                      for peer in core_peers}})
            continue

        def fresh_keys(rep, peer):
            return make_workload("unique", per_run, per_run, 100 + 10 * rep + peer_index[peer], work)

        row = experiment("collection_size", server, core_peers, fresh_keys, 1_000, 4, sweep_reps,
                         prefill=collection, results=results)
        row["prefill"] = documents
    agent_scale(server, args, work, results)


def self_check(server, work):
    """The checks of the checker, on a small workload: the suite refuses to measure unless
    they pass. Raises AssertionError naming the check that did not hold."""
    zipf = make_workload("zipf", 1_000, 200, 1, work)
    want = expectation(zipf)

    def expect_failure(what, collection, before=0):
        try:
            check_written(server, collection, zipf, before, exact=True)
        except CheckFailed as error:
            log(f"self-check: {what}: caught ({error})")
            return
        raise AssertionError(f"self-check: the check passed {what}")

    # Two agent runs of one file in a row (the same inode each time), as the repetitions do:
    # each must write the whole workload.
    for rep in range(2):
        collection = f"selfcheck_agent_{rep}"
        drop_collection(server, collection)
        result = run_peer(AGENT, server, zipf, collection, 100, 2)
        assert result["check"]["documents"] == len(want), result["check"]
        log(f"self-check: agent run {rep + 1} of one file wrote and passed: {result['check']}")
    # The earlier bug, on purpose: a second run sharing the first one's spool resumes past
    # the end of the file and writes nothing, and the check must say so.
    spool = fresh_spool()
    try:
        for rep in range(2):
            collection = f"selfcheck_shared_{rep}"
            drop_collection(server, collection)
            start = time.monotonic()
            subprocess.run(agent_command(server, zipf, collection, 100, 2, spool), cwd=spool, check=True,
                           capture_output=True)
            seconds = time.monotonic() - start
            log(f"self-check: shared spool, run {rep + 1}: exit 0, {want.metrics / seconds:,.0f} metrics/s as the "
                f"earlier suite timed it, {server.collection(collection).count_documents({})} documents written")
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    check_written(server, "selfcheck_shared_0", zipf, 0, exact=True)
    expect_failure("a run that reused a spool", "selfcheck_shared_1")
    # Damage to a good collection: a changed value, a missing document, an extra document.
    collection = server.collection("selfcheck_agent_0")
    victim = collection.find_one({}, sort=[("value", 1)])
    collection.update_one({"_id": victim["_id"]}, {"$set": {"value": victim["value"] + 0.01}})
    expect_failure("a changed value", "selfcheck_agent_0")
    collection.delete_one({"_id": victim["_id"]})
    expect_failure("a missing document", "selfcheck_agent_0")
    extra = server.collection("selfcheck_agent_1")
    extra.insert_one({"source_ip": "10.255.255.255", "dest_ip": "192.168.0.1", "source_port": 1, "dest_port": 1,
                      "protocol": "TCP", "timestamp": 0, "value": 1.0})
    expect_failure("an extra document", "selfcheck_agent_1")
    for name in ("selfcheck_agent_0", "selfcheck_agent_1", "selfcheck_shared_0", "selfcheck_shared_1"):
        drop_collection(server, name)
    log("self-check passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the long run: larger workloads and collections")
    parser.add_argument("--servers", default="ferretdb,mongo-java-server")
    parser.add_argument("--uri", help="also run against this server (a real MongoDB)")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "docs/benchmarks"))
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS),
                        help="which experiments to run, comma-separated (default: all): " + ", ".join(EXPERIMENTS))
    parser.add_argument("--self-check", action="store_true",
                        help="only check the checker (on FerretDB) and exit: 0 when it holds")
    args = parser.parse_args()
    args.experiments = [e for e in args.experiments.split(",") if e]
    if unknown := set(args.experiments) - set(EXPERIMENTS):
        parser.error(f"unknown experiments: {', '.join(sorted(unknown))}")
    size = 1 if args.full else 0
    work = TOOLS / "bench-workloads"
    work.mkdir(parents=True, exist_ok=True)
    if args.self_check:
        with Server("ferretdb") as server:
            self_check(server, work)
        return
    context = {"date": datetime.date.today().isoformat(), "machine": machine_description(),
               "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True).stdout.strip() or "unknown",
               "command": "scripts/bench.sh" + "".join(f" {a}" for a in sys.argv[1:]),
               "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    started = time.monotonic()
    results = []
    servers = [Server(name) for name in args.servers.split(",") if name]
    if args.uri:
        servers.append(Server("external", args.uri))
    for i, server in enumerate(servers):
        with server:
            if i == 0:
                self_check(server, work)
            if server.name == "ferretdb":
                run_ferretdb(server, args, size, work, results)
            else:
                run_indexed(server, args, size, work, results)
    context["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    context["minutes"] = (time.monotonic() - started) / 60
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # A plot of an experiment this run did not do would show an older run's figures: it goes.
    for name in ("throughput_vs_batch.png", "throughput_vs_concurrency.png", "throughput_vs_collection_size.png",
                 "cpu_per_million_metrics.png"):
        (out / name).unlink(missing_ok=True)
    context["plots"] = plot(results, out)
    write_report(results, out, args, context)


if __name__ == "__main__":
    main()
