"""A hand-written AMQP 1.0 peer (plain sockets, no proton) that sends Allegro a malformed frame,
for tests/amqp_interop.rs.

For each of --connections connections it answers like a broker would: the SASL header, a
sasl-mechanisms frame offering ANONYMOUS, a sasl-outcome "ok", the AMQP header, then open, begin
and an attach answering Allegro's (its own termini, the opposite role), with --credit for Allegro's
sender. Then, on the connections whose Allegro link has the role --garbage-to, it sends one frame
with a valid 8-byte header and a nonsense body (with --garbage-after-transfer, only once
Allegro's sender has transferred a message). It reads what Allegro sends next until Allegro
closes the connection (or --timeout). Prints {"listening": PORT} once bound, then {"result": {"connections": [...]}} with,
per connection, the transfers and other performatives Allegro sent after the handshake and the
error of its `close` (descriptor 0x18), if any. A connection that got no garbage answers
Allegro's close with a close.
"""

import argparse
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from allegro_body import say  # noqa: E402

SASL_HEADER = b"AMQP\x03\x01\x00\x00"
AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
GARBAGE_BODY = b"\xde\xad\xbe\xef\x00\x01\x02\x03"

PERFORMATIVES = {
    0x10: "open", 0x11: "begin", 0x12: "attach", 0x13: "flow", 0x14: "transfer",
    0x15: "disposition", 0x16: "detach", 0x17: "end", 0x18: "close",
    0x40: "sasl-mechanisms", 0x41: "sasl-init", 0x42: "sasl-challenge",
    0x43: "sasl-response", 0x44: "sasl-outcome",
}

# --- encoding (AMQP 1.0 part 1) -------------------------------------------------------------


def enc_null():
    return b"\x40"


def enc_bool(v):
    return b"\x41" if v else b"\x42"


def enc_ubyte(v):
    return b"\x50" + bytes([v])


def enc_ushort(v):
    return b"\x60" + struct.pack(">H", v)


def enc_uint(v):
    return b"\x70" + struct.pack(">I", v)


def enc_str(s):
    b = s.encode()
    return (b"\xa1" + bytes([len(b)]) if len(b) < 256 else b"\xb1" + struct.pack(">I", len(b))) + b


def enc_sym_array(names):
    items = b"".join(bytes([len(n)]) + n.encode() for n in names)
    body = bytes([len(names)]) + b"\xa3" + items
    return b"\xe0" + bytes([len(body)]) + body


def enc_list(fields):
    items = b"".join(fields)
    if len(items) + 1 < 256 and len(fields) < 256:
        return b"\xc0" + bytes([len(items) + 1, len(fields)]) + items
    return b"\xd0" + struct.pack(">II", len(items) + 4, len(fields)) + items


def described(code, fields):
    return b"\x00\x53" + bytes([code]) + enc_list(fields)


def frame(body, frame_type=0, channel=0):
    return struct.pack(">IBBH", 8 + len(body), 2, frame_type, channel) + body


# --- decoding ----------------------------------------------------------------------------------

FIXED = {0x40: 0, 0x41: 0, 0x42: 0, 0x43: 0, 0x44: 0, 0x45: 0, 0x50: 1, 0x51: 1, 0x52: 1,
         0x53: 1, 0x54: 1, 0x55: 1, 0x56: 1, 0x60: 2, 0x61: 2, 0x70: 4, 0x71: 4, 0x72: 4,
         0x73: 4, 0x74: 4, 0x80: 8, 0x81: 8, 0x82: 8, 0x83: 8, 0x84: 8, 0x94: 16, 0x98: 16}


class Described:
    def __init__(self, descriptor, value):
        self.descriptor = descriptor
        self.value = value


