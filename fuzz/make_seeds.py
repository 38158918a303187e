#!/usr/bin/env python3
"""Writes the hand-made seed corpora under fuzz/corpus/<target>/ (small valid inputs).

The decoder targets take one selector byte (exporter and options, see
flow_decoder_fuzzer.cpp) and then datagrams separated by b"\\xffNF\\xff". Real captures
(softflowd exports) can be dropped into the same directories as plain files.
"""
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"\xffNF\xff"
T = 1732530000  # export time


def ip4(text):
    return socket.inet_pton(socket.AF_INET, text)


def ip6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def flowset(set_id, body, align=4):
    length = 4 + len(body)
    pad = (-length) % align
    return struct.pack(">HH", set_id, length + pad) + body + b"\0" * pad


def fields(*pairs):
    return b"".join(struct.pack(">HH", t, l) for t, l in pairs)


def v5(records, seq=0, sampling=0):
    out = struct.pack(">HHIIIIBBH", 5, len(records), 100000, T, 500000000, seq, 0, 0, sampling)
    for src, dst, sport, dport, proto in records:
        out += ip4(src) + ip4(dst) + ip4("0.0.0.0") + struct.pack(">HHIIIIHHBBBBHHBBH", 1, 2, 10, 1500, 90000,
                                                                      99000, sport, dport, 0, 0x18, proto, 0, 0, 0,
                                                                      24, 24, 0)
    return out


def v9(sets, seq=1, source_id=7):
    return struct.pack(">HHIIII", 9, len(sets), 60000, T, seq, source_id) + b"".join(sets)


def ipfix(sets, seq=0, domain=1):
    body = b"".join(sets)
    return struct.pack(">HHIII", 10, 16 + len(body), T, seq, domain) + body


