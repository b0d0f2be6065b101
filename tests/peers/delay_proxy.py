"""A TCP relay that holds every byte for a fixed delay each way, standing in for `tc netem`
(which these machines' kernel lacks) in tests/cluster_hosts.rs.

    delay_proxy.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

Prints "listening" once bound. Order is kept; only time is added."""

import asyncio
import sys


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def late_writer():
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(late_writer())
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + delay, data or None))
            if not data:
                break
    except ConnectionError:
        await queue.put((loop.time(), None))
    await task


async def main(host, port, target_host, target_port, delay_ms):
    delay = delay_ms / 1000.0

    async def serve(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer, delay),
            pipe(up_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(serve, host, port)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    h, p, th, tp, d = sys.argv[1:6]
    asyncio.run(main(h, int(p), th, int(tp), int(d)))
