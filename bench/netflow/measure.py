#!/usr/bin/env python3
"""NetFlow collectors side by side: flowmetrics serve, pmacct's nfacctd, goflow2 and nfcapd.

Called by bench/netflow/run.sh (which builds, installs and starts the database); see
docs/benchmarks/netflow.md for what it measures and the figures. For each protocol (v9,
IPFIX), repetition and collector, in turn:

  1. start the collector on a free loopback UDP port, wait until it listens, note its idle
     RSS (all its processes);
  2. warm up: replay the recorded stream (netflow_replay --read: 100k distinct five-tuples,
     30 records a datagram, template every 1000 datagrams) once through at 100k records/s,
     wait until the collector's CPU time stops growing, note its RSS: every key is held now;
  3. measure: replay the stream at the offered rate for the given seconds, wait until the
     CPU time stops growing (it has worked through its queues), then read its CPU seconds
     (utime + stime of all its processes, /proc/PID/stat), the socket's kernel drop counter
     (/proc/net/udp) and its own count of records (flowmetrics and goflow2: /metrics;
     nfacctd: the packets of its print output; nfcapd: "Flows:" in its log, both at exit,
     less the warm-up's records);
  4. stop it.

Records/s per core is 1e6 / (CPU-s per million records); loss is 1 - counted / offered;
memory per key is (RSS after the warm-up - idle RSS) / keys, for the collectors that
aggregate (nfcapd and goflow2 keep no per-key state).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid):
    total = 0.0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            pass
    return total


def rss_bytes(pid):
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def udp_drops(port):
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    drops += int(fields[-1])
    return drops


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def http_metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def metric_sum(text, name, label_filter=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and label_filter in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class Collector:
    name = ""
    aggregates = False

    def __init__(self, tools, work):
        self.tools, self.work = tools, work
        self.port = free_port()
        self.proc = None

    def log(self):
        with open(os.path.join(self.work, "collector.log"), errors="replace") as f:
            return f.read()

    def spawn(self, argv, env=None):
        self.logfile = open(os.path.join(self.work, "collector.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.logfile, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def wait_ready(self):
        wait_for(lambda: self.proc.poll() is None and udp_bound(self.port), 30, f"{self.name} to listen")
        time.sleep(1.0)  # settle (threads, caches) before the idle RSS

    def count(self):
        return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def udp_bound(port):
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            next(f)
            for line in f:
                if int(line.split()[1].split(":")[1], 16) == port:
                    return True
    return False


def flowmetrics_config(uri, run_id, http_port, netflow_port, spool, fsync):
    """The collector's configuration for a measurement (bench/netflow/profile_flowmetrics.sh
    writes it too, so a profile measures the same set-up)."""
    return f"""[database]
uri = "{uri}"
database = "netflow_bench"
collection = "run_{run_id}"
[pool]
min_size = 1
max_size = 4
# Nothing is written during the measurement: one-hour buckets, no flush before the run ends,
# room for every key.
[pipeline]
bucket_seconds = 3600
flush_interval_ms = 86400000
grace_seconds = 86400
max_pending_keys = 10000000
[inputs.tcp]
enabled = false
[inputs.http]
listen = "127.0.0.1:{http_port}"
[inputs.netflow]
listen = "127.0.0.1:{netflow_port}"
receive_buffer_bytes = 8388608
[inputs.sflow]
enabled = false
[spool]
directory = "{spool}"
max_bytes = 8589934592
fsync = "{fsync}"
[log]
level = "warn"
"""


class Flowmetrics(Collector):
    aggregates = True

    def __init__(self, tools, work, fsync):
        super().__init__(tools, work)
        self.fsync = fsync
        self.name = f"flowmetrics (spool fsync={fsync})"
        self.http = free_port(socket.SOCK_STREAM)

    def start(self, run_id):
        config = os.path.join(self.work, "flowmetrics.toml")
        with open(config, "w") as f:
            f.write(flowmetrics_config(self.tools["uri"], run_id, self.http, self.port,
                                       os.path.join(self.work, "spool"), self.fsync))
        self.spawn([self.tools["flowmetrics"], "serve", "--config", config])

    def count(self):
        text = http_metrics(self.http)
        # Records the pipeline took: decoded ones less those dropped while it was saturated.
        return {
            "counted": metric_sum(text, "flowmetrics_records_accepted_total"),
            "decoded": metric_sum(text, "flowmetrics_netflow_records_total"),
            "pipeline_drops": metric_sum(text, "flowmetrics_netflow_pipeline_drops_total"),
            "accepted": metric_sum(text, "flowmetrics_records_accepted_total"),
            "kernel_drops_reported": metric_sum(text, "flowmetrics_netflow_kernel_drops_total"),
            "keys_pending": metric_sum(text, "flowmetrics_keys_pending"),
            # Why the input dropped records in the process, if it did (spool_full, spool_error):
            # a loss is explained by these and the kernel's count, nothing else.
            "dropped_by_reason": {
                line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line.startswith("flowmetrics_records_dropped_total{")
            },
        }


class Nfacctd(Collector):
    name = "nfacctd (pmacct, print plugin)"
    aggregates = True

    def start(self, run_id):
        self.output = os.path.join(self.work, "nfacctd.csv")
        config = os.path.join(self.work, "nfacctd.conf")
        with open(config, "w") as f:
            f.write(f"""daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: {self.port}
