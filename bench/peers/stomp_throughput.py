#!/usr/bin/python3
"""One python3-stomp sender and one receiver through a STOMP broker, for comparison with
Allegro: COUNT messages of SIZE bytes to DESTINATION, no receipts, auto acknowledgement. Prints
one JSON line: messages received, seconds from the first send to the last receive.

usage: stomp_throughput.py HOST:PORT DESTINATION COUNT SIZE
"""
import json
import sys
import threading
import time

import stomp


class Counter(stomp.ConnectionListener):
    def __init__(self, count):
        self.count, self.got = count, 0
        self.done = threading.Event()
        self.subscribed = threading.Event()

    def on_receipt(self, frame):
        self.subscribed.set()

    def on_message(self, frame):
        self.got += 1
        if self.got >= self.count:
            self.done.set()


def main():
    hostport, dest, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    host, port = hostport.rsplit(":", 1)
    counter = Counter(count)
    rx = stomp.Connection12([(host, int(port))], vhost="/", auto_decode=False)
    rx.set_listener("", counter)
    rx.connect("guest", "guest", wait=True)
    rx.subscribe(dest, id="1", ack="auto", headers={"receipt": "sub"})
    counter.subscribed.wait(30)
    tx = stomp.Connection12([(host, int(port))], vhost="/", auto_decode=False)
    tx.connect("guest", "guest", wait=True)
    body = bytes(size)
    start = time.monotonic()
    for _ in range(count):
        tx.send(dest, body)
    counter.done.wait(120)
    secs = time.monotonic() - start
    tx.disconnect()
    rx.disconnect()
    print(json.dumps({"received": counter.got, "seconds": secs}))


if __name__ == "__main__":
    main()
