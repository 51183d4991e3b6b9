//! RFC 7541 Appendix C examples, byte for byte, decoding and encoding.

use shockwave_hpack::{Decoder, Encoder, HuffmanPolicy};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type Case = (&'static str, &'static [(&'static str, &'static str)], usize);

const C3: [Case; 3] = [
    (
        "828684410f7777772e6578616d706c652e636f6d",
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        57,
    ),
    (
        "828684be58086e6f2d6361636865",
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        110,
    ),
    (
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
        164,
    ),
];

const C4: [Case; 3] = [
    ("828684418cf1e3c2e5f23a6ba0ab90f4ff", C3[0].1, 57),
    ("828684be5886a8eb10649cbf", C3[1].1, 110),
    (
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        C3[2].1,
        164,
    ),
];

const C5: [Case; 3] = [
    (
        "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        222,
    ),
    (
        "4803333037c1c0bf",
        &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        222,
    ),
    (
        "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
        ],
        215,
    ),
];

const C6: [Case; 3] = [
    (
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        C5[0].1,
        222,
    ),
    ("4883640effc1c0bf", C5[1].1, 222),
    (
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        C5[2].1,
        215,
    ),
];

fn decode_all(decoder: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    decoder
        .decode(block, |n, v| {
            out.push((
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            ))
        })
        .unwrap_or_else(|e| panic!("decode failed: {e}"));
    out
}

