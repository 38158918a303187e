#!/usr/bin/python3
"""Writes the capture files the NetFlow exporter tests replay through softflowd.

    /usr/bin/python3 tests/netflow_exporters/make_captures.py [--out DIR]

Deterministic (fixed addresses, sizes and times), so the committed files can be made again
byte for byte. Each file holds a few TCP and UDP conversations with known packet and byte
counts, starting 2024-11-25T10:20:00Z:
  ipv4.pcap  IPv4 only (NetFlow v5 carries nothing else)
  ipv6.pcap  IPv6 only
  mixed.pcap both, interleaved (v9 and IPFIX templates for both families in one stream)
expected.json lists, per file, each direction's five-tuple with its packets and IP bytes (the
IP total length; for IPv6, the 40-byte header plus the payload length), as an exporter that
counts layer-3 bytes should report them.

With --fuzz-seeds DIR (fuzz/corpus) it also runs softflowd (v5, v9, IPFIX) over the captures
against a UDP socket of its own and stores its export datagrams as seeds of the decoder
fuzzers, DIR/<target>/softflowd_<capture>, in the fuzzers' input format.
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import tempfile

from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw

BASE = 1732530000.0  # 2024-11-25T10:20:00Z


def conversation(ip, src, dst, proto, sport, dport, sizes, t0, step=0.01):
    """Packets of one conversation; sizes are payload lengths, positive from src to dst and
    negative for the reply. TCP gets a handshake and a FIN exchange around the data."""
    packets = []
    t = t0

    def add(a, b, sp, dp, layer4, payload):
        nonlocal t
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip(src=a, dst=b) / layer4 / Raw(b"x" * payload)
        p = Ether(bytes(p))  # lengths and checksums filled in
        p.time = t
        t += step
        packets.append(p)

    if proto == "tcp":
        seq = {True: 1000, False: 5000}
        add(src, dst, sport, dport, TCP(sport=sport, dport=dport, flags="S", seq=999), 0)
        add(dst, src, dport, sport, TCP(sport=dport, dport=sport, flags="SA", seq=4999, ack=1000), 0)
        add(src, dst, sport, dport, TCP(sport=sport, dport=dport, flags="A", seq=1000, ack=5000), 0)
        for n in sizes:
            forward = n > 0
            a, b, sp, dp = (src, dst, sport, dport) if forward else (dst, src, dport, sport)
            add(a, b, sp, dp, TCP(sport=sp, dport=dp, flags="PA", seq=seq[forward], ack=seq[not forward]), abs(n))
            seq[forward] += abs(n)
        add(src, dst, sport, dport, TCP(sport=sport, dport=dport, flags="FA", seq=seq[True], ack=seq[False]), 0)
        add(dst, src, dport, sport, TCP(sport=dport, dport=sport, flags="FA", seq=seq[False], ack=seq[True] + 1), 0)
        add(src, dst, sport, dport, TCP(sport=sport, dport=dport, flags="A", seq=seq[True] + 1, ack=seq[False] + 1), 0)
    else:
        for n in sizes:
            forward = n > 0
            a, b, sp, dp = (src, dst, sport, dport) if forward else (dst, src, dport, sport)
            add(a, b, sp, dp, UDP(sport=sp, dport=dp), abs(n))
    return packets


def five_tuple(p):
    l3 = p[IP] if IP in p else p[IPv6]
    l4 = p[TCP] if TCP in p else p[UDP]
    proto = "TCP" if TCP in p else "UDP"
    length = l3.len if IP in p else 40 + l3.plen
    return (l3.src, l3.dst, l4.sport, l4.dport, proto), length


def build(family):
    ip = IP if family == 4 else IPv6
    if family == 4:
        hosts = [("10.1.0.1", "10.2.0.1"), ("10.1.0.2", "10.2.0.2"), ("10.1.0.3", "10.2.0.3"),
                 ("192.168.7.10", "172.16.0.20")]
    else:
        hosts = [("2001:db8:1::1", "2001:db8:2::1"), ("2001:db8:1::2", "2001:db8:2::2"),
                 ("2001:db8:1::3", "2001:db8:2::3"), ("fd00::10", "fd00:0:0:7::20")]
    t = BASE + (0 if family == 4 else 0.005)
    convs = [
        # A web request: small request, large response.
        conversation(ip, *hosts[0], "tcp", 40001, 443, [310, -1448, -1448, -1448, -700, 120, -64], t),
        # DNS-like request/response pairs.
        conversation(ip, *hosts[1], "udp", 5353, 53, [40, -120, 42, -200, 38, -90], t + 0.002),
        # One-way UDP stream of varying sizes.
        conversation(ip, *hosts[2], "udp", 12345, 9999, [100 + 37 * i for i in range(20)], t + 0.004),
        # A second TCP connection, same hosts as the first, other client port.
        conversation(ip, *hosts[0], "tcp", 40002, 443, [90, -3000, 90, -1500], t + 0.006),
        # SSH-like interactive session with many small packets.
        conversation(ip, *hosts[3], "tcp", 51515, 22, [36, -52, 36, -36] * 4, t + 0.008),
    ]
    return convs


def write_pcap(path, packets):
    """A classic pcap whose records keep the headers only (payload cut, as tcpdump -s does):
    the IP length fields still give the full sizes, and the files stay a few KB."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet
        for p in packets:
            data = bytes(p)
            l3 = p[IP] if IP in p else p[IPv6]
            headers = 14 + (l3.ihl * 4 if IP in p else 40) + (len(p[TCP]) - len(p[TCP].payload) if TCP in p else 8)
            t = round(float(p.time) * 1_000_000)
            f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, headers, len(data)))
            f.write(data[:headers])


