#!/usr/bin/env python3
"""A loopback TCP proxy that puts a network between a client and PostgreSQL: every chunk waits
half the round trip in each direction, in order, and each connection's request cycles are counted.

    latency_proxy.py --target 127.0.0.1:5432 --rtt-ms 10 --stats FILE [--listen-port 0]

Prints `port N` on its first line once it listens (127.0.0.1 only). It stops on SIGTERM, SIGINT,
or when the process that started it goes away.

A request cycle is a burst the client sends followed by the server's answer: counted each time
the traffic the proxy receives flips from client->server to server->client while the client still
has its side open. (A client that has sent its last bytes and closed waits for nothing: the
server's goodbye after it, TLS close_notify, is not a cycle.) The bytes are TLS, so nothing is
parsed: the first cycles of a connection are its start-up (SSLRequest, the TLS handshake,
SCRAM's two exchanges), the rest its queries, each pipeline one cycle.

FILE gets one JSON line per event: {"event": "open", "conn": N, "at": T} when a client connects,
and at the end of a connection {"event": "close", "conn": N, "opened": T, "closed": T,
"cycles": C, "answered": [T, ...], "up": BYTES, "down": BYTES, "held_ms": [UP, DOWN]}, where
`answered[k]` is when the last chunk of cycle k+1's answer reached the client, and `held_ms` the
mean time a chunk actually waited in each direction (the event loop's timers round up, so a
0.5 ms wait is about 1 ms). T is time.monotonic() (CLOCK_MONOTONIC: the same clock as the
bench's time.monotonic() in another process).
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time


class Connection:
    def __init__(self, number, stats):
        self.number = number
        self.stats = stats
        self.opened = time.monotonic()
        self.cycles = 0
        self.last = None  # "up" (client->server) or "down": the direction of the last chunk received
        self.client_open = True
        self.answered = []
        self.bytes = {"up": 0, "down": 0}
        self.held = {"up": [0.0, 0], "down": [0.0, 0]}

    def received(self, direction, data):
        """Counts a chunk as it arrives at the proxy: returns the cycle whose answer it is part of
        (None for the client's chunks and for anything after the client closed)."""
        if not data:
            if direction == "up":
                self.client_open = False
            return None
        self.bytes[direction] += len(data)
        if direction == "up":
            self.last = "up"
            return None
        if self.last == "up" and self.client_open:
            self.cycles += 1
            self.answered.append(None)
        self.last = "down"
        return self.cycles if self.client_open and self.cycles else None

    def delivered(self, direction, cycle, arrived):
        now = time.monotonic()
        total = self.held[direction]
        total[0] += now - arrived
        total[1] += 1
        if cycle is not None:
            self.answered[cycle - 1] = now

    def report(self):
        held = [round(1000 * total / count, 3) if count else None for total, count in (self.held["up"], self.held["down"])]
        self.stats.write({"event": "close", "conn": self.number, "opened": self.opened, "closed": time.monotonic(),
                          "cycles": self.cycles, "answered": self.answered, "up": self.bytes["up"],
                          "down": self.bytes["down"], "held_ms": held})


class Stats:
    def __init__(self, path):
        self.handle = open(path, "a", buffering=1)

    def write(self, record):
        self.handle.write(json.dumps(record) + "\n")


async def pump(connection, direction, reader, writer, delay):
    """Copies one direction, each chunk held until `delay` after it arrived, in arrival order."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            arrived = time.monotonic()
            queue.put_nowait((arrived, data, connection.received(direction, data)))
            if not data:
                return

    async def send():
        while True:
            arrived, data, cycle = await queue.get()
            wait = arrived + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                return
            connection.delivered(direction, cycle, arrived)

    receiving = asyncio.ensure_future(receive())
    try:
        await send()
    finally:
        receiving.cancel()


async def serve(arguments):
    host, port = arguments.target.rsplit(":", 1)
    delay = arguments.rtt_ms / 2000
    stats = Stats(arguments.stats)
    numbers = iter(range(1, 1 << 62))

    async def handle(client_reader, client_writer):
        connection = Connection(next(numbers), stats)
        stats.write({"event": "open", "conn": connection.number, "at": connection.opened})
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            connection.report()
            return
        try:
            await asyncio.gather(pump(connection, "up", client_reader, server_writer, delay),
                                 pump(connection, "down", server_reader, client_writer, delay))
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            connection.report()

    server = await asyncio.start_server(handle, "127.0.0.1", arguments.listen_port, backlog=256)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    parent = os.getppid()

    async def orphaned():
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        stop.set()

    watcher = asyncio.ensure_future(orphaned())
    await stop.wait()
    watcher.cancel()
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="HOST:PORT of the server (loopback)")
    parser.add_argument("--rtt-ms", type=float, required=True, help="the round trip to add; half each way")
    parser.add_argument("--stats", required=True, help="the file to append the events to (JSON lines)")
    parser.add_argument("--listen-port", type=int, default=0)
    arguments = parser.parse_args()
    if arguments.target.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("latency_proxy: the target must be a loopback address")
    asyncio.run(serve(arguments))


if __name__ == "__main__":
    main()