V9_TEMPLATE = flowset(0, struct.pack(">HH", 256, 10) +
                      fields((8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (10, 2), (1, 4), (2, 4), (22, 4), (21, 4)))
V9_DATA = flowset(256, ip4("10.1.1.1") + ip4("10.2.2.2") + struct.pack(">HHBHIIII", 1234, 80, 6, 3, 1000, 4, 50000,
                                                                         59000))
V9_OPTIONS = flowset(1, struct.pack(">HHH", 257, 4, 8) + fields((2, 4), (34, 4), (35, 1))) + \
    flowset(257, struct.pack(">IIB", 3, 100, 2))
V9_V6 = flowset(0, struct.pack(">HH", 300, 6) + fields((27, 16), (28, 16), (7, 2), (11, 2), (4, 1), (1, 8))) + \
    flowset(300, ip6("2001:db8::1") + ip6("fe80::1") + struct.pack(">HHBQ", 5, 6, 58, 1 << 40))

IPFIX_RICH_TEMPLATE = flowset(2, struct.pack(">HH", 400, 12) + fields((8, 4), (12, 4)) +
                              struct.pack(">HHI", 0x8000 | 100, 4, 29305) + fields((82, 65535)) +
                              fields((7, 2), (11, 2), (4, 1), (1, 8), (2, 8)) +
                              struct.pack(">HHI", 0x8000 | 200, 65535, 9) + fields((152, 8), (153, 8)), align=1)
IPFIX_RICH_DATA = flowset(400, ip4("10.0.0.1") + ip4("10.0.0.2") + struct.pack(">I", 0xdeadbeef) + b"\x04eth0" +
                          struct.pack(">HHBQQ", 5000, 53, 17, 123456, 789) + b"\xff\x00\x10" + b"\xab" * 16 +
                          struct.pack(">QQ", T * 1000 - 5000, T * 1000 - 2000), align=1)
IPFIX_OPTIONS = flowset(3, struct.pack(">HHH", 256, 5, 1) + fields((143, 4), (160, 8), (305, 4), (306, 4), (304, 2)),
                        align=1) + \
    flowset(256, struct.pack(">IQIIH", 1, T * 1000 - 3600000, 1, 9, 1), align=1) + \
    flowset(2, struct.pack(">HH", 1024, 6) + fields((8, 4), (12, 4), (1, 4), (2, 4), (22, 4), (21, 4)), align=1) + \
    flowset(1024, ip4("10.0.0.1") + ip4("10.0.0.2") + struct.pack(">IIII", 100, 2, 3500000, 3590000), align=1)
IPFIX_TIMES = flowset(2, struct.pack(">HH", 500, 4) + fields((8, 4), (12, 4), (150, 4), (151, 4)) +
                      struct.pack(">HH", 501, 4) + fields((8, 4), (12, 4), (154, 8), (155, 8)) +
                      struct.pack(">HH", 2048, 5) + fields((27, 16), (28, 16), (7, 2), (11, 2), (4, 1)), align=1) + \
    flowset(500, ip4("1.1.1.1") + ip4("2.2.2.2") + struct.pack(">II", T - 9, T - 8), align=1) + \
    flowset(501, ip4("1.1.1.1") + ip4("2.2.2.2") + struct.pack(">QQ", (T + 2208988800) << 32, (T + 2208988801) << 32),
            align=1) + \
    flowset(2048, ip6("2001:db8::1") + ip6("2001:db8::2") + struct.pack(">HHB", 1, 2, 6), align=1)
IPFIX_WITHDRAW = flowset(2, struct.pack(">HH", 400, 0), align=1) + flowset(2, struct.pack(">HH", 2, 0), align=1) + \
    flowset(3, struct.pack(">HH", 3, 0), align=1)

SEEDS = {
    "netflow_v5_fuzzer": {
        "two_records": b"\x00" + v5([("10.0.0.1", "192.168.1.200", 40000, 443, 6), ("10.0.0.2", "8.8.8.8", 53000, 53,
                                                                                     17)]),
        "sampled_two_exporters": b"\x02" + v5([("10.0.0.1", "10.0.0.2", 1, 2, 6)], 0, 0x4000 | 10) + SEP +
        v5([("10.0.0.3", "10.0.0.4", 3, 4, 17)], 5),
    },
    "netflow_v9_fuzzer": {
        "template_and_data": b"\x00" + v9([V9_TEMPLATE, V9_DATA]),
        "data_then_template": b"\x00" + v9([V9_DATA], 1) + SEP + v9([V9_TEMPLATE], 2) + SEP + v9([V9_DATA], 4),
        "options_sampling": b"\x00" + v9([V9_OPTIONS, V9_TEMPLATE, V9_DATA]),
        "ipv6": b"\x80" + v9([V9_V6]),
    },
    "ipfix_fuzzer": {
        "variable_and_enterprise": b"\x00" + ipfix([IPFIX_RICH_TEMPLATE, IPFIX_RICH_DATA]),
        "options_sysuptime": b"\x00" + ipfix([IPFIX_OPTIONS]),
        "time_units_ipv6": b"\x40" + ipfix([IPFIX_TIMES]),
        "withdraw_and_hold": b"\x00" + ipfix([IPFIX_RICH_TEMPLATE, IPFIX_RICH_DATA]) + SEP +
        ipfix([IPFIX_WITHDRAW], 1) + SEP + ipfix([IPFIX_RICH_DATA], 2) + SEP + ipfix([IPFIX_RICH_TEMPLATE], 3),
    },
}

RECORD = (b'{"source_ip": "10.0.0.1", "dest_ip": "2001:db8::1", "source_port": 1234, "dest_port": 80, '
          b'"protocol": "TCP", "timestamp": "2024-11-25T10:20:00.123Z", "value": 1.5, "packets": 10, '
          b'"bytes": 1500, "flows": 1}')
RECORD_NUMERIC = (b'{"source_ip": "192.168.1.1", "dest_ip": "8.8.8.8", "source_port": 53000, "dest_port": 53, '
                  b'"protocol": 17, "timestamp": 1732530000.5, "value": 80}')
SEEDS["json_record_fuzzer"] = {
    "record": RECORD,
    "numeric": RECORD_NUMERIC,
    "bad_port": RECORD.replace(b"1234", b'"1234"'),
}
SEEDS["json_body_fuzzer"] = {
    "ndjson": RECORD + b"\n\n" + RECORD_NUMERIC + b"\r\n" + b"{\"source_ip\": 1}\n",
    "array": b"[" + RECORD + b", " + RECORD_NUMERIC + b"]",
    "truncated_array": b"[" + RECORD + b", {",
}

SEEDS["filter_parser_fuzzer"] = {
    "issue_example": b"source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp",
    "not_group": b"not (source_ip = 10.0.0.1 or dest_port in 1000-2000)",
    "sets_ipv6": b"source_ip in (10.0.0.1, 10.0.0.2) or dest_ip in 2001:db8::/32",
    "protocols_ranges": b"protocol in (tcp, UDP, 47) and dest_port != 53 and src_port not in (0-1023, 8080)",
    "nested_aliases": b"((not not dst_ip == ::ffff:10.0.0.1) or proto = ipv6-icmp)",
    "truncated": b"dest_port = 443 and (",
}

# sFlow v5 (sflow_fuzzer: one selector byte, then datagrams separated by b"\xffSF\xff").
SF_SEP = b"\xffSF\xff"


def xdr_opaque(data):
    return struct.pack(">I", len(data)) + data + b"\0" * ((-len(data)) % 4)


def sf_element(fmt, body):
    return struct.pack(">II", fmt, len(body)) + body


def sf_header(protocol, frame_length, header):
    return sf_element(1, struct.pack(">III", protocol, frame_length, 4) + xdr_opaque(header))


def eth(ethertype, payload, tags=()):
    frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01"
    for tpid, vlan in tags:
        frame += struct.pack(">HH", tpid, vlan)
    return frame + struct.pack(">H", ethertype) + payload


def ipv4_tcp(src, dst, sport, dport, proto=6):
    l4 = struct.pack(">HHIIHHI", sport, dport, 1, 0, 0x5010, 1024, 0)
    return struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0) + ip4(src) + ip4(dst) + l4


