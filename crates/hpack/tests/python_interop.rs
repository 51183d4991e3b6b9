//! Interoperability with an independent implementation, the Python `hpack` package:
//! it decodes our encoder's output, and we decode its encoder's output, for a multi-block
//! story with a dynamic table, evictions, table size changes and sensitive fields.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use shockwave_hpack::{Decoder, Encoder};

const SCRIPT: &str = r#"
import json, sys
try:
    import hpack
except ImportError:
    print("MISSING_HPACK")
    sys.exit(3)
req = json.load(sys.stdin)
if req["mode"] == "decode":
    d = hpack.Decoder()
    out = []
    for block in req["blocks"]:
        fields = d.decode(bytes.fromhex(block), raw=True)
        out.append([[n.hex(), v.hex(), not f.indexable]
                    for f in fields for (n, v) in [(f[0], f[1])]])
    json.dump({"fields": out, "table_size": d.header_table._current_size}, sys.stdout)
else:
    e = hpack.Encoder()
    out = []
    for i, block in enumerate(req["blocks"]):
        size = req["size_changes"].get(str(i))
        if size is not None:
            e.header_table_size = size
        headers = [(bytes.fromhex(n), bytes.fromhex(v), s) for (n, v, s) in block]
        out.append(e.encode(headers, huffman=(i % 3 != 2)).hex())
    json.dump({"blocks": out}, sys.stdout)
"#;

fn python(request: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "python3 missing: install python3 and run `pip install hpack` (or `cargo xtask test`)",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("MISSING_HPACK"),
        "python3 module hpack missing: run `pip install hpack` or `cargo xtask test`"
    );
    assert!(
        out.status.success(),
        "python hpack failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// (name, value, sensitive) per field, per block.
type Story = Vec<Vec<(Vec<u8>, Vec<u8>, bool)>>;

fn story() -> Story {
    (0..40)
        .map(|i| {
            let mut b: Vec<(Vec<u8>, Vec<u8>, bool)> = vec![
                (
                    b":method".to_vec(),
                    if i % 4 == 0 {
                        b"POST".to_vec()
                    } else {
                        b"GET".to_vec()
                    },
                    false,
                ),
                (b":scheme".to_vec(), b"https".to_vec(), false),
                (
                    b":authority".to_vec(),
                    format!("api{}.example.com", i % 3).into_bytes(),
                    false,
                ),
                (
                    b":path".to_vec(),
                    format!("/v1/items/{i}?q=caf%C3%A9").into_bytes(),
                    false,
                ),
                (
                    b"user-agent".to_vec(),
                    b"shockwave-interop/1.0 (+https://example.com)".to_vec(),
                    false,
                ),
                (b"accept".to_vec(), b"application/json".to_vec(), false),
                (
                    b"authorization".to_vec(),
                    format!("Bearer token-{}", i % 2).into_bytes(),
                    true,
                ),
                (
                    b"x-blob".to_vec(),
                    vec![b'a' + (i % 26) as u8; 200 + 37 * (i % 9)],
                    false,
                ),
                (
                    b"x-binary".to_vec(),
                    (0..=255u8).filter(|b| *b != 0).take(i % 40).collect(),
                    false,
                ),
            ];
            if i % 5 == 0 {
                b.push((b"x-secret".to_vec(), b"hunter2".to_vec(), true));
            }
            if i % 7 == 0 {
                b.push((b"x-empty".to_vec(), Vec::new(), false));
            }
            b
        })
        .collect()
}

const SIZE_CHANGES: [(usize, usize); 3] = [(10, 1024), (20, 0), (25, 4096)];

#[test]
fn python_decodes_our_encoding() {
    let story = story();
    let mut enc = Encoder::new();
    let mut blocks = Vec::new();
    for (i, fields) in story.iter().enumerate() {
        if let Some(&(_, size)) = SIZE_CHANGES.iter().find(|(at, _)| *at == i) {
            enc.set_max_table_size(size);
        }
        let mut block = Vec::new();
        enc.encode_fields(
            fields.iter().map(|(n, v, s)| shockwave_hpack::Field {
                name: n,
                value: v,
                never_indexed: *s,
            }),
            &mut block,
        );
        blocks.push(hex(&block));
    }
    let out = python(&json!({ "mode": "decode", "blocks": blocks }));
    let decoded = out["fields"].as_array().unwrap();
    assert_eq!(decoded.len(), story.len());
    for (i, (got, want)) in decoded.iter().zip(&story).enumerate() {
        let got: Vec<(Vec<u8>, Vec<u8>, bool)> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    unhex(f[0].as_str().unwrap()),
                    unhex(f[1].as_str().unwrap()),
                    f[2].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(&got, want, "block {i}");
    }
    assert_eq!(
        out["table_size"].as_u64().unwrap() as usize,
        enc.table_size()
    );
}

#[test]
fn we_decode_python_encoding() {
    let story = story();
    let blocks: Vec<Vec<Value>> = story
        .iter()
        .map(|b| {
            b.iter()
                .map(|(n, v, s)| json!([hex(n), hex(v), s]))
                .collect()
        })
        .collect();
    let changes: serde_json::Map<String, Value> = SIZE_CHANGES
        .iter()
        .map(|(at, size)| (at.to_string(), json!(size)))
        .collect();
    let out = python(&json!({ "mode": "encode", "blocks": blocks, "size_changes": changes }));
    let wire = out["blocks"].as_array().unwrap();
    assert_eq!(wire.len(), story.len());
    let mut dec = Decoder::new();
    for (i, (block, want)) in wire.iter().zip(&story).enumerate() {
        let block = unhex(block.as_str().unwrap());
        let mut got = Vec::new();
        dec.decode_fields(&block, |f| {
            got.push((f.name.to_vec(), f.value.to_vec(), f.never_indexed))
        })
        .unwrap_or_else(|e| panic!("block {i}: {e}"));
        assert_eq!(&got, want, "block {i}");
        if let Some(&(_, size)) = SIZE_CHANGES.iter().find(|(at, _)| *at == i) {
            assert_eq!(
                dec.table_capacity(),
                size,
                "size update applied at block {i}"
            );
        }
    }
}
