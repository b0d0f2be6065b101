"""Allegro's message body layout (engine/src/payload.rs), for the AMQP 1.0 test peers.

    0..8    send time, i64 LE, microseconds since the Unix epoch
    8..12   b"ALG2"
    12..16  run id, u32 LE
    16..20  sender id, u32 LE
    20..24  connection id, u32 LE
    24..32  sequence number, u64 LE, from 0 per connection
    32..40  intended send time, i64 LE, nanoseconds since the epoch
    40..    filler: byte i is b'a' + i % 26
"""

import json
import struct
import sys
import time

HEADER_LEN = 40
MAGIC = b"ALG2"
LAYOUT = "<q4sIIIQq"
# Send times further than this from the peer's clock are wrong (all on one machine).
CLOCK_SLACK_NS = 120 * 1_000_000_000


def filler(n):
    return bytes(ord("a") + i % 26 for i in range(n))


def build(run, sender, connection, sequence, size):
    """A body of `size` (>= 40) bytes stamped now, as an Allegro sender of run `run` makes it."""
    now = time.time_ns()
    body = bytearray(filler(size))
    struct.pack_into(LAYOUT, body, 0, now // 1000, MAGIC, run, sender, connection, sequence, now)
    return bytes(body)


class BodyChecker:
    """Checks every body against the layout and follows sequence numbers per (sender, connection)."""

    def __init__(self, size=None):
        self.size = size
        self.count = 0
        self.bad_count = 0
        self.bad = []  # the first few problems, for the report
        self.duplicates = 0
        self.gaps = 0
        self.next = {}  # (sender, connection) -> next sequence expected
        self.started_ns = time.time_ns()
        self._filler = {}

    def _bad(self, why):
        self.bad_count += 1
        if len(self.bad) < 10:
            self.bad.append(why)

    def check(self, body, data_section=True):
        self.count += 1
        if not data_section or not isinstance(body, (bytes, bytearray, memoryview)):
            self._bad("message %d: body is not one data section (%s)" % (self.count, type(body).__name__))
            return
        body = bytes(body)
        if self.size is not None and len(body) != self.size:
            self._bad("message %d: %d bytes, expected %d" % (self.count, len(body), self.size))
        if len(body) < HEADER_LEN:
            self._bad("message %d: %d bytes, shorter than the header" % (self.count, len(body)))
            return
        sent_us, magic, _run, sender, conn, seq, intended_ns = struct.unpack_from(LAYOUT, body, 0)
        if magic != MAGIC:
            self._bad("message %d: magic %r" % (self.count, magic))
            return
        now = time.time_ns()
        for name, ns in (("send time", sent_us * 1000), ("intended time", intended_ns)):
            if not self.started_ns - CLOCK_SLACK_NS <= ns <= now + CLOCK_SLACK_NS:
                self._bad("message %d: %s %d ns is not near now (%d)" % (self.count, name, ns, now))
        want = self._filler.get(len(body))
        if want is None:
            want = self._filler[len(body)] = filler(len(body))[HEADER_LEN:]
        if body[HEADER_LEN:] != want:
            self._bad("message %d (sender %08x conn %d seq %d): filler differs" % (self.count, sender, conn, seq))
        key = (sender, conn)
        expected = self.next.get(key, 0)
        if seq == expected:
            self.next[key] = seq + 1
        elif seq < expected:
            self.duplicates += 1
        else:
            self.gaps += 1
            self._bad("sender %08x conn %d: sequence %d after %d" % (sender, conn, seq, expected - 1))
            self.next[key] = seq + 1

    def result(self):
        return {
            "count": self.count,
            "bad_count": self.bad_count,
            "bad": self.bad,
            "duplicates": self.duplicates,
            "gaps": self.gaps,
            # "SENDER:CONNECTION" -> next sequence number expected (= messages in order)
            "streams": {"%08x:%d" % k: v for k, v in sorted(self.next.items())},
        }


def say(obj):
    """One JSON line on stdout, flushed (the test reads them as they come)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def import_proton():
    try:
        import proton  # noqa: F401
    except ImportError as e:
        sys.stderr.write(
            "cannot import proton under %s (%s): install python3-qpid-proton; run scripts/setup\n"
            % (sys.executable, e)
        )
        sys.exit(3)