def decode(buf, at=0):
    """One value at `at`: (python value, next offset). Raises on anything it cannot read."""
    c = buf[at]
    at += 1
    if c == 0x00:
        d, at = decode(buf, at)
        v, at = decode(buf, at)
        return Described(d, v), at
    if c in FIXED:
        n = FIXED[c]
        raw = buf[at:at + n]
        if len(raw) != n:
            raise ValueError("truncated")
        at += n
        if c == 0x40:
            return None, at
        if c in (0x41, 0x42):
            return c == 0x41, at
        if c in (0x43, 0x44):
            return 0, at
        if c == 0x45:
            return [], at
        if c == 0x56:
            return raw[0] == 1, at
        if c in (0x50, 0x52, 0x53, 0x60, 0x70, 0x80, 0x83):
            return int.from_bytes(raw, "big"), at
        if c in (0x51, 0x54, 0x55, 0x61, 0x71, 0x81):
            return int.from_bytes(raw, "big", signed=True), at
        return raw, at
    if c in (0xa0, 0xa1, 0xa3, 0xb0, 0xb1, 0xb3):
        if c < 0xb0:
            n, at = buf[at], at + 1
        else:
            n, at = struct.unpack_from(">I", buf, at)[0], at + 4
        raw = buf[at:at + n]
        if len(raw) != n:
            raise ValueError("truncated")
        at += n
        return (raw.decode() if c in (0xa1, 0xb1, 0xa3, 0xb3) else raw), at
    if c in (0xc0, 0xc1, 0xd0, 0xd1):
        if c < 0xd0:
            size, count, at = buf[at], buf[at + 1], at + 2
            end = at + size - 1
        else:
            size, count = struct.unpack_from(">II", buf, at)
            at += 8
            end = at + size - 4
        items = []
        for _ in range(count):
            v, at = decode(buf, at)
            items.append(v)
        if at != end:
            raise ValueError("bad compound size")
        if c in (0xc1, 0xd1):
            return dict(zip(items[::2], items[1::2])), at
        return items, at
    if c in (0xe0, 0xf0):
        if c == 0xe0:
            size, count, at = buf[at], buf[at + 1], at + 2
            end = at + size - 1
        else:
            size, count = struct.unpack_from(">II", buf, at)
            at += 8
            end = at + size - 4
        ctor = buf[at:at + 1]
        at += 1
        items = []
        for _ in range(count):
            # Re-read each element with the shared constructor in front.
            v, n = decode(ctor + buf[at:end], 0)
            at += n - 1
            items.append(v)
        return items, end
    raise ValueError("unknown format code %#04x" % c)