def interleave(convs):
    return sorted((p for c in convs for p in c), key=lambda p: float(p.time))


def expected(packets):
    totals = {}
    for p in packets:
        key, length = five_tuple(p)
        e = totals.setdefault("|".join(map(str, key)), {"packets": 0, "bytes": 0})
        e["packets"] += 1
        e["bytes"] += length
    return totals


def write_captures(out):
    os.makedirs(out, exist_ok=True)
    files = {
        "ipv4.pcap": interleave(build(4)),
        "ipv6.pcap": interleave(build(6)),
        "mixed.pcap": interleave(build(4) + build(6)),
    }
    summary = {}
    for name, packets in files.items():
        write_pcap(os.path.join(out, name), packets)
        summary[name] = expected(packets)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


def record_datagrams(capture, version):
    """softflowd -r capture against a socket of ours; the datagrams it sent."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(["softflowd", "-a", "-d", "-r", capture, "-n", f"127.0.0.1:{port}",
                                 "-v", str(version), "-p", os.path.join(tmp, "pid")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        datagrams = []
        try:
            while True:
                datagrams.append(s.recv(65535))
        except socket.timeout:
            pass
        proc.wait(timeout=10)
    return datagrams


# The fuzzers' input format (fuzz/flow_decoder_fuzzer.cpp): a selector byte (exporter and
# decoder options), then datagrams separated by this.
FUZZ_SEPARATOR = b"\xffNF\xff"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(here, "captures"))
    parser.add_argument("--fuzz-seeds", metavar="DIR", help="also store softflowd's datagrams as fuzz seeds in DIR")
    args = parser.parse_args()
    write_captures(args.out)
    if args.fuzz_seeds:
        targets = ((5, "netflow_v5_fuzzer"), (9, "netflow_v9_fuzzer"), (10, "ipfix_fuzzer"))
        for version, target in targets:
            captures = ["ipv4"] if version == 5 else ["ipv4", "ipv6", "mixed"]
            for capture in captures:
                datagrams = record_datagrams(os.path.join(args.out, capture + ".pcap"), version)
                directory = os.path.join(args.fuzz_seeds, target)
                os.makedirs(directory, exist_ok=True)
                with open(os.path.join(directory, "softflowd_" + capture), "wb") as f:
                    f.write(b"\x00" + FUZZ_SEPARATOR.join(datagrams))
                print(f"{target}: softflowd_{capture}, {len(datagrams)} datagram(s)")

if __name__ == "__main__":
    main()
