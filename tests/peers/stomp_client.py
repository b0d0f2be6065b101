"""An independent STOMP client (Debian's python3-stomp, run with /usr/bin/python3) for
tests/stomp_interop.rs.

    stomp_client.py send HOST PORT DESTINATION COUNT SIZE RUN
        sends COUNT bodies in Allegro's layout (allegro_body.py; sender 0x57011, connection 0,
        sequence 0..COUNT-1, run RUN in hex), the last with a receipt it waits for
    stomp_client.py receive HOST PORT DESTINATION COUNT TIMEOUT_S
        prints {"subscribed": true} once its subscription is confirmed, then checks every body
        until COUNT arrived or TIMEOUT_S passed with nothing new

Each ends with one line {"result": {...}} on stdout.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import allegro_body  # noqa: E402

try:
    import stomp
except ImportError as e:
    sys.stderr.write("cannot import stomp under %s (%s): install python3-stomp; run scripts/setup\n"
                     % (sys.executable, e))
    sys.exit(3)

PY_SENDER = 0x57011


class Listener(stomp.ConnectionListener):
    def __init__(self, checker):
        self.checker = checker
        self.receipts = set()
        self.errors = []
        self.last = time.monotonic()
        self.cond = threading.Condition()

    def on_message(self, frame):
        body = frame.body
        if isinstance(body, str):
            body = body.encode("latin-1")
        with self.cond:
            self.checker.check(body)
            self.last = time.monotonic()
            self.cond.notify_all()

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.cond.notify_all()

    def on_error(self, frame):
        with self.cond:
            self.errors.append("%s %s" % (frame.headers.get("message"), frame.body))
            self.cond.notify_all()

    def wait(self, pred, timeout):
        with self.cond:
            return self.cond.wait_for(pred, timeout)


def connect(host, port, listener):
    conn = stomp.Connection12([(host, int(port))], vhost="/", auto_decode=False)
    conn.set_listener("", listener)
    conn.connect("guest", "guest", wait=True)
    return conn


def send(host, port, dest, count, size, run):
    listener = Listener(allegro_body.BodyChecker())
    conn = connect(host, port, listener)
    for i in range(count):
        body = allegro_body.build(run, PY_SENDER, 0, i, size)
        headers = {"receipt": "last"} if i == count - 1 else {}
        conn.send(dest, body, headers=headers)
    ok = listener.wait(lambda: "last" in listener.receipts or listener.errors, 60)
    conn.disconnect()
    allegro_body.say({"result": {"sent": count, "confirmed": bool(ok) and not listener.errors,
                                 "errors": listener.errors}})


def receive(host, port, dest, count, timeout_s):
    checker = allegro_body.BodyChecker()
    listener = Listener(checker)
    conn = connect(host, port, listener)
    conn.subscribe(dest, id="py", ack="auto", headers={"receipt": "sub"})
    if not listener.wait(lambda: "sub" in listener.receipts or listener.errors, 30):
        listener.errors.append("no receipt for SUBSCRIBE")
    allegro_body.say({"subscribed": not listener.errors})
    while True:
        with listener.cond:
            if checker.count >= count or listener.errors:
                break
            if time.monotonic() - listener.last > timeout_s and checker.count > 0:
                break
            listener.cond.wait(0.2)
        if time.monotonic() - listener.last > 10 * timeout_s:
            break
    conn.disconnect()
    result = checker.result()
    result["errors"] = listener.errors
    allegro_body.say({"result": result})


def main():
    mode = sys.argv[1]
    if mode == "send":
        host, port, dest, count, size, run = sys.argv[2:8]
        send(host, port, dest, int(count), int(size), int(run, 16))
    elif mode == "receive":
        host, port, dest, count, timeout_s = sys.argv[2:7]
        receive(host, port, dest, int(count), float(timeout_s))
    else:
        sys.exit("usage: stomp_client.py send|receive ...")


if __name__ == "__main__":
    main()
