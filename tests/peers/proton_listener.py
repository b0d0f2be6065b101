"""A listening AMQP 1.0 peer built on Qpid Proton (python3-qpid-proton, for /usr/bin/python3),
for tests/amqp_interop.rs. Allegro connects to it as it would to a broker.

- Links Allegro attaches as a *sender* end here on a receiving link: the peer grants credit
  (--prefetch), accepts what arrives unsettled, and checks every body against Allegro's layout
  (allegro_body.py). Nothing is forwarded.
- Links Allegro attaches as a *receiver* get --send messages from this peer, built in Allegro's
  layout (run id --run-id, sender id --sender-id, connection id 0, sequence 0..M-1),
  pre-settled or unsettled.

Prints {"listening": PORT} once bound, then {"result": {...}} when --connections connections
came and went, --expect messages arrived and every message was sent (and, when unsettled,
settled by Allegro), or when --timeout seconds passed (then "timed_out" is true).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from allegro_body import BodyChecker, build, import_proton, say  # noqa: E402

import_proton()

from proton import Link, Message  # noqa: E402
from proton.handlers import MessagingHandler  # noqa: E402
from proton.reactor import Container  # noqa: E402

SETTLE_MODES = {Link.SND_UNSETTLED: "unsettled", Link.SND_SETTLED: "settled", Link.SND_MIXED: "mixed"}


class Timeout:
    def __init__(self, peer):
        self.peer = peer

    def on_timer_task(self, event):
        self.peer.timed_out = True
        self.peer.finish(event.container)


class Peer(MessagingHandler):
    def __init__(self, a):
        super().__init__(prefetch=a.prefetch, auto_accept=True)
        self.a = a
        self.checker = BodyChecker(a.size)
        self.arrived_settled = 0
        self.arrived_unsettled = 0
        self.links = []
        self.bound = 0
        self.closed = 0
        self.sent = 0
        self.accepted = 0
        self.other_outcomes = 0
        self.errors = []
        self.timed_out = False
        self.done = False
        self.acceptor = None
        self.timer = None

    def on_start(self, event):
        self.acceptor = event.container.listen("127.0.0.1:%d" % self.a.port)
        port = self.acceptor._selectable._delegate.getsockname()[1]
        self.timer = event.container.schedule(self.a.timeout, Timeout(self))
        say({"listening": port})

    def on_connection_bound(self, event):
        self.bound += 1
        t = event.transport
        if self.a.max_frame:
            t.max_frame_size = self.a.max_frame
        t.sasl().allowed_mechs("ANONYMOUS")

    def on_link_opening(self, event):
        link = event.link
        # Answer with the termini Allegro asked for: an attach without them is a refusal.
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        # Allegro's role is the opposite of ours.
        info = {
            "role": "receiver" if link.is_sender else "sender",
            "source": link.remote_source.address,
            "target": link.remote_target.address,
            "snd_settle_mode": SETTLE_MODES.get(link.remote_snd_settle_mode, "?"),
        }
        self.links.append(info)
        if link.is_sender and self.a.send_settle == "presettled":
            link.snd_settle_mode = Link.SND_SETTLED

    def on_sendable(self, event):
        link = event.sender
        while link.credit > 0 and self.sent < self.a.send:
            body = build(self.a.run_id, self.a.sender_id, 0, self.sent, self.a.send_size)
            dlv = link.send(Message(body=body, inferred=True))
            if self.a.send_settle == "presettled":
                dlv.settle()
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        self.check_done(event.container)

    def on_rejected(self, event):
        self.other_outcomes += 1

    def on_released(self, event):
        self.other_outcomes += 1

    def on_message(self, event):
        msg = event.message
        if event.delivery.settled:
            self.arrived_settled += 1
        else:
            self.arrived_unsettled += 1
        self.checker.check(msg.body, data_section=msg.inferred)

    def on_transport_error(self, event):
        c = event.transport.condition
        self.errors.append("transport: %s" % (c and "%s: %s" % (c.name, c.description)))

    def on_connection_error(self, event):
        c = event.connection.remote_condition
        self.errors.append("connection: %s" % (c and "%s: %s" % (c.name, c.description)))

    def on_link_error(self, event):
        c = event.link.remote_condition
        self.errors.append("link: %s" % (c and "%s: %s" % (c.name, c.description)))

    def on_transport_closed(self, event):
        self.closed += 1
        self.check_done(event.container)

    def check_done(self, container):
        a = self.a
        settled = a.send_settle == "presettled" or self.accepted + self.other_outcomes >= a.send
        if (
            self.bound >= a.connections
            and self.closed >= self.bound
            and self.checker.count >= a.expect
            and self.sent >= a.send
            and settled
        ):
            self.finish(container)

    def finish(self, container):
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        say(
            {
                "result": {
                    "received": self.checker.result(),
                    "arrived_settled": self.arrived_settled,
                    "arrived_unsettled": self.arrived_unsettled,
                    "links": self.links,
                    "connections": self.bound,
                    "connections_closed": self.closed,
                    "sent": self.sent,
                    "accepted": self.accepted,
                    "other_outcomes": self.other_outcomes,
                    "errors": self.errors,
                    "timed_out": self.timed_out,
                }
            }
        )
        container.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--connections", type=int, required=True, help="Allegro connections to expect")
    p.add_argument("--expect", type=int, default=0, help="messages to receive from Allegro")
    p.add_argument("--size", type=int, help="body size Allegro sends (checked when given)")
    p.add_argument("--prefetch", type=int, default=500, help="credit window granted to Allegro")
    p.add_argument("--max-frame", type=int, default=0, help="our max-frame-size (0: proton's)")
    p.add_argument("--send", type=int, default=0, help="messages to send to Allegro's receiver")
    p.add_argument("--send-size", type=int, default=100)
    p.add_argument("--send-settle", choices=["presettled", "unsettled"], default="presettled")
    p.add_argument("--sender-id", type=lambda s: int(s, 0), default=0xC0FFEE01)
    p.add_argument("--run-id", type=lambda s: int(s, 0), default=0, help="the Allegro run's id (its --run-id)")
    p.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    Container(Peer(a)).run()


if __name__ == "__main__":
    main()
