#!/usr/bin/env python3
"""Writes a deterministic benchmark workload of five-tuple metrics, the input of every peer.

    python3 bench/workloads.py --kind unique|zipf|update --metrics N [--keys K] [--seed S] [--buckets B] > FILE.tsv

Kinds:
  unique  every metric is a new key (K is N); timestamps spread over B one-minute buckets.
  zipf    realistic flows: each metric picks one of K five-tuples with a Zipf (s=1.1)
          distribution; time advances through the file over B one-minute buckets and every
          timestamp is floored to its minute, so heavy hitters repeat within a bucket and land
          on the same document (about K x B documents at most).
  update  K fixed keys (fixed timestamps) updated again and again: metric i uses key i % K.

Format (tab-separated, one metric a line, after one header line):
  #flowmetrics-workload v1 kind=KIND metrics=N keys=K seed=S
  source_ip  dest_ip  source_port  dest_port  protocol  timestamp_ms  value

Addresses are canonical IPv4 text, protocol "TCP" or "UDP", the timestamp milliseconds since
the epoch, the value a decimal with at most two fractional digits (so every language parses
it to the same double). The same arguments always give the same bytes (Python stdlib only;
random.Random's sequences are stable across Python versions).
"""
import argparse
import itertools
import random
import sys

BASE_MS = 1_732_530_000_000  # 2024-11-25T10:20:00Z, a minute boundary
MINUTE_MS = 60_000
ZIPF_S = 1.1
# Server ports seen in real traffic; UDP for DNS and NTP, TCP for the rest.
SERVICES = [(443, "TCP"), (80, "TCP"), (53, "UDP"), (22, "TCP"), (123, "UDP"), (8080, "TCP"), (3306, "TCP"),
            (5432, "TCP"), (6379, "TCP"), (853, "TCP"), (5353, "UDP"), (27017, "TCP")]
KEY_SPACE = 1 << 24  # keys below this differ in the source address alone
SCRAMBLE = 0x9E3779  # odd, so k -> k * SCRAMBLE mod 2^24 is a bijection


def key_tuples(count, seed):
    """The first `count` distinct five-tuples of the workload seeded `seed`, as one TSV
    prefix "src<TAB>dst<TAB>sport<TAB>dport<TAB>proto" each.

    Key k gets the source address 10.x.y.z from a bijection of k's low 24 bits and an
    ephemeral source port hashed from that address plus k's high bits, so any two keys differ;
    destination and service are pseudo-random."""
    rng = random.Random(seed ^ 0x5EED)
    offset = rng.randrange(KEY_SPACE)
    out = []
    for k in range(count):
        s = ((k % KEY_SPACE) * SCRAMBLE + offset) % KEY_SPACE
        h = rng.getrandbits(32)
        port, proto = SERVICES[h % len(SERVICES)]
        out.append("10.%d.%d.%d\t192.168.%d.%d\t%d\t%d\t%s" %
                   (s >> 16, (s >> 8) & 255, s & 255, (h >> 8) & 255, (h >> 16) % 254 + 1,
                    1024 + ((s * 2654435761 >> 8) + k // KEY_SPACE) % 64512, port, proto))
    return out


def values(rng, count):
    """`count` decimal values in [0.01, 10000.00], as text."""
    return ["%d.%02d" % divmod(rng.randrange(1, 1_000_001), 100) for _ in range(count)]


def generate(kind, metrics, keys, seed, buckets):
    """Yields the workload's lines, header first."""
    rng = random.Random(seed)
    if kind == "unique":
        keys = metrics
    yield "#flowmetrics-workload v1 kind=%s metrics=%d keys=%d seed=%d\n" % (kind, metrics, keys, seed)
    tuples = key_tuples(keys, seed)
    vals = values(rng, metrics)
    if kind == "unique":
        stamps = [BASE_MS + rng.randrange(buckets) * MINUTE_MS for _ in range(metrics)]
        for i in range(metrics):
            yield "%s\t%d\t%s\n" % (tuples[i], stamps[i], vals[i])
    elif kind == "zipf":
        weights = itertools.accumulate(1.0 / (r**ZIPF_S) for r in range(1, keys + 1))
        picks = rng.choices(range(keys), cum_weights=list(weights), k=metrics)
        for i in range(metrics):
            # Time advances through the file: metric i falls in bucket i * B // N, at a random
            # millisecond of that minute, floored to the minute.
            ms = BASE_MS + (i * buckets // metrics) * MINUTE_MS + rng.randrange(MINUTE_MS)
            yield "%s\t%d\t%s\n" % (tuples[picks[i]], ms - ms % MINUTE_MS, vals[i])
    else:  # update
        stamps = [BASE_MS + (k % buckets) * MINUTE_MS for k in range(keys)]
        for i in range(metrics):
            k = i % keys
            yield "%s\t%d\t%s\n" % (tuples[k], stamps[k], vals[i])


class Expectation:
    """What a workload must leave in a fresh collection under the `replace` policy: one
    document per distinct key (`len(self)`), holding the key's last value in the file.
    Values are kept as integer cents (every workload value has two fractional digits), so
    sums compare exactly. `alternatives[key]` holds every value a repeated key took, for
    writers that may finish two batches holding one key in either order (concurrency > 1)."""

    def __init__(self, path):
        self.last = {}
        self.alternatives = {}
        self.last_sum = 0
        self.metrics = 0
        with open(path) as lines:
            for line in lines:
                if line.startswith("#"):
                    continue
                self.metrics += 1
                s, d, sp, dp, proto, ts, value = line.rstrip("\n").split("\t")
                key = (s, d, int(sp), int(dp), proto, int(ts))
                whole, cents = value.split(".")
                cents = int(whole) * 100 + int(cents)
                if key in self.last:
                    self.alternatives.setdefault(key, {self.last[key]}).add(cents)
                self.last[key] = cents
        self.last_sum = sum(self.last.values())

    def __len__(self):
        return len(self.last)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["unique", "zipf", "update"], required=True)
    parser.add_argument("--metrics", type=int, required=True, help="number of metrics (lines)")
    parser.add_argument("--keys", type=int, default=1000, help="five-tuples (zipf) or keys (update); unique ignores it")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--buckets", type=int, default=60, help="one-minute buckets the timestamps fall in")
    args = parser.parse_args()
    if args.metrics < 1 or args.buckets < 1 or (args.kind != "unique" and args.keys < 1):
        parser.error("--metrics, --keys and --buckets must be positive")
    if args.kind == "unique" and args.metrics > KEY_SPACE * 64512:
        parser.error("--metrics is larger than the key space")
    if args.kind != "unique" and args.keys > KEY_SPACE * 64512:
        parser.error("--keys is larger than the key space")
    out = sys.stdout
    chunk = []
    for line in generate(args.kind, args.metrics, args.keys, args.seed, args.buckets):
        chunk.append(line)
        if len(chunk) == 65536:
            out.write("".join(chunk))
            chunk.clear()
    out.write("".join(chunk))


if __name__ == "__main__":
    main()
