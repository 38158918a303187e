#!/usr/bin/env python3
"""sFlow collectors side by side: flowmetrics serve, pmacct's sfacctd and goflow2.

Called by bench/sflow/run.sh (which builds, installs and starts the database); see
docs/benchmarks/sflow.md for what it measures and the figures. The method is the NetFlow
benchmark's (bench/netflow/measure.py, whose code this reuses): for each repetition and
collector, in turn, start it on a free loopback UDP port; warm up with one pass over the
keys; offer the recorded stream (sflow_replay --read: 100k distinct five-tuples, 6 flow
samples a datagram, each with a 128-byte Ethernet header) at the given rate for the given
seconds; wait until its CPU time stops growing; read its CPU seconds, the socket's kernel
drops and its own count of samples: flowmetrics `flowmetrics_records_accepted_total`,
goflow2 `goflow2_flow_process_sf_samples_total` (flow samples), sfacctd the packets of its
print output at exit (one per sample: it does not renormalise by default), less the warm-up's.
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("netflow_measure", os.path.join(here, "..", "netflow", "measure.py"))
nf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nf)


class Flowmetrics(nf.Flowmetrics):
    def start(self, run_id):
        config = os.path.join(self.work, "flowmetrics.toml")
        with open(config, "w") as f:
            f.write(f"""[database]
uri = "{self.tools['uri']}"
database = "sflow_bench"
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
listen = "127.0.0.1:{self.http}"
[inputs.netflow]
enabled = false
[inputs.sflow]
listen = "127.0.0.1:{self.port}"
receive_buffer_bytes = 8388608
[spool]
directory = "{os.path.join(self.work, 'spool')}"
max_bytes = 8589934592
fsync = "{self.fsync}"
[log]
level = "warn"
""")
        self.spawn([self.tools["flowmetrics"], "serve", "--config", config])

    def count(self):
        text = nf.http_metrics(self.http)
        return {
            "counted": nf.metric_sum(text, "flowmetrics_records_accepted_total"),
            "decoded": nf.metric_sum(text, "flowmetrics_sflow_records_total"),
            "pipeline_drops": nf.metric_sum(text, "flowmetrics_sflow_pipeline_drops_total"),
            "kernel_drops_reported": nf.metric_sum(text, "flowmetrics_sflow_kernel_drops_total"),
            "sample_sequence_gaps": nf.metric_sum(text, "flowmetrics_sflow_sample_sequence_gaps_total"),
        }


class Sfacctd(nf.Nfacctd):
    name = "sfacctd (pmacct, print plugin)"

    def start(self, run_id):
        self.output = os.path.join(self.work, "sfacctd.csv")
        config = os.path.join(self.work, "sfacctd.conf")
        with open(config, "w") as f:
            f.write(f"""daemonize: false
sfacctd_ip: 127.0.0.1
sfacctd_port: {self.port}
sfacctd_pipe_size: 8388608
plugins: print[p]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto
print_output[p]: csv
print_output_file[p]: {self.output}
print_refresh_time[p]: 3600
print_cache_entries[p]: 262147
plugin_pipe_size: 67108864
plugin_buffer_size: 65536
""")
        self.spawn([self.tools["sfacctd"], "-f", config])


class Goflow2(nf.Goflow2):
    def start(self, run_id):
        self.http = nf.free_port(nf.socket.SOCK_STREAM)
        self.spawn([self.tools["goflow2"], "-listen", f"sflow://127.0.0.1:{self.port}", "-format", "bin",
                    "-transport", "file", "-transport.file", "/dev/null", "-addr", f"127.0.0.1:{self.http}",
                    "-loglevel", "warn"])

    def count(self):
        text = nf.http_metrics(self.http)
        return {"counted": nf.metric_sum(text, "goflow2_flow_process_sf_samples_total", 'type="FlowSample"')}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replay", required=True, help="sflow_replay binary")
    parser.add_argument("--flowmetrics", required=True)
    parser.add_argument("--uri", required=True, help="database for flowmetrics serve (not written during runs)")
    parser.add_argument("--goflow2")
    parser.add_argument("--rate", type=float, default=200_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--samples-per-datagram", type=int, default=6)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--collectors", default="flowmetrics,flowmetrics-nofsync,sfacctd,goflow2")
    parser.add_argument("--json", required=True, help="write every run here")
    args = parser.parse_args()
    args.records_per_datagram = args.samples_per_datagram  # what run_one calls it

    tools = {"flowmetrics": args.flowmetrics, "uri": args.uri, "goflow2": args.goflow2,
             "sfacctd": shutil.which("sfacctd") or "/usr/sbin/sfacctd"}
    makers = {
        "flowmetrics": lambda w: Flowmetrics(tools, w, "batch"),
        "flowmetrics-nofsync": lambda w: Flowmetrics(tools, w, "none"),
        "sfacctd": lambda w: Sfacctd(tools, w),
        "goflow2": lambda w: Goflow2(tools, w),
    }
    chosen = [c for c in args.collectors.split(",") if c != "goflow2" or args.goflow2]
    results = []
    with tempfile.TemporaryDirectory(prefix="sflow-bench-") as tmp:
        stream = os.path.join(tmp, "stream.bin")
        subprocess.run([args.replay, "--keys", str(args.keys), "--samples-per-datagram",
                        str(args.samples_per_datagram), "--write", stream, "--seconds", "0"], check=True)
        run_id = 0
        for repetition in range(args.repetitions):
            for name in chosen:  # interleaved: each repetition runs every collector once
                run_id += 1
                work = os.path.join(tmp, f"run-{run_id}")
                os.makedirs(work)
                r = nf.run_one(makers[name](work), args, stream, run_id)
                r.update({"protocol": "sFlow v5", "repetition": repetition})
                results.append(r)
                per_key = "" if r["bytes_per_key"] is None else f"{r['bytes_per_key']:.0f} B/key"
                print(f"{r['collector']:36} offered {r['offered_rate']:9,.0f}/s  loss {r['loss'] * 100:6.2f}%  "
                      f"cpu {r['cpu_seconds']:6.2f} s  {(r['cpu_s_per_million'] or 0):5.2f} CPU-s/M  "
                      f"rss {r['rss'] / 1e6:7.1f} MB  {per_key}", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    table = nf.summarize(results)
    with open(args.json, "w") as f:
        json.dump({"args": vars(args), "runs": results, "summary": table}, f, indent=1)
    print()
    print("| collector | CPU-s per million samples | samples/s per core | loss at "
          f"{args.rate / 1000:.0f}k samples/s offered | memory per active key | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in table:
        m, lo, hi = row["cpu_s_per_million"]
        per_core = (1e6 / m, 1e6 / hi, 1e6 / lo) if m else (None, None, None)
        print(f"| {row['collector']} | {nf.fmt(row['cpu_s_per_million'])} | {nf.fmt(per_core, digits=0)} | "
              f"{nf.fmt(row['loss'], percent=True)} | {nf.fmt(row['bytes_per_key'], digits=0)} B | "
              f"{nf.fmt(row['rss_mb'], digits=0)} MB |")
    print()
    print("(median [min-max] over the repetitions; RSS after the measured phase)")


if __name__ == "__main__":
    main()
