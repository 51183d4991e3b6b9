#!/usr/bin/env python3
"""Server side of the cross-check with Python h2 (run by tests/h2_interop.rs).

Reads one line of hex per round from stdin: the bytes our client encoder wrote. Feeds
them to an h2 server connection and prints one JSON line per round:
{"events": [...], "out": "<hex of the bytes h2 wants to send>"}.
Round 1 also answers the request on stream 1 and sends a PING.
Exit status 3 means the h2 module is missing.
"""
import json
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError as e:
    print(f"H2_MISSING: {e}", file=sys.stderr)
    sys.exit(3)


def describe(ev):
    d = {"type": type(ev).__name__}
    if isinstance(ev, h2.events.RemoteSettingsChanged):
        d["changed"] = {str(int(k)): v.new_value for k, v in ev.changed_settings.items()}
    elif isinstance(ev, h2.events.RequestReceived):
        d["stream_id"] = ev.stream_id
        d["headers"] = [[n, v] for n, v in ev.headers]
        d["priority"] = None
        if ev.priority_updated is not None:
            p = ev.priority_updated
            d["priority"] = [p.depends_on, p.weight, p.exclusive]
    elif isinstance(ev, h2.events.DataReceived):
        d.update(stream_id=ev.stream_id, data=ev.data.hex(), flow=ev.flow_controlled_length)
    elif isinstance(ev, h2.events.StreamEnded):
        d["stream_id"] = ev.stream_id
    elif isinstance(ev, h2.events.StreamReset):
        d.update(stream_id=ev.stream_id, error_code=int(ev.error_code))
    elif isinstance(ev, (h2.events.PingReceived, h2.events.PingAckReceived)):
        d["data"] = ev.ping_data.hex()
    elif isinstance(ev, h2.events.WindowUpdated):
        d.update(stream_id=ev.stream_id, delta=ev.delta)
    elif isinstance(ev, h2.events.PriorityUpdated):
        d.update(stream_id=ev.stream_id, depends_on=ev.depends_on, weight=ev.weight, exclusive=ev.exclusive)
    elif isinstance(ev, h2.events.ConnectionTerminated):
        d.update(error_code=int(ev.error_code), last_stream_id=ev.last_stream_id,
                 data=(ev.additional_data or b"").hex())
    elif isinstance(ev, h2.events.UnknownFrameReceived):
        d["frame_type"] = ev.frame.type
    return d


def main():
    config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    for round_no, line in enumerate(sys.stdin, start=1):
        events = conn.receive_data(bytes.fromhex(line.strip()))
        described = [describe(ev) for ev in events]
        if round_no == 1:
            for ev in events:
                if isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            conn.send_headers(1, [(":status", "200"), ("content-type", "text/plain"),
                                  ("x-peer", "python-h2")])
            conn.send_data(1, b"hello from python h2", end_stream=True)
            conn.ping(b"h2-ping!")
        print(json.dumps({"events": described, "out": conn.data_to_send().hex()}), flush=True)


main()