# --- a connection ------------------------------------------------------------------------------


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("Allegro closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """(frame type, performative code or None for an empty frame, fields)."""
        size, doff, ftype, _channel = struct.unpack(">IBBH", self.read_exact(8))
        rest = self.read_exact(size - 8)
        body = rest[doff * 4 - 8:]
        if not body:
            return ftype, None, None
        v, _ = decode(body, 0)
        if not isinstance(v, Described):
            raise ValueError("frame body is not a described value")
        return ftype, v.descriptor, v.value

    def expect(self, code):
        while True:
            ftype, got, fields = self.read_frame()
            if got is None:
                continue  # a heartbeat
            if got != code:
                raise ValueError("expected %s, got %s" % (PERFORMATIVES.get(code), PERFORMATIVES.get(got, got)))
            return fields


# Set when a connection of Allegro's sender got its first transfer (--garbage-after-transfer).
FIRST_TRANSFER = threading.Event()


def serve(sock, a, report):
    sock.settimeout(a.timeout)
    c = Conn(sock)
    try:
        header = c.read_exact(8)
        if header != SASL_HEADER:
            raise ValueError("first header %r is not the SASL header" % header)
        sock.sendall(SASL_HEADER)
        sock.sendall(frame(described(0x40, [enc_sym_array(["ANONYMOUS"])]), frame_type=1))
        init = c.expect(0x41)
        report["sasl_mechanism"] = init[0]
        sock.sendall(frame(described(0x44, [enc_ubyte(0)]), frame_type=1))
        header = c.read_exact(8)
        if header != AMQP_HEADER:
            raise ValueError("second header %r is not the AMQP header" % header)
        c.expect(0x10)
        c.expect(0x11)
        attach = c.expect(0x12)
        name, allegro_is_receiver = attach[0], attach[2]
        source = attach[5].value[0] if len(attach) > 5 and isinstance(attach[5], Described) else None
        target = attach[6].value[0] if len(attach) > 6 and isinstance(attach[6], Described) else None
        role = report["role"] = "receiver" if allegro_is_receiver else "sender"
        report["address"] = source if allegro_is_receiver else target
        out = AMQP_HEADER
        out += frame(described(0x10, [enc_str("allegro-malformed-peer"), enc_str("127.0.0.1"), enc_uint(65536)]))
        out += frame(described(0x11, [enc_ushort(0), enc_uint(0), enc_uint(2048), enc_uint(2048)]))
        terminus = lambda code, addr: described(code, [enc_str(addr or "")])  # noqa: E731
        out += frame(described(0x12, [
            enc_str(name), enc_uint(0), enc_bool(not allegro_is_receiver), enc_null(), enc_null(),
            terminus(0x28, source), terminus(0x29, target), enc_null(), enc_bool(False),
            enc_uint(0) if allegro_is_receiver else enc_null(),
        ]))
        if role == "sender" and a.credit > 0:
            # flow: next-incoming-id, incoming-window, next-outgoing-id, outgoing-window,
            # handle, delivery-count, link-credit
            out += frame(described(0x13, [
                enc_uint(0), enc_uint(1 << 20), enc_uint(0), enc_uint(2048),
                enc_uint(0), enc_uint(0), enc_uint(a.credit),
            ]))
        sock.sendall(out)
        garbage = report["garbage_sent"] = a.garbage_to in ("both", role)
        if garbage:
            if a.garbage_after_transfer:
                # Only once Allegro's run is under way: its sender is transferring.
                report["sender_was_transferring"] = FIRST_TRANSFER.wait(a.timeout)
            sock.sendall(frame(GARBAGE_BODY))
        seen = report["after_handshake"] = []
        report["transfers"] = 0
        while True:
            _ftype, code, fields = c.read_frame()
            if code is None:
                seen.append("empty")
                continue
            if code == 0x14:
                report["transfers"] += 1
                FIRST_TRANSFER.set()
                continue
            seen.append(PERFORMATIVES.get(code, "%#x" % code))
            if code == 0x18:
                err = fields[0] if fields else None
                if isinstance(err, Described):
                    report["close_condition"] = err.value[0]
                    report["close_description"] = err.value[1] if len(err.value) > 1 else None
                else:
                    report["close_condition"] = None
                if not garbage:
                    # A well-behaved peer answers a close with its own (2.4.3).
                    sock.sendall(frame(described(0x18, [])))
                break
        # Allegro should close the socket after the closes.
        try:
            c.read_exact(1)
            report["eof_after_close"] = False
        except EOFError:
            report["eof_after_close"] = True
    except EOFError as e:
        report["eof"] = str(e)
    except socket.timeout:
        report["timed_out"] = True
    except Exception as e:  # anything else is reported, not raised: the test reads the report
        report["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--garbage-to", choices=["sender", "receiver", "both"], default="both",
                   help="the Allegro link role whose connections get the malformed frame")
    p.add_argument("--garbage-after-transfer", action="store_true",
                   help="send the malformed frame only once Allegro's sender has transferred")
    p.add_argument("--credit", type=int, default=0, help="link credit for Allegro's sender")
    p.add_argument("--timeout", type=float, default=20.0)
    a = p.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(a.timeout)
    say({"listening": ls.getsockname()[1]})
    reports, threads = [], []
    try:
        for _ in range(a.connections):
            sock, _addr = ls.accept()
            r = {}
            reports.append(r)
            t = threading.Thread(target=serve, args=(sock, a, r), daemon=True)
            t.start()
            threads.append(t)
    except socket.timeout:
        reports.append({"error": "only %d of %d connections came" % (len(threads), a.connections)})
    for t in threads:
        t.join(a.timeout + 5)
    say({"result": {"connections": reports}})


if __name__ == "__main__":
    main()
