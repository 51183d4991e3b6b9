//! QPACK interop with an independent implementation: pylsqpack (ls-qpack's Python
//! binding, the QPACK of aioquic). Its encoder, with a 4 KiB dynamic table, produces
//! encoder-stream data and field sections that our decoder must decode (including
//! blocked streams), and it must accept our decoder-stream output; its decoder must
//! decode our encoder's sections.
//!
//! Needs `python3` with `pylsqpack` (`pip install aioquic`, or `cargo xtask test`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};
use shockwave_arena::Arena;
use shockwave_quic::qpack::{Decoder, DecoderConfig, Encoder};

const INSTALL: &str =
    "python3 module pylsqpack missing: run `pip install aioquic` (or `cargo xtask test`)";

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Peer {
        let probe = Command::new("python3")
            .args(["-c", "import pylsqpack"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL}"));
        assert!(
            probe.status.success(),
            "{INSTALL}\n{}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pylsqpack_peer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    fn call(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("bad reply {line:?} to {cmd}: {e}"));
        assert!(reply.get("fatal").is_none(), "{reply}");
        reply
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"op": "quit"}));
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Header sets resembling a browsing session: requests and responses that repeat, so
/// pylsqpack's encoder fills and reuses its dynamic table.
fn header_sets() -> Vec<Fields> {
    let mut sets = Vec::new();
    for i in 0..40 {
        sets.push(fields(&[
            (":method", if i % 5 == 0 { "POST" } else { "GET" }),
            (":scheme", "https"),
            (":authority", "www.example.com"),
            (":path", &format!("/assets/item-{}.js", i % 7)),
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            ),
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
            ("accept-language", "en-US,en;q=0.5"),
            ("accept-encoding", "gzip, deflate, br"),
            (
                "cookie",
                &format!("session=0123456789abcdef{}; theme=dark", i % 3),
            ),
            ("x-request-id", &format!("req-{i:08}")),
        ]));
        sets.push(fields(&[
            (":status", if i % 4 == 0 { "404" } else { "200" }),
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", &format!("{}", 1000 + i)),
            ("cache-control", "max-age=604800"),
            ("server", "shockwave-interop"),
            ("x-custom-header", &"v".repeat(i * 3)),
        ]));
    }
    sets
}

fn decode_ours(d: &mut Decoder, stream: u64, block: &[u8]) -> Option<Fields> {
    let arena = Arena::new();
    let block = arena.alloc_bytes(block).unwrap();
    let decoded = d.decode_section(stream, block, &arena).unwrap();
    decoded
        .done()
        .map(|l| l.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect())
}

#[test]
fn we_decode_pylsqpack_with_its_dynamic_table() {
    let mut peer = Peer::start();
    let mut decoder = Decoder::new(DecoderConfig {
        max_table_capacity: 4096,
        max_blocked_streams: 16,
        max_field_section_size: 64 * 1024,
        max_fields: 1000,
    });
    let init = peer.call(json!({"op": "init", "capacity": 4096, "blocked": 16}));
    decoder
        .feed_encoder_stream(&unhex(init["encoder"].as_str().unwrap()))
        .unwrap();

    let mut used_dynamic = false;
    let mut blocked_seen = 0;
    for (i, set) in header_sets().iter().enumerate() {
        let stream = 4 * i as u64;
        let headers: Vec<Value> = set.iter().map(|(n, v)| json!([hex(n), hex(v)])).collect();
        let reply = peer.call(json!({"op": "encode", "stream": stream, "headers": headers}));
        let enc = unhex(reply["encoder"].as_str().unwrap());
        let block = unhex(reply["block"].as_str().unwrap());
        used_dynamic |= block[0] != 0;

        // Every third section arrives before its encoder-stream data, as QUIC allows.
        let got = if i % 3 == 1 && !enc.is_empty() {
            match decode_ours(&mut decoder, stream, &block) {
                None => {
                    blocked_seen += 1;
                    assert!(decoder.is_blocked(stream));
                    decoder.feed_encoder_stream(&enc).unwrap();
                    assert_eq!(decoder.next_unblocked(), Some(stream));
                    decode_ours(&mut decoder, stream, &block).expect("unblocked")
                }
                Some(f) => {
                    decoder.feed_encoder_stream(&enc).unwrap();
                    f
                }
            }
        } else {
            decoder.feed_encoder_stream(&enc).unwrap();
            decode_ours(&mut decoder, stream, &block).expect("not blocked")
        };
        assert_eq!(&got, set, "set {i}");

        // Our decoder stream must be valid for pylsqpack's encoder.
        let mut ds = Vec::new();
        decoder.take_decoder_stream(&mut ds);
        if !ds.is_empty() {
            let r = peer.call(json!({"op": "feed_decoder", "data": hex(&ds)}));
            assert_eq!(
                r["ok"],
                json!(true),
                "pylsqpack rejected our decoder stream: {r}"
            );
        }
    }
    assert!(used_dynamic, "pylsqpack never used its dynamic table");
    assert!(blocked_seen > 0, "no blocked stream was exercised");
    assert!(decoder.insert_count() > 0);
}

