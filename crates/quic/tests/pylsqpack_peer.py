#!/usr/bin/env python3
"""QPACK peer for shockwave-quic's interop test, built on pylsqpack (ls-qpack, as used
by aioquic). Reads one JSON command per line on stdin, answers one JSON line on stdout.

Commands (all byte strings are hex):
  {"op": "init", "capacity": N, "blocked": N}
      -> {"encoder": hex}   pylsqpack.Encoder.apply_settings(...) output (encoder stream)
  {"op": "encode", "stream": id, "headers": [[name, value], ...]}
      -> {"encoder": hex, "block": hex}   pylsqpack.Encoder.encode
  {"op": "feed_decoder", "data": hex}
      -> {"ok": true} | {"error": "..."}  our decoder stream fed to pylsqpack.Encoder
  {"op": "decode", "stream": id, "block": hex}
      -> {"headers": [[name, value], ...], "decoder": hex} | {"blocked": true} | {"error": "..."}
         our field section decoded by pylsqpack.Decoder
  {"op": "feed_encoder", "data": hex}
      -> {"unblocked": [id, ...]} | {"error": "..."}  our encoder stream fed to pylsqpack.Decoder
  {"op": "resume", "stream": id}
      -> {"headers": [[name, value], ...], "decoder": hex}   a section unblocked by feed_encoder
  {"op": "quit"}
"""

import json
import sys

try:
    import pylsqpack
except ImportError:
    print(json.dumps({"fatal": "python3 module pylsqpack missing: run `pip install aioquic`"}))
    sys.exit(3)


def main():
    encoder = pylsqpack.Encoder()
    decoder = pylsqpack.Decoder(4096, 16)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "init":
                data = encoder.apply_settings(cmd["capacity"], cmd["blocked"])
                reply = {"encoder": data.hex()}
            elif op == "encode":
                headers = [(bytes.fromhex(n), bytes.fromhex(v)) for n, v in cmd["headers"]]
                enc, block = encoder.encode(cmd["stream"], headers)
                reply = {"encoder": enc.hex(), "block": block.hex()}
            elif op == "feed_decoder":
                encoder.feed_decoder(bytes.fromhex(cmd["data"]))
                reply = {"ok": True}
            elif op == "decode":
                try:
                    control, headers = decoder.feed_header(
                        cmd["stream"], bytes.fromhex(cmd["block"])
                    )
                    reply = {
                        "headers": [[n.hex(), v.hex()] for n, v in headers],
                        "decoder": control.hex(),
                    }
                except pylsqpack.StreamBlocked:
                    reply = {"blocked": True}
            elif op == "feed_encoder":
                reply = {"unblocked": decoder.feed_encoder(bytes.fromhex(cmd["data"]))}
            elif op == "resume":
                control, headers = decoder.resume_header(cmd["stream"])
                reply = {
                    "headers": [[n.hex(), v.hex()] for n, v in headers],
                    "decoder": control.hex(),
                }
            elif op == "quit":
                return
            else:
                reply = {"error": "unknown op " + op}
        except Exception as e:  # report pylsqpack's verdict to the test
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
