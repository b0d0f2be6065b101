"""Writes the Maestro result files of a Java worker's test directories, byte for byte as the
Maestro protocol's section 10 lays them out (kept beside them so that they can be remade):
java-sender/0: test.properties, sender.dat; java-receiver/0: test.properties, receiver.dat,
receiverd-latency.hdr. The latency log's histograms are encoded here, independently of
Allegro's encoder (HdrHistogram V2, deflate-compressed, base64)."""

import base64
import os
import struct
import zlib

START = 1796600000  # epoch seconds of the first record
COUNTS = [990, 1000, 1000, 1010, 1000]  # messages per second, five seconds


def properties(path):
    with open(path, "w") as f:
        f.write("#maestro-plotter\n#Mon Dec 07 10:00:00 UTC 2026\n")
        f.write("brokerUri=amqp\\://sut\\:5672/test.performance.queue\n")
        for k, v in [("durationType", "time"), ("duration", "5"), ("parallelCount", "1"),
                     ("messageSize", "256"), ("variableSize", "false"), ("rate", "1000"),
                     ("fcl", "0"), ("protocol", "AMQP"), ("limitDestinations", "1"),
                     ("apiName", "JMS"), ("apiVersion", "1.1")]:
            f.write(f"{k}={v}\n")


def rate_file(path):
    with open(path, "wb") as f:
        f.write(b" maestro" + struct.pack(">iii", 1, 155, 1))
        for i, n in enumerate(COUNTS):
            f.write(struct.pack(">iqq", 0, n, (START + i) * 1_000_000 + 250_000))


def leb128_zigzag(v):
    v = (v << 1) ^ (v >> 63)
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def histogram(values_us):
    """V2 encoding of a histogram (1 us .. 3.6e9 us, 3 significant digits) holding `values_us`
    (each below 2048, where the bucket index is the value itself), deflate-compressed."""
    counts = {}
    for v in values_us:
        counts[v] = counts.get(v, 0) + 1
    payload = bytearray()
    zeros = 0
    for i in range(0, max(counts) + 1):
        c = counts.get(i, 0)
        if c == 0:
            zeros += 1
            continue
        if zeros:
            payload += leb128_zigzag(-zeros) if zeros > 1 else leb128_zigzag(0)
            zeros = 0
        payload += leb128_zigzag(c)
    header = struct.pack(">iiiiqqd", 0x1C849313, len(payload), 0, 3, 1, 3_600_000_000, 1.0)
    raw = header + bytes(payload)
    comp = zlib.compress(raw)
    return struct.pack(">ii", 0x1C849314, len(comp)) + comp


def latency_log(path):
    with open(path, "w") as f:
        f.write("#[mpt]\n#[Histogram log format version 1.3]\n")
        f.write(f"#[StartTime: {START}.000 (seconds since epoch), Mon Dec 07 10:00:00 UTC 2026]\n")
        f.write('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n')
        for i, n in enumerate(COUNTS):
            # n values spread over 100..1099 us
            values = [100 + (k * 997) % 1000 for k in range(n)]
            h = base64.b64encode(histogram(values)).decode()
            f.write(f"{START + i}.000,1.000,{max(values) / 1e6:.3f},{h}\n")


here = os.path.dirname(os.path.abspath(__file__))
for role in ["sender", "receiver"]:
    d = os.path.join(here, f"java-{role}", "0")
    os.makedirs(d, exist_ok=True)
    properties(os.path.join(d, "test.properties"))
    rate_file(os.path.join(d, f"{role}.dat"))
    if role == "receiver":
        latency_log(os.path.join(d, "receiverd-latency.hdr"))