def ipv6_udp(src, dst, sport, dport, hop_by_hop=False):
    l4 = struct.pack(">HHHH", sport, dport, 8, 0)
    nxt = 17
    if hop_by_hop:
        l4 = bytes([17, 0, 0, 0, 0, 0, 0, 0]) + l4
        nxt = 0
    return struct.pack(">IHBB", 0x60000000, len(l4), nxt, 64) + ip6(src) + ip6(dst) + l4


def sf_flow(records, seq=1, rate=100, inp=3, out=4, source=3):
    body = struct.pack(">IIIIIII", seq, source, rate, seq * rate, 0, inp, out) + struct.pack(">I", len(records))
    return sf_element(1, body + b"".join(records))


def sf_expanded(records, seq=1, rate=100):
    body = struct.pack(">IIIIIIIIIII", seq, 0, 70000000, rate, seq * rate, 0, 0, 0x3FFFFFFF, 1, 5, len(records))
    return sf_element(3, body + b"".join(records))


def sf_counters(seq=1):
    return sf_element(2, struct.pack(">III", seq, 3, 1) + sf_element(1, b"\0" * 88))


def sflow(samples, seq=1, agent="192.0.2.1", sub_agent=0):
    return struct.pack(">II", 5, 1) + ip4(agent) + struct.pack(">IIII", sub_agent, seq, 123456, len(samples)) + \
        b"".join(samples)


SF_TCP = sf_header(1, 1518, eth(0x0800, ipv4_tcp("10.0.0.1", "10.0.0.2", 40000, 443)))
SEEDS["sflow_fuzzer"] = {
    "ethernet_tcp": b"\x00" + sflow([sf_flow([sf_element(1001, struct.pack(">IIII", 10, 0, 20, 0)), SF_TCP])]),
    "rate_zero_internal": b"\x00" + sflow([sf_flow([SF_TCP], rate=0, inp=0x3FFFFFFF, out=0x40000001)]),
    "qinq_ipv6": b"\x02" + sflow([sf_flow([sf_header(1, 200, eth(0x86DD, ipv6_udp("2001:db8::1", "2001:db8::2", 53, 5353, True),
                                                            ((0x88A8, 100), (0x8100, 200))))])]),
    "ip_headers_expanded": b"\x01" + sflow([sf_expanded([sf_header(11, 60, ipv4_tcp("10.1.0.1", "10.1.0.2", 1, 2, 17))]),
                                           sf_expanded([sf_header(12, 80, ipv6_udp("2001:db8::a", "2001:db8::b", 3, 4))], 2),
                                           sf_counters()]) + SF_SEP + sflow([sf_flow([SF_TCP], seq=5)], seq=4),
    "unsupported_and_arp": b"\x00" + sflow([sf_flow([sf_header(2, 60, b"\0" * 40)]),
                                           sf_flow([sf_header(1, 60, eth(0x0806, b"\1" * 28))], seq=2)]),
    "sampled_ipv4_router": b"\x0c" + sflow([sf_flow([sf_element(3, struct.pack(">II", 1400, 17) + ip4("10.3.0.1") +
                                                                 ip4("10.3.0.2") + struct.pack(">IIII", 5, 6, 0, 0)),
                                                     sf_element(1002, struct.pack(">I", 1) + ip4("10.9.9.9") +
                                                                struct.pack(">II", 24, 16))])]),
}

for target, seeds in SEEDS.items():
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
