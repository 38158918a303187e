#!/usr/bin/env python3
"""Does an update by _id stay fast as the collection grows?

Fills a fresh collection with N documents shaped like flowmetrics' (string _id, the key
fields, value), then times U single-statement update commands by _id on random existing
documents, one round trip each, and prints the median latency per update and updates/s over
the repetitions. With --unindexed it also times updates whose filter is a field no index
covers, the contrast: a server that answers through its _id index shows flat _id latencies
and unindexed latencies that grow with N; one that scans (FerretDB v1) shows both growing.

  bench/servers/update_scaling.py --uri mongodb://127.0.0.1:PORT/ [--sizes 10000,100000]
      [--updates 1000] [--repetitions 3] [--unindexed 20]

Talks the wire protocol (OP_MSG) itself with the standard library only, so it measures the
server, not a driver; no authentication or TLS.
"""
import argparse
import random
import socket
import statistics
import struct
import sys
import time
from urllib.parse import urlparse


def _elem(key, value):
    k = key.encode() + b"\0"
    if isinstance(value, bool):
        return b"\x08" + k + (b"\1" if value else b"\0")
    if isinstance(value, int):
        return b"\x10" + k + struct.pack("<i", value) if -2**31 <= value < 2**31 else b"\x12" + k + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + k + struct.pack("<d", value)
    if isinstance(value, str):
        s = value.encode() + b"\0"
        return b"\x02" + k + struct.pack("<i", len(s)) + s
    if isinstance(value, dict):
        return b"\x03" + k + encode(value)
    if isinstance(value, list):
        return b"\x04" + k + encode({str(i): v for i, v in enumerate(value)})
    raise TypeError(f"cannot encode {value!r}")


def encode(doc):
    body = b"".join(_elem(k, v) for k, v in doc.items()) + b"\0"
    return struct.pack("<i", len(body) + 4) + body


def decode(buf, off=0):
    size = struct.unpack_from("<i", buf, off)[0]
    end, off, out = off + size - 1, off + 4, {}
    while off < end:
        kind = buf[off]
        zero = buf.index(b"\0", off + 1)
        key, off = buf[off + 1:zero].decode(), zero + 1
        if kind == 0x01:
            value, off = struct.unpack_from("<d", buf, off)[0], off + 8
        elif kind == 0x02:
            n = struct.unpack_from("<i", buf, off)[0]
            value, off = buf[off + 4:off + 3 + n].decode(), off + 4 + n
        elif kind in (0x03, 0x04):
            n = struct.unpack_from("<i", buf, off)[0]
            value, off = decode(buf, off), off + n
            if kind == 0x04:
                value = list(value.values())
        elif kind == 0x08:
            value, off = bool(buf[off]), off + 1
        elif kind in (0x09, 0x12, 0x11):
            value, off = struct.unpack_from("<q", buf, off)[0], off + 8
        elif kind == 0x10:
            value, off = struct.unpack_from("<i", buf, off)[0], off + 4
        elif kind == 0x07:
            value, off = buf[off:off + 12].hex(), off + 12
        elif kind == 0x0A:
            value = None
        else:
            raise ValueError(f"BSON type {kind:#x} not handled")
        out[key] = value
    return out


class Connection:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request_id = 0

    def _recv(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return bytes(data)

    def command(self, db, doc):
        doc = dict(doc)
        doc["$db"] = db
        body = struct.pack("<I", 0) + b"\0" + encode(doc)
        self.request_id += 1
        self.sock.sendall(struct.pack("<iiii", 16 + len(body), self.request_id, 0, 2013) + body)
        size = struct.unpack("<i", self._recv(16)[:4])[0]
        reply = decode(self._recv(size - 16), 5)
        if reply.get("ok") != 1 and reply.get("ok") != 1.0:
            raise RuntimeError(f"{next(iter(doc))} failed: {reply}")
        return reply


def key(i):
    return f"10.0.{i // 65536 % 256}.{i // 256 % 256}", f"192.168.1.{i % 256}", 1024 + i % 60000


def document(i):
    src, dst, sport = key(i)
    ts = 1_732_530_000_000 + (i // 60000) * 60_000
    return {"_id": f"{src}|{dst}|{sport}|443|TCP|{ts}", "source_ip": src, "dest_ip": dst, "source_port": sport,
            "dest_port": 443, "protocol": "TCP", "seq": i, "value": 1.0}


def fill(conn, db, coll, n):
    try:
        conn.command(db, {"drop": coll})
    except RuntimeError:
        pass  # no such collection
    for start in range(0, n, 1000):
        docs = [document(i) for i in range(start, min(n, start + 1000))]
        reply = conn.command(db, {"insert": coll, "documents": docs, "ordered": False})
        if reply.get("writeErrors"):
            raise RuntimeError(f"insert: {reply['writeErrors'][0]}")


def time_updates(conn, db, coll, n, count, by_id, rng):
    latencies = []
    for _ in range(count):
        i = rng.randrange(n)
        filt = {"_id": document(i)["_id"]} if by_id else {"seq": i}
        start = time.perf_counter()
        reply = conn.command(db, {"update": coll, "updates": [{"q": filt, "u": {"$inc": {"value": 1.0}}}]})
        latencies.append(time.perf_counter() - start)
        if reply.get("n") != 1:
            raise RuntimeError(f"update of document {i} matched {reply.get('n')}: {reply}")
    return latencies


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True, help="mongodb://HOST:PORT/")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--updates", type=int, default=1000, help="updates by _id per repetition")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--unindexed", type=int, default=0, help="also time this many updates filtered on an unindexed field")
    ap.add_argument("--db", default="flowmetrics_bench")
    args = ap.parse_args()
    uri = urlparse(args.uri)
    conn = Connection(uri.hostname or "127.0.0.1", uri.port or 27017)
    rng = random.Random(42)
    build = conn.command("admin", {"buildInfo": 1})
    print(f"server: version {build.get('version')}"
          + (f", FerretDB {build['ferretdbVersion']}" if "ferretdbVersion" in build else ""))
    for n in (int(s) for s in args.sizes.split(",")):
        coll = f"update_scaling_{n}_{int(time.time())}"
        start = time.perf_counter()
        fill(conn, args.db, coll, n)
        fill_s = time.perf_counter() - start
        runs = []
        for _ in range(args.repetitions):
            start = time.perf_counter()
            lat = time_updates(conn, args.db, coll, n, args.updates, True, rng)
            runs.append((args.updates / (time.perf_counter() - start), statistics.median(lat)))
        rates = [r for r, _ in runs]
        print(f"{n:>9,} documents (filled at {n / fill_s:,.0f} docs/s): {args.updates} updates by _id, "
              f"{args.repetitions} repetitions: median {statistics.median(rates):,.0f} updates/s "
              f"[{min(rates):,.0f}, {max(rates):,.0f}], median latency "
              f"{statistics.median(l for _, l in runs) * 1e3:.3f} ms")
        if args.unindexed:
            lat = time_updates(conn, args.db, coll, n, args.unindexed, False, rng)
            print(f"{'':>9}  {args.unindexed} updates filtered on an unindexed field: median latency "
                  f"{statistics.median(lat) * 1e3:.1f} ms [{min(lat) * 1e3:.1f}, {max(lat) * 1e3:.1f}]")
        conn.command(args.db, {"drop": coll})
    return 0


if __name__ == "__main__":
    sys.exit(main())
