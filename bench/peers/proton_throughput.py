#!/usr/bin/python3
"""One python3-qpid-proton sender and one receiver through an AMQP 1.0 broker, for comparison
with Allegro: COUNT messages of SIZE bytes, pre-settled, receiver prefetch PREFETCH. Prints one
JSON line: messages received, seconds from the first send to the last receive.

usage: proton_throughput.py HOST:PORT ADDRESS COUNT SIZE [PREFETCH]
"""
import json
import sys
import time

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import AtMostOnce, Container


class Run(MessagingHandler):
    def __init__(self, url, address, count, size, prefetch):
        super().__init__(prefetch=prefetch, auto_accept=True)
        self.url, self.address, self.count = url, address, count
        self.body = b"x" * size
        self.sent = self.received = 0
        self.start = self.end = None

    def on_start(self, event):
        conn = event.container.connect(self.url, allowed_mechs="PLAIN ANONYMOUS",
                                       user="guest", password="guest")
        event.container.create_receiver(conn, self.address)
        event.container.create_sender(conn, self.address, options=AtMostOnce())

    def on_sendable(self, event):
        if self.start is None:
            self.start = time.monotonic()
        while event.sender.credit and self.sent < self.count:
            event.sender.send(Message(body=self.body, inferred=True))
            self.sent += 1

    def on_message(self, event):
        self.received += 1
        if self.received == self.count:
            self.end = time.monotonic()
            event.connection.close()


def main():
    hostport, address, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    prefetch = int(sys.argv[5]) if len(sys.argv) > 5 else 5000
    run = Run(f"amqp://{hostport}", address, count, size, prefetch)
    Container(run).run()
    seconds = (run.end or time.monotonic()) - (run.start or time.monotonic())
    print(json.dumps({"sent": run.sent, "received": run.received, "seconds": seconds}))


if __name__ == "__main__":
    main()