fn expect(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn run_decode(cases: &[Case], table_size: usize) {
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(table_size);
    for (i, (wire, fields, size)) in cases.iter().enumerate() {
        assert_eq!(
            decode_all(&mut decoder, &hex(wire)),
            expect(fields),
            "block {i}"
        );
        assert_eq!(decoder.table_size(), *size, "table size after block {i}");
    }
}

fn run_encode(cases: &[Case], table_size: usize, huffman: HuffmanPolicy) {
    let mut encoder = Encoder::with_table_size(table_size);
    encoder.set_huffman(huffman);
    for (i, (wire, fields, size)) in cases.iter().enumerate() {
        let mut out = Vec::new();
        encoder.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut out,
        );
        assert_eq!(hex_string(&out), *wire, "block {i}");
        assert_eq!(encoder.table_size(), *size, "table size after block {i}");
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn c2_1_literal_with_indexing() {
    let wire = hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572");
    let mut d = Decoder::new();
    assert_eq!(
        decode_all(&mut d, &wire),
        expect(&[("custom-key", "custom-header")])
    );
    assert_eq!(d.table_size(), 55);
    assert_eq!(
        d.table_entry(62),
        Some((&b"custom-key"[..], &b"custom-header"[..]))
    );
    let mut e = Encoder::new();
    e.set_huffman(HuffmanPolicy::Never);
    let mut out = Vec::new();
    e.encode([(&b"custom-key"[..], &b"custom-header"[..])], &mut out);
    assert_eq!(out, wire);
}

#[test]
fn c2_2_literal_without_indexing() {
    let wire = hex("040c2f73616d706c652f70617468");
    let mut d = Decoder::new();
    assert_eq!(
        decode_all(&mut d, &wire),
        expect(&[(":path", "/sample/path")])
    );
    assert_eq!(d.table_size(), 0);
    let mut e = Encoder::new();
    e.set_huffman(HuffmanPolicy::Never);
    e.set_indexing(false);
    let mut out = Vec::new();
    e.encode([(&b":path"[..], &b"/sample/path"[..])], &mut out);
    assert_eq!(out, wire);
}

#[test]
fn c2_3_literal_never_indexed() {
    let wire = hex("100870617373776f726406736563726574");
    let mut d = Decoder::new();
    let mut fields = Vec::new();
    d.decode_fields(&wire, |f| {
        fields.push((f.name.to_vec(), f.value.to_vec(), f.never_indexed))
    })
    .unwrap();
    assert_eq!(fields, [(b"password".to_vec(), b"secret".to_vec(), true)]);
    assert_eq!(d.table_size(), 0);
    let mut e = Encoder::new();
    e.set_huffman(HuffmanPolicy::Never);
    e.set_sensitive_predicate(Some(|n, _| n == b"password"));
    let mut out = Vec::new();
    e.encode([(&b"password"[..], &b"secret"[..])], &mut out);
    assert_eq!(out, wire);
    assert_eq!(e.table_size(), 0, "sensitive fields never enter the table");
}

#[test]
fn c2_4_indexed() {
    let mut d = Decoder::new();
    assert_eq!(decode_all(&mut d, &[0x82]), expect(&[(":method", "GET")]));
    let mut out = Vec::new();
    Encoder::new().encode([(&b":method"[..], &b"GET"[..])], &mut out);
    assert_eq!(out, [0x82]);
}

#[test]
fn c3_requests_without_huffman() {
    run_decode(&C3, 4096);
    run_encode(&C3, 4096, HuffmanPolicy::Never);
}

#[test]
fn c4_requests_with_huffman() {
    run_decode(&C4, 4096);
    run_encode(&C4, 4096, HuffmanPolicy::Always);
}

#[test]
fn c5_responses_without_huffman() {
    run_decode(&C5, 256);
    run_encode(&C5, 256, HuffmanPolicy::Never);
}

#[test]
fn c6_responses_with_huffman() {
    run_decode(&C6, 256);
    run_encode(&C6, 256, HuffmanPolicy::Always);
}

#[test]
fn c5_dynamic_table_contents_after_eviction() {
    let mut d = Decoder::new();
    d.set_max_table_size(256);
    for (wire, _, _) in &C5 {
        decode_all(&mut d, &hex(wire));
    }
    // RFC 7541 C.5.3: the table after the third response.
    let want: [(&str, &str); 3] = [
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
        ("content-encoding", "gzip"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ];
    assert_eq!(d.table_len(), 3);
    for (i, (n, v)) in want.iter().enumerate() {
        assert_eq!(d.table_entry(62 + i), Some((n.as_bytes(), v.as_bytes())));
    }
}

#[test]
fn encoder_emits_size_updates() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    // The peer lowers its table size: the next block starts with an update.
    e.set_max_table_size(256);
    let mut out = Vec::new();
    e.encode([(&b"x-a"[..], &b"1"[..])], &mut out);
    assert_eq!(&out[..3], [0x3f, 0xe1, 0x01], "size update to 256");
    d.set_max_table_size(256);
    decode_all(&mut d, &out);
    assert_eq!(d.table_capacity(), 256);
    // Down to 0 and back up to 4096 between blocks: both updates, smallest first.
    e.set_max_table_size(0);
    e.set_max_table_size(4096);
    out.clear();
    e.encode([(&b"x-b"[..], &b"2"[..])], &mut out);
    assert_eq!(&out[..4], [0x20, 0x3f, 0xe1, 0x1f]);
    d.set_max_table_size(4096);
    assert_eq!(decode_all(&mut d, &out), expect(&[("x-b", "2")]));
    assert_eq!(d.table_len(), 1, "the 0 update emptied the table");
    // No change, no update.
    e.set_max_table_size(4096);
    out.clear();
    e.encode([(&b"x-b"[..], &b"2"[..])], &mut out);
    assert_eq!(out, [0xbe]);
}

#[test]
fn sensitive_defaults() {
    let mut e = Encoder::new();
    let mut out = Vec::new();
    let long_cookie = "session=0123456789abcdef0123456789";
    e.encode(
        [
            (&b"authorization"[..], &b"Bearer x"[..]),
            (&b"cookie"[..], &b"a=1"[..]),
            (&b"cookie"[..], long_cookie.as_bytes()),
        ],
        &mut out,
    );
    let mut d = Decoder::new();
    let mut flags = Vec::new();
    d.decode_fields(&out, |f| flags.push(f.never_indexed))
        .unwrap();
    assert_eq!(flags, [true, true, false]);
    assert_eq!(e.table_len(), 1, "only the long cookie is indexed");
}