nfacctd_pipe_size: 8388608
plugins: print[p]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto
print_output[p]: csv
print_output_file[p]: {self.output}
print_refresh_time[p]: 3600
print_cache_entries[p]: 262147
plugin_pipe_size: 67108864
plugin_buffer_size: 65536
""")
        self.spawn([self.tools["nfacctd"], "-f", config])

    def stop(self):
        # SIGINT: the print plugin writes its cache (one line per key, packets = records).
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.final = {"counted": None}
        if os.path.exists(self.output):
            with open(self.output) as f:
                next(f, None)
                lines = [line for line in f if line.strip()]
                self.final["counted"] = sum(int(line.split(",")[5]) for line in lines)
                self.final["keys"] = len(lines)


class Goflow2(Collector):
    name = "goflow2 (-format bin to /dev/null)"

    def start(self, run_id):
        self.http = free_port(socket.SOCK_STREAM)
        self.spawn([self.tools["goflow2"], "-listen", f"netflow://127.0.0.1:{self.port}", "-format", "bin",
                    "-transport", "file", "-transport.file", "/dev/null", "-addr", f"127.0.0.1:{self.http}",
                    "-loglevel", "warn"])

    def count(self):
        text = http_metrics(self.http)
        return {"counted": metric_sum(text, "goflow2_flow_process_nf_flowset_records_total", 'type="DataFlowSet"')}


class Nfcapd(Collector):
    name = "nfcapd (nfdump, to file)"

    def start(self, run_id):
        files = os.path.join(self.work, "nfcapd")
        os.makedirs(files)
        self.spawn([self.tools["nfcapd"], "-w", files, "-p", str(self.port), "-b", "127.0.0.1", "-B", "8388608"])

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)
        m = re.findall(r"Flows: (\d+)", self.log())
        self.final = {"counted": int(m[-1]) if m else None}


def replay(args, stream, port, rate, seconds):
    out = subprocess.run([args.replay, "--read", stream, "--target", f"127.0.0.1:{port}", "--rate", str(rate),
                          "--seconds", str(seconds)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def settle(pid):
    """Waits until the CPU time of `pid` stops growing for a second (its queues are worked
    through), at most two minutes; returns that CPU time."""
    last, still = cpu_seconds(pid), 0
    deadline = time.monotonic() + 120
    while still < 4 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(pid)
        still = still + 1 if now - last < 0.01 else 0
        last = now
    return last


def run_one(collector, args, stream, run_id):
    collector.start(run_id)
    try:
        collector.wait_ready()
        pid = collector.proc.pid
        idle_rss = rss_bytes(pid)
        # Warm-up: every key once, at a rate every collector takes without loss, so that the
        # memory per key is the state the keys need, not the queues of a burst.
        warm = replay(args, stream, collector.port, args.keys, 1.05)
        settle(pid)
        keyed_rss = rss_bytes(pid)
        before = collector.count() or {}
        cpu0 = cpu_seconds(pid)
        drops0 = udp_drops(collector.port)
        sent = replay(args, stream, collector.port, args.rate, args.seconds)
        cpu = settle(pid) - cpu0
        rss = rss_bytes(pid)
        drops = udp_drops(collector.port) - drops0
        own = collector.count() or {}
    finally:
        collector.stop()
    own.update(getattr(collector, "final", {}))
    offered = sent["records"]
    if own.get("counted") is None:  # no count of its own: what the kernel did not drop
        counted = offered - drops * args.records_per_datagram
    elif "counted" in before:  # a live counter: the measured phase's part of it
        counted = own["counted"] - before["counted"]
    else:  # a count at exit: the warm-up's records are in it too
        counted = own["counted"] - warm["records"]
    counted = max(0, min(counted, offered))
    return {
        "collector": collector.name,
        "offered_records": offered,
        "offered_rate": sent["rate"],
        "counted_records": counted,
        "loss": 1 - counted / offered,
        "kernel_drops_datagrams": drops,
        "cpu_seconds": cpu,
        "cpu_s_per_million": cpu / (counted / 1e6) if counted else None,
        "idle_rss": idle_rss,
        "keyed_rss": keyed_rss,
        "rss": rss,
        "bytes_per_key": (keyed_rss - idle_rss) / sent["keys"] if collector.aggregates else None,
        "own": own,
        "own_before": before,
        "warm_up": warm,
        "load_average": os.getloadavg(),
    }


def summarize(results):
    def med(values):
        values = [v for v in values if v is not None]
        if not values:
            return None, None, None
        return statistics.median(values), min(values), max(values)

    rows = {}
    for r in results:
        rows.setdefault((r["protocol"], r["collector"]), []).append(r)
    table = []
    for (protocol, collector), rs in rows.items():
        table.append({
            "protocol": protocol,
            "collector": collector,
            "repetitions": len(rs),
            "cpu_s_per_million": med([r["cpu_s_per_million"] for r in rs]),
            "loss": med([r["loss"] for r in rs]),
            "bytes_per_key": med([r["bytes_per_key"] for r in rs]),
            "rss_mb": med([max(r["rss"], r["keyed_rss"]) / 1e6 for r in rs]),
            "offered_rate": med([r["offered_rate"] for r in rs]),
        })
    return table


def fmt(triple, scale=1.0, digits=2, percent=False):
    m, lo, hi = triple
    if m is None:
        return "n/a"
    f = (lambda v: f"{v * 100:.{digits}f}%") if percent else (lambda v: f"{v * scale:,.{digits}f}")
    return f"{f(m)} [{f(lo)}–{f(hi)}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replay", required=True, help="netflow_replay binary")
    parser.add_argument("--flowmetrics", required=True)
    parser.add_argument("--uri", required=True, help="database for flowmetrics serve (not written during runs)")
    parser.add_argument("--goflow2")
    parser.add_argument("--rate", type=float, default=500_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--records-per-datagram", type=int, default=30)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--protocols", default="9,10")
    parser.add_argument("--collectors", default="flowmetrics,flowmetrics-nofsync,nfacctd,goflow2,nfcapd")
    parser.add_argument("--json", required=True, help="write every run here")
    args = parser.parse_args()

    tools = {"flowmetrics": args.flowmetrics, "uri": args.uri, "goflow2": args.goflow2,
             "nfacctd": shutil.which("nfacctd") or "/usr/sbin/nfacctd", "nfcapd": shutil.which("nfcapd")}
    makers = {
        "flowmetrics": lambda w: Flowmetrics(tools, w, "batch"),
        "flowmetrics-nofsync": lambda w: Flowmetrics(tools, w, "none"),
        "nfacctd": lambda w: Nfacctd(tools, w),
        "goflow2": lambda w: Goflow2(tools, w),
        "nfcapd": lambda w: Nfcapd(tools, w),
    }
    chosen = [c for c in args.collectors.split(",") if c != "goflow2" or args.goflow2]
    results = []
    with tempfile.TemporaryDirectory(prefix="netflow-bench-") as tmp:
        run_id = 0
        for protocol in [int(p) for p in args.protocols.split(",")]:
            stream = os.path.join(tmp, f"stream-{protocol}.bin")
            subprocess.run([args.replay, "--version", str(protocol), "--keys", str(args.keys),
                            "--records-per-datagram", str(args.records_per_datagram), "--write", stream,
                            "--seconds", "0"], check=True)
            for repetition in range(args.repetitions):
                for name in chosen:  # interleaved: each repetition runs every collector once
                    run_id += 1
                    work = os.path.join(tmp, f"run-{run_id}")
                    os.makedirs(work)
                    r = run_one(makers[name](work), args, stream, run_id)
                    r.update({"protocol": "v9" if protocol == 9 else "IPFIX", "repetition": repetition})
                    results.append(r)
                    per_key = "" if r["bytes_per_key"] is None else f"{r['bytes_per_key']:.0f} B/key"
                    print(f"{r['protocol']:5} {r['collector']:36} offered {r['offered_rate']:9,.0f}/s  "
                          f"loss {r['loss'] * 100:6.2f}%  cpu {r['cpu_seconds']:6.2f} s  "
                          f"{(r['cpu_s_per_million'] or 0):5.2f} CPU-s/M  rss {r['rss'] / 1e6:7.1f} MB  {per_key}",
                          flush=True)
                    shutil.rmtree(work, ignore_errors=True)
    table = summarize(results)
    with open(args.json, "w") as f:
        json.dump({"args": vars(args), "runs": results, "summary": table}, f, indent=1)
    print()
    print("| protocol | collector | CPU-s per million records | records/s per core | loss at "
          f"{args.rate / 1000:.0f}k rec/s offered | memory per active key | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in table:
        m, lo, hi = row["cpu_s_per_million"]
        per_core = (1e6 / m, 1e6 / hi, 1e6 / lo) if m else (None, None, None)
        print(f"| {row['protocol']} | {row['collector']} | {fmt(row['cpu_s_per_million'])} | "
              f"{fmt(per_core, digits=0)} | {fmt(row['loss'], percent=True)} | "
              f"{fmt(row['bytes_per_key'], digits=0)} B | {fmt(row['rss_mb'], digits=0)} MB |")
    print()
    print("(median [min-max] over the repetitions; RSS after the measured phase)")


if __name__ == "__main__":
    main()
