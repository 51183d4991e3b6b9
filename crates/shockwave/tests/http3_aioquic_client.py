#!/usr/bin/env python3
"""A small HTTP/3 client on aioquic's H3Connection API, for the interop tests.

usage: http3_aioquic_client.py HOST PORT CAFILE METHOD PATH BODY_LEN OUT_FILE

Sends METHOD PATH with a body of BODY_LEN bytes (byte i = i % 251), writes the response
body to OUT_FILE and prints one JSON line: {"status": ..., "headers": [[name, value], ...]}.
"""
import asyncio
import json
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic)
        self.waiter = None
        self.headers = []
        self.body = bytearray()

    def quic_event_received(self, event):
        for ev in self.http.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.headers.extend(ev.headers)
            elif isinstance(ev, DataReceived):
                self.body.extend(ev.data)
            if getattr(ev, "stream_ended", False) and self.waiter and not self.waiter.done():
                self.waiter.set_result(None)

    async def request(self, method, authority, path, body):
        stream_id = self._quic.get_next_available_stream_id()
        headers = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
            (b"user-agent", b"aioquic-interop"),
        ]
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        self.http.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.http.send_data(stream_id, body, end_stream=True)
        self.waiter = self._loop.create_future()
        self.transmit()
        await asyncio.wait_for(self.waiter, 20)


async def main():
    host, port, cafile, method, path, body_len, out = sys.argv[1:8]
    body = bytes(i % 251 for i in range(int(body_len)))
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    config.load_verify_locations(cafile)
    async with connect(host, int(port), configuration=config, create_protocol=Client) as client:
        await client.request(method, "localhost:" + port, path, body)
        with open(out, "wb") as f:
            f.write(client.body)
        print(json.dumps({
            "status": int(dict(client.headers)[b":status"]),
            "headers": [[n.decode(), v.decode()] for n, v in client.headers],
        }))


if __name__ == "__main__":
    asyncio.run(main())
