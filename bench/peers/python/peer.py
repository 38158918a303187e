#!/usr/bin/env python3
"""The benchmark suite's Python peer: the system description's agent written with pymongo.

    python peer.py --uri URI --db DB --collection COLL --workload FILE.tsv --batch B --concurrency C
                   [--skip-indexes] [--filter fields|id]

Run it with the venv that has requirements.txt installed:
    python3 -m venv .tools/bench-venv && .tools/bench-venv/bin/pip install -r bench/peers/python/requirements.txt

Loads the workload (bench/workloads.py) into memory, splits it into consecutive batches of B
metrics, and lets C threads take batches from a shared counter, one batch_upsert_metrics call
per batch (an unordered bulk_write of UpdateOne upserts). Prints one JSON line (contract in
bench/peers/README.md); exits 1 on any error, with the reason on stderr.
"""
import argparse
import datetime
import itertools
import json
import math
import resource
import sys
import threading
import time
from typing import NamedTuple

import pymongo
from pymongo import ASCENDING, MongoClient, UpdateOne
from pymongo.errors import PyMongoError

OPERATION_TIMEOUT_S = 30  # per call, the same as flowmetrics' default operation_timeout
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
ONE_MS = datetime.timedelta(milliseconds=1)


class Metric(NamedTuple):
    source_ip: str
    dest_ip: str
    source_port: int
    dest_port: int
    protocol: str
    timestamp: datetime.datetime
    value: float


class MetricsAgent:
    def __init__(self, uri, database, collection, filter_mode="fields"):
        self.client = MongoClient(uri, maxPoolSize=150, minPoolSize=25, maxIdleTimeMS=3_600_000,
                                  serverSelectionTimeoutMS=10_000)
        self.client.admin.command("ping")
        self.collection = self.client[database][collection]
        self.filter_mode = filter_mode

    def create_metrics_indexes(self):
        with pymongo.timeout(OPERATION_TIMEOUT_S):
            self.collection.create_index(
                [("source_ip", ASCENDING), ("dest_ip", ASCENDING), ("source_port", ASCENDING),
                 ("dest_port", ASCENDING), ("protocol", ASCENDING), ("timestamp", ASCENDING)], unique=True)

    def batch_upsert_metrics(self, metrics):
        """One unordered bulk_write of upserts (pymongo splits it into commands within the
        server's limits). Raises PyMongoError (BulkWriteError) on any write error; returns
        the driver's BulkWriteResult."""
        if self.filter_mode == "id":
            ops = [UpdateOne({"_id": "%s|%s|%d|%d|%s|%d" % (m.source_ip, m.dest_ip, m.source_port, m.dest_port,
                                                            m.protocol, (m.timestamp - EPOCH) // ONE_MS)},
                             {"$setOnInsert": {"source_ip": m.source_ip, "dest_ip": m.dest_ip,
                                               "source_port": m.source_port, "dest_port": m.dest_port,
                                               "protocol": m.protocol, "timestamp": m.timestamp},
                              "$set": {"value": m.value}}, upsert=True) for m in metrics]
        else:
            ops = [UpdateOne({"source_ip": m.source_ip, "dest_ip": m.dest_ip, "source_port": m.source_port,
                              "dest_port": m.dest_port, "protocol": m.protocol, "timestamp": m.timestamp},
                             {"$set": {"value": m.value}}, upsert=True) for m in metrics]
        with pymongo.timeout(OPERATION_TIMEOUT_S):
            return self.collection.bulk_write(ops, ordered=False)

    def close(self):
        self.client.close()


def load_workload(path):
    metrics = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 7:
                raise ValueError(f"{path}:{number}: expected 7 tab-separated fields, got {len(fields)}")
            metrics.append(Metric(fields[0], fields[1], int(fields[2]), int(fields[3]), fields[4],
                                  EPOCH + datetime.timedelta(milliseconds=int(fields[5])), float(fields[6])))
    return metrics


def percentile(sorted_values, q):
    """Nearest-rank percentile."""
    return sorted_values[max(math.ceil(q * len(sorted_values)), 1) - 1]


def fail(message):
    print(f"pymongo peer: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--skip-indexes", action="store_true")
    parser.add_argument("--filter", choices=["fields", "id"], default="fields")
    args = parser.parse_args()
    if args.batch < 1 or args.concurrency < 1:
        parser.error("--batch and --concurrency must be positive")

    try:
        agent = MetricsAgent(args.uri, args.db, args.collection, args.filter)
        if not args.skip_indexes:
            agent.create_metrics_indexes()
    except PyMongoError as e:
        fail(f"connect or create index: {e}")
    try:
        metrics = load_workload(args.workload)
    except (OSError, ValueError) as e:
        fail(f"load workload: {e}")
    if not metrics:
        fail(f"workload {args.workload} holds no metrics")
    batches = [metrics[i:i + args.batch] for i in range(0, len(metrics), args.batch)]
    nb = len(batches)
    starts, ends, latencies = [0.0] * nb, [0.0] * nb, [0.0] * nb
    counter = itertools.count()  # next() on it is atomic under the GIL
    written = [0] * args.concurrency  # one slot per worker
    errors = []
    stop = threading.Event()

    def worker(slot):
        while not stop.is_set():
            i = next(counter)
            if i >= nb:
                return
            starts[i] = time.perf_counter()
            try:
                result = agent.batch_upsert_metrics(batches[i])
            except Exception as e:  # noqa: BLE001 - pymongo itself can raise KeyError on a short reply
                details = getattr(e, "details", None)
                message = f"batch {i}: {type(e).__name__}: {e}" + (f" {str(details)[:1000]}" if details else "")
                if isinstance(e, KeyError):
                    # FerretDB v1 answers a failed update statement with writeErrors but no
                    # n/nModified, which pymongo's bulk result merging does not expect.
                    message += " (pymongo could not read the server's bulk write reply: it lacks that count)"
                errors.append(message)
                stop.set()
                return
            finally:
                ends[i] = time.perf_counter()
                latencies[i] = (ends[i] - starts[i]) * 1000
            written[slot] += result.upserted_count + result.matched_count

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(args.concurrency)]
    before = resource.getrusage(resource.RUSAGE_SELF)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    if errors:
        fail(errors[0])
    latencies.sort()
    agent.close()
    print(json.dumps({
        "peer": f"pymongo-{args.filter}", "metrics": len(metrics), "batches": nb,
        "seconds": max(ends) - min(starts), "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99), "documents_written": sum(written),
        "cpu_user_s": after.ru_utime - before.ru_utime, "cpu_sys_s": after.ru_stime - before.ru_stime,
    }))


if __name__ == "__main__":
    main()
