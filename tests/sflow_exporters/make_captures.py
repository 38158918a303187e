#!/usr/bin/python3
"""Writes the capture file the sFlow exporter test replays through pmacctd's sfprobe plugin.

    /usr/bin/python3 tests/sflow_exporters/make_captures.py [--out DIR]

Deterministic (fixed addresses, sizes and times), so the committed files can be made again
byte for byte. mixed.pcap holds, interleaved, TCP, UDP and ICMP conversations over IPv4 and
IPv6 (ICMPv6), some of them in 802.1Q-tagged frames (VLAN 42), starting
2024-11-25T10:20:00Z. expected.json lists each direction's five-tuple with its packets and
its frame bytes as an sFlow agent reports them: the frame's length on the wire plus 4 (the
FCS pmacctd's sfprobe adds to every frame length). ICMP's five-tuple has source port 0 and
destination port type * 256 + code.

After that traffic come SENTINEL_PACKETS UDP packets 10.99.99.1:9 -> 10.99.99.2:9, left out
of expected.json: pmacctd sends samples in capture order and holds the last ones back until
an idle timer fires 60 s later, so a test that has seen a sentinel sample knows that every
sample of the real traffic has been sent, without waiting for that timer.

With --fuzz-seeds DIR (fuzz/corpus) it also runs pmacctd's sfprobe over the capture against
a UDP socket of its own and stores the datagrams as seeds of the sFlow fuzzer,
DIR/sflow_fuzzer/pmacctd_<n> (a selector byte 0, then the datagram).
"""
import argparse
import json
import os
import socket
import subprocess
import tempfile
import time

from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, Raw, wrpcap

BASE = 1732530000.0  # 2024-11-25T10:20:00Z
SENTINEL = ("10.99.99.1", "10.99.99.2")
SENTINEL_PACKETS = 1000


def frame(ip, src, dst, layer4, payload, vlan):
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    if vlan:
        e = e / Dot1Q(vlan=vlan)
    p = e / ip(src=src, dst=dst) / layer4 / Raw(b"x" * payload)
    return Ether(bytes(p))  # lengths and checksums filled in


def conversation(family, src, dst, proto, sport, dport, sizes, vlan=0):
    """The packets of one conversation; sizes are payload lengths, positive from src to dst
    and negative for the reply."""
    ip = IP if family == 4 else IPv6
    out = []
    for n in sizes:
        forward = n > 0
        a, b, sp, dp = (src, dst, sport, dport) if forward else (dst, src, dport, sport)
        if proto == "tcp":
            layer4 = TCP(sport=sp, dport=dp, flags="PA")
        elif proto == "udp":
            layer4 = UDP(sport=sp, dport=dp)
        elif family == 4:
            layer4 = ICMP(type=8 if forward else 0, code=0)
        else:
            layer4 = ICMPv6EchoRequest() if forward else ICMPv6EchoReply()
        out.append(frame(ip, a, b, layer4, abs(n), vlan))
    return out


def five_tuple(p):
    l3 = p[IP] if IP in p else p[IPv6]
    if TCP in p:
        return (l3.src, l3.dst, p[TCP].sport, p[TCP].dport, "TCP")
    if UDP in p:
        return (l3.src, l3.dst, p[UDP].sport, p[UDP].dport, "UDP")
    if ICMP in p:
        return (l3.src, l3.dst, 0, p[ICMP].type * 256 + p[ICMP].code, "ICMP")
    icmp6 = p[ICMPv6EchoRequest] if ICMPv6EchoRequest in p else p[ICMPv6EchoReply]
    return (l3.src, l3.dst, 0, icmp6.type * 256 + icmp6.code, "ICMPV6")


def build():
    sizes = [(i * 37) % 1400 + 10 for i in range(60)]
    both = [s if i % 3 else -s for i, s in enumerate(sizes)]
    conversations = [
        conversation(4, "10.1.0.1", "10.2.0.1", "tcp", 40001, 443, both),
        conversation(4, "10.1.0.2", "10.2.0.2", "udp", 40002, 53, both[:40]),
        conversation(4, "10.1.0.3", "10.2.0.3", "icmp", 0, 0, [56, -56] * 15),
        conversation(6, "2001:db8:1::1", "2001:db8:2::1", "tcp", 40004, 80, both),
        conversation(6, "2001:db8:1::2", "2001:db8:2::2", "udp", 40005, 123, both[:30]),
        conversation(6, "2001:db8:1::3", "2001:db8:2::3", "icmp", 0, 0, [64, -64] * 12),
        conversation(4, "192.168.42.1", "192.168.42.2", "tcp", 40007, 22, both[:50], vlan=42),
        conversation(6, "2001:db8:42::1", "2001:db8:42::2", "udp", 40008, 5353, both[:20], vlan=42),
    ]
    # Round-robin interleaving, 1 ms apart.
    packets = []
    longest = max(len(c) for c in conversations)
    for i in range(longest):
        for c in conversations:
            if i < len(c):
                packets.append(c[i])
    real = len(packets)
    for _ in range(SENTINEL_PACKETS):
        packets.append(frame(IP, SENTINEL[0], SENTINEL[1], UDP(sport=9, dport=9), 18, 0))
    for i, p in enumerate(packets):
        p.time = BASE + i / 1000.0
    return packets, real


def expected(packets):
    totals = {}
    for p in packets:
        key = "|".join(str(x) for x in five_tuple(p))
        t = totals.setdefault(key, {"bytes": 0, "packets": 0})
        t["packets"] += 1
        t["bytes"] += len(bytes(p)) + 4
    return dict(sorted(totals.items()))


def fuzz_seeds(capture, directory):
    """pmacctd's sfprobe datagrams for the capture (rate 1), as fuzzer seeds."""
    target = os.path.join(directory, "sflow_fuzzer")
    os.makedirs(target, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "pmacctd.conf")
        with open(conf, "w") as f:
            f.write(f"daemonize: false\npcap_savefile: {capture}\npcap_savefile_wait: true\nplugins: sfprobe\n"
                    f"sfprobe_receiver: 127.0.0.1:{port}\nsfprobe_agentip: 127.0.0.1\nsampling_rate: 1\n")
        pmacctd = subprocess.Popen(["pmacctd", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock.settimeout(90)  # the last samples wait for pmacctd's 60 s idle timer
        count = 0
        try:
            while count < 64:
                data = sock.recv(65536)
                with open(os.path.join(target, f"pmacctd_{count}"), "wb") as out:
                    out.write(b"\x00" + data)  # the fuzzer's selector byte, then the datagram
                count += 1
                sock.settimeout(5 if count > 1 else 90)
        except socket.timeout:
            pass
        pmacctd.terminate()
        pmacctd.wait()
    print(f"{count} seeds in {target}")


def main():
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "captures"))
    parser.add_argument("--fuzz-seeds")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    packets, real = build()
    capture = os.path.join(args.out, "mixed.pcap")
    wrpcap(capture, packets)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump({"mixed.pcap": expected(packets[:real])}, f, indent=1, sort_keys=True)
        f.write("\n")
    if args.fuzz_seeds:
        fuzz_seeds(capture, args.fuzz_seeds)


if __name__ == "__main__":
    main()
