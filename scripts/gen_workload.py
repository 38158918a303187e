#!/usr/bin/env python3
"""Writes a deterministic JSON-lines workload of five-tuple metrics to stdout.

    scripts/gen_workload.py --records 100000 --flows 700 --buckets 4 --invalid-every 200 --seed 42

Keys repeat: `flows` five-tuples spread over `buckets` one-minute buckets, so the records land
in about flows x buckets documents. Every `invalid-every`-th line is invalid (0: none).
"""
import argparse
import random
import sys

BASE_MS = 1_732_530_000_000  # 2024-11-25T10:20:00Z, a bucket boundary
INVALID = [
    '{"source_ip":"10.0.0.999","dest_ip":"10.1.0.1","source_port":1,"dest_port":2,"protocol":"tcp","timestamp":1732530000,"value":1}',
    '{"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":1,"dest_port":2,"protocol":"tcp","value":1}',
    'not json at all',
    '{"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":70000,"dest_port":2,"protocol":"tcp","timestamp":1732530000,"value":1}',
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--flows", type=int, default=700)
    parser.add_argument("--buckets", type=int, default=4)
    parser.add_argument("--invalid-every", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    for i in range(args.records):
        if args.invalid_every and i % args.invalid_every == args.invalid_every - 1:
            out.write(INVALID[(i // args.invalid_every) % len(INVALID)] + "\n")
            continue
        flow = rng.randrange(args.flows)
        ts = BASE_MS + rng.randrange(args.buckets * 60_000)
        out.write(
            '{"source_ip":"10.0.%d.%d","dest_ip":"192.168.0.1","source_port":%d,"dest_port":443,'
            '"protocol":"tcp","timestamp":%d,"value":%s,"packets":%d,"bytes":%d}\n'
            % (flow // 250, flow % 250, 1024 + flow % 7, ts, 0.5 * rng.randrange(2000), rng.randrange(100),
               rng.randrange(100_000)))


if __name__ == "__main__":
    main()
