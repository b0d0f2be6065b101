"""An independent AMQP 0-9-1 client (Debian's python3-pika, run with /usr/bin/python3) for
tests/client_interop.rs.

    pika_client.py send HOST PORT QUEUE COUNT SIZE RUN
        declares QUEUE (non-durable), sends COUNT bodies in Allegro's layout (allegro_body.py;
        sender 0x91091, connection 0, sequence 0..COUNT-1, run RUN in hex) with publisher
        confirms on, and waits for every confirm
    pika_client.py receive HOST PORT QUEUE COUNT TIMEOUT_S
        declares QUEUE, consumes with manual acknowledgement, prints {"subscribed": true} once
        consuming, then checks every body until COUNT arrived or TIMEOUT_S passed with nothing new

Each ends with one line {"result": {...}} on stdout.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import allegro_body  # noqa: E402

try:
    import pika
except ImportError as e:
    sys.stderr.write("cannot import pika under %s (%s): install python3-pika; run scripts/setup\n"
                     % (sys.executable, e))
    sys.exit(3)

PY_SENDER = 0x91091


def channel(host, port, queue):
    params = pika.ConnectionParameters(host=host, port=int(port),
                                       credentials=pika.PlainCredentials("guest", "guest"))
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.queue_declare(queue=queue, durable=False)
    return conn, ch


def send(host, port, queue, count, size, run):
    conn, ch = channel(host, port, queue)
    ch.confirm_delivery()
    errors = []
    for i in range(count):
        body = allegro_body.build(run, PY_SENDER, 0, i, size)
        try:
            ch.basic_publish(exchange="", routing_key=queue, body=body, mandatory=True)
        except Exception as e:  # a nack or a return
            errors.append(repr(e))
    conn.close()
    allegro_body.say({"result": {"sent": count, "confirmed": not errors, "errors": errors[:5]}})


def receive(host, port, queue, count, timeout_s):
    conn, ch = channel(host, port, queue)
    checker = allegro_body.BodyChecker()
    ch.basic_qos(prefetch_count=500)
    allegro_body.say({"subscribed": True})
    last = time.monotonic()
    for method, _props, body in ch.consume(queue, auto_ack=False, inactivity_timeout=0.2):
        if method is not None:
            checker.check(body)
            ch.basic_ack(method.delivery_tag)
            last = time.monotonic()
        if checker.count >= count:
            break
        if time.monotonic() - last > (timeout_s if checker.count else 10 * timeout_s):
            break
    ch.cancel()
    conn.close()
    result = checker.result()
    result["errors"] = []
    allegro_body.say({"result": result})


def main():
    mode = sys.argv[1]
    if mode == "send":
        host, port, queue, count, size, run = sys.argv[2:8]
        send(host, port, queue, int(count), int(size), int(run, 16))
    elif mode == "receive":
        host, port, queue, count, timeout_s = sys.argv[2:7]
        receive(host, port, queue, int(count), float(timeout_s))
    else:
        sys.exit("usage: pika_client.py send|receive ...")


if __name__ == "__main__":
    main()
