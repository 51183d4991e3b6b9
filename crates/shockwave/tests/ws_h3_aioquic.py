#!/usr/bin/env python3
"""WebSocket over HTTP/3 (RFC 9220) by hand on aioquic's H3Connection, for ws_h3.rs.

usage: ws_h3_aioquic.py HOST PORT CAFILE

Waits for the server's SETTINGS (SETTINGS_ENABLE_CONNECT_PROTOCOL), sends an extended
CONNECT (:protocol websocket) to /ws, then a masked text frame and a masked Close 1000
inside DATA frames, reads the echo and the server's Close, and prints one JSON line:
{"enable_connect_protocol": .., "status": .., "echo": .., "close_code": .., "fin": ..}.
"""
import asyncio
import json
import os
import struct
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection, Setting
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


def masked(opcode, payload):
    """A final client frame (masked, RFC 6455 §5.3) with a payload under 126 bytes."""
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + body


def frames(data):
    """Unmasked server frames in `data`: a list of (opcode, payload)."""
    out, i = [], 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = struct.unpack(">H", data[i:i + 2])[0]
            i += 2
        elif n == 127:
            n = struct.unpack(">Q", data[i:i + 8])[0]
            i += 8
        if i + n > len(data):
            break
        out.append((op, bytes(data[i:i + n])))
        i += n
    return out


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic)
        self.headers = []
        self.data = bytearray()
        self.ended = False
        self.changed = asyncio.Event()

    def quic_event_received(self, event):
        for ev in self.http.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.headers.extend(ev.headers)
            elif isinstance(ev, DataReceived):
                self.data.extend(ev.data)
            if getattr(ev, "stream_ended", False):
                self.ended = True
        self.changed.set()

    async def until(self, check):
        while not check():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)


async def main():
    host, port, cafile = sys.argv[1:4]
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    config.load_verify_locations(cafile)
    out = {}
    async with connect(host, int(port), configuration=config, create_protocol=Client) as c:
        await c.until(lambda: c.http.received_settings is not None)
        out["enable_connect_protocol"] = c.http.received_settings.get(
            Setting.ENABLE_CONNECT_PROTOCOL, 0)
        sid = c._quic.get_next_available_stream_id()
        c.http.send_headers(sid, [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"https"),
            (b":authority", f"localhost:{port}".encode()),
            (b":path", b"/ws"),
            (b"sec-websocket-version", b"13"),
        ], end_stream=False)
        c.transmit()
        await c.until(lambda: any(n == b":status" for n, _ in c.headers))
        out["status"] = dict(c.headers)[b":status"].decode()
        c.http.send_data(sid, masked(0x1, b"hello from aioquic"), end_stream=False)
        c.transmit()
        await c.until(lambda: len(frames(c.data)) >= 1)
        op, payload = frames(c.data)[0]
        out["echo"] = payload.decode() if op == 0x1 else repr((op, payload))
        c.http.send_data(sid, masked(0x8, struct.pack(">H", 1000)), end_stream=False)
        c.transmit()
        await c.until(lambda: len(frames(c.data)) >= 2)
        op, payload = frames(c.data)[1]
        out["close_code"] = struct.unpack(">H", payload[:2])[0] if op == 0x8 else -op
        # The server ends its side after the closing handshake (RFC 9220 §3: FIN).
        await c.until(lambda: c.ended)
        out["fin"] = c.ended
    print(json.dumps(out))


asyncio.run(main())