#[test]
fn pylsqpack_decodes_ours() {
    let mut peer = Peer::start();
    let mut encoder = Encoder::new();
    let mut sets = header_sets();
    sets.push(fields(&[
        ("authorization", "Bearer secret"),
        ("cookie", "a=1"),
        ("x-empty", ""),
        ("x-binary-ish", "\t tab and ~ tilde \u{7f}"),
    ]));
    for (i, set) in sets.iter().enumerate() {
        let mut block = Vec::new();
        encoder.encode_section(set.iter().map(|(n, v)| (&n[..], &v[..])), &mut block);
        let stream = 4 * i as u64;
        let reply = peer.call(json!({"op": "decode", "stream": stream, "block": hex(&block)}));
        assert!(reply.get("error").is_none(), "set {i}: {reply}");
        let got: Fields = reply["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (unhex(p[0].as_str().unwrap()), unhex(p[1].as_str().unwrap())))
            .collect();
        assert_eq!(&got, set, "set {i}");
        assert_eq!(
            reply["decoder"],
            json!(""),
            "static-only: nothing to acknowledge"
        );
    }
}

fn headers_of(reply: &Value) -> Fields {
    reply["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (unhex(p[0].as_str().unwrap()), unhex(p[1].as_str().unwrap())))
        .collect()
}

/// Our encoder with its dynamic table, decoded by pylsqpack's decoder (4 KiB table, 16
/// blocked streams): every third section reaches it before the encoder-stream data it
/// needs (blocked, then resumed), and pylsqpack's decoder stream (acknowledgments,
/// insert count increments) is fed back to our encoder.
#[test]
fn pylsqpack_decodes_our_dynamic_table() {
    let mut peer = Peer::start();
    let mut encoder = Encoder::new();
    let mut encoder_stream = Vec::new();
    encoder.use_dynamic_table(4096, 4096, 16, &mut encoder_stream);
    let mut blocked_seen = 0;
    for (i, set) in header_sets().iter().enumerate() {
        let stream = 4 * i as u64;
        let mut block = Vec::new();
        encoder.encode_section_on(
            stream,
            set.iter().map(|(n, v)| (&n[..], &v[..])),
            &mut block,
            &mut encoder_stream,
        );
        let feed_encoder = |peer: &mut Peer, data: &mut Vec<u8>| {
            let r = peer.call(json!({"op": "feed_encoder", "data": hex(data)}));
            assert!(r.get("error").is_none(), "set {i}: {r}");
            data.clear();
            r
        };
        let reply = if i % 3 == 1 && !encoder_stream.is_empty() {
            let r = peer.call(json!({"op": "decode", "stream": stream, "block": hex(&block)}));
            if r.get("blocked").is_some() {
                blocked_seen += 1;
                let unblocked = feed_encoder(&mut peer, &mut encoder_stream);
                assert_eq!(unblocked["unblocked"], json!([stream]));
                peer.call(json!({"op": "resume", "stream": stream}))
            } else {
                feed_encoder(&mut peer, &mut encoder_stream);
                r
            }
        } else {
            if !encoder_stream.is_empty() {
                feed_encoder(&mut peer, &mut encoder_stream);
            }
            peer.call(json!({"op": "decode", "stream": stream, "block": hex(&block)}))
        };
        assert!(reply.get("error").is_none(), "set {i}: {reply}");
        assert_eq!(&headers_of(&reply), set, "set {i}");
        let acks = unhex(reply["decoder"].as_str().unwrap());
        encoder.feed_decoder_stream(&acks).unwrap();
    }
    assert!(blocked_seen > 0, "no blocked stream was exercised");
    assert!(encoder.insert_count() > 0);
    assert_eq!(encoder.known_received_count(), encoder.insert_count());
}
