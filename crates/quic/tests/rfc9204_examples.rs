//! RFC 9204 Appendix B: the encoder-stream bytes and field sections of the examples,
//! fed to our decoder, which must produce the listed fields, table states and
//! decoder-stream bytes.

use shockwave_arena::Arena;
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decoder() -> Decoder {
    Decoder::new(DecoderConfig {
        max_table_capacity: 220,
        max_blocked_streams: 1,
        max_field_section_size: 16 * 1024,
        max_fields: 100,
    })
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(d: &mut Decoder, stream: u64, block: &[u8]) -> Option<Fields> {
    let arena = Arena::new();
    let decoded = d.decode_section(stream, block, &arena).unwrap();
    decoded
        .done()
        .map(|list| list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect())
}

/// Decodes with the callback API.
fn decode_with(d: &mut Decoder, stream: u64, block: &[u8]) -> Option<Fields> {
    let mut fields = Vec::new();
    match d
        .decode_section_with(stream, block, |n, v| fields.push((n.to_vec(), v.to_vec())))
        .unwrap()
    {
        Decoded::Done(()) => Some(fields),
        Decoded::Blocked => None,
    }
}

fn f(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn decoder_stream(d: &mut Decoder) -> Vec<u8> {
    let mut out = Vec::new();
    d.take_decoder_stream(&mut out);
    out
}

const B2_ENCODER: &str = "3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d
                          c10c 2f73 616d 706c 652f 7061 7468";
const B3_ENCODER: &str = "4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565";
const B4_ENCODER: &str = "02";
const B4_STREAM8: &str = "0500 80 c1 81";
const B5_ENCODER: &str = "810d 6375 7374 6f6d 2d76 616c 7565 32";

#[test]
fn b1_literal_field_line_with_name_reference() {
    let mut d = decoder();
    let block = hex("0000 510b 2f69 6e64 6578 2e68 746d 6c");
    assert_eq!(
        decode(&mut d, 0, &block),
        Some(f(&[(":path", "/index.html")]))
    );
    assert_eq!(
        decode_with(&mut d, 0, &block),
        Some(f(&[(":path", "/index.html")]))
    );
    assert_eq!(decoder_stream(&mut d), b"", "RIC 0: nothing to acknowledge");
    assert_eq!(d.table_size(), 0);
}

#[test]
fn b2_to_b5_in_order() {
    let mut d = decoder();

    // B.2 Dynamic Table.
    d.feed_encoder_stream(&hex(B2_ENCODER)).unwrap();
    assert_eq!(d.table_capacity(), 220);
    assert_eq!(d.table_size(), 106);
    assert_eq!(d.insert_count(), 2);
    let stream4 = hex("0381 10 11");
    let want4 = f(&[(":authority", "www.example.com"), (":path", "/sample/path")]);
    assert_eq!(decode(&mut d, 4, &stream4), Some(want4));
    assert_eq!(decoder_stream(&mut d), hex("84"));

    // B.3 Speculative Insert.
    d.feed_encoder_stream(&hex(B3_ENCODER)).unwrap();
    assert_eq!(d.table_size(), 160);
    assert_eq!(
        d.table_entry(2),
        Some((&b"custom-key"[..], &b"custom-value"[..]))
    );
    assert_eq!(decoder_stream(&mut d), hex("01"));

    // B.4 Duplicate Instruction, Stream Cancellation: the field section on stream 8
    // arrives before the Duplicate instruction, so the stream blocks; then the decoder
    // cancels it.
    let stream8 = hex(B4_STREAM8);
    assert_eq!(decode(&mut d, 8, &stream8), None);
    assert!(d.is_blocked(8));
    assert_eq!(d.blocked_streams(), 1);
    d.cancel_stream(8);
    assert!(!d.is_blocked(8));
    assert_eq!(decoder_stream(&mut d), hex("48"));
    d.feed_encoder_stream(&hex(B4_ENCODER)).unwrap();
    assert_eq!(d.table_size(), 217);
    assert_eq!(
        d.table_entry(3),
        Some((&b":authority"[..], &b"www.example.com"[..]))
    );
    assert_eq!(
        d.next_unblocked(),
        None,
        "the cancelled stream is forgotten"
    );

    // B.5 Dynamic Table Insert, Eviction.
    d.feed_encoder_stream(&hex(B5_ENCODER)).unwrap();
    assert_eq!(d.table_size(), 215);
    assert_eq!(d.table_len(), 4);
    assert_eq!(d.table_entry(0), None, "evicted");
    assert_eq!(
        d.table_entry(1),
        Some((&b":path"[..], &b"/sample/path"[..]))
    );
    assert_eq!(
        d.table_entry(4),
        Some((&b"custom-key"[..], &b"custom-value2"[..]))
    );
    // The two unacknowledged inserts (B.4, B.5) are acknowledged together.
    assert_eq!(decoder_stream(&mut d), hex("02"));
    assert_eq!(decoder_stream(&mut d), b"");
}

/// B.4 again, but the stream is not cancelled: it unblocks when the Duplicate arrives.
#[test]
fn b4_blocked_stream_resumes() {
    let mut d = decoder();
    d.feed_encoder_stream(&hex(B2_ENCODER)).unwrap();
    d.feed_encoder_stream(&hex(B3_ENCODER)).unwrap();
    let stream8 = hex(B4_STREAM8);
    assert_eq!(decode_with(&mut d, 8, &stream8), None);
    // Decoding again while still blocked does not count the stream twice.
    assert_eq!(decode(&mut d, 8, &stream8), None);
    assert_eq!(d.blocked_streams(), 1);
    // A second blocked stream exceeds SETTINGS_QPACK_BLOCKED_STREAMS = 1.
    let err = d.decode_section_with(12, &stream8, |_, _| {}).unwrap_err();
    assert_eq!(err.code().code(), 0x200);

    let mut d = decoder();
    d.feed_encoder_stream(&hex(B2_ENCODER)).unwrap();
    d.feed_encoder_stream(&hex(B3_ENCODER)).unwrap();
    assert_eq!(decode(&mut d, 8, &stream8), None);
    assert_eq!(d.next_unblocked(), None);
    d.feed_encoder_stream(&hex(B4_ENCODER)).unwrap();
    assert_eq!(d.next_unblocked(), Some(8));
    assert_eq!(d.next_unblocked(), None);
    let want = f(&[
        (":authority", "www.example.com"),
        (":path", "/"),
        ("custom-key", "custom-value"),
    ]);
    assert_eq!(decode(&mut d, 8, &stream8), Some(want.clone()));
    assert_eq!(decode_with(&mut d, 8, &stream8), Some(want));
    // One acknowledgment per decoded section; no Insert Count Increment, because the
    // acknowledged Required Insert Count (4) covers every insert.
    assert_eq!(decoder_stream(&mut d), hex("88 88"));
}

/// B.4 with `decode_section_into`: a blocked section appends nothing to the caller's
/// list; once unblocked, its fields are appended after what the list held.
#[test]
fn b4_decode_section_into_a_held_list() {
    let mut d = decoder();
    d.feed_encoder_stream(&hex(B2_ENCODER)).unwrap();
    d.feed_encoder_stream(&hex(B3_ENCODER)).unwrap();
    let stream8 = hex(B4_STREAM8);
    let arena = Arena::new();
    let mut list = shockwave_arena::HeaderList::new_in(&arena);
    list.push(b"x-before", b"1").unwrap();
    let r = d.decode_section_into(8, &stream8, &mut list).unwrap();
    assert!(matches!(r, Decoded::Blocked));
    assert_eq!(list.len(), 1, "nothing appended while blocked");
    d.feed_encoder_stream(&hex(B4_ENCODER)).unwrap();
    let r = d.decode_section_into(8, &stream8, &mut list).unwrap();
    assert!(matches!(r, Decoded::Done(())));
    let got: Fields = list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
    assert_eq!(
        got,
        f(&[
            ("x-before", "1"),
            (":authority", "www.example.com"),
            (":path", "/"),
            ("custom-key", "custom-value"),
        ])
    );
}

/// The encoder stream split at every byte boundary gives the same table.
#[test]
fn encoder_stream_in_pieces() {
    let all: Vec<u8> = [B2_ENCODER, B3_ENCODER, B4_ENCODER, B5_ENCODER]
        .iter()
        .flat_map(|s| hex(s))
        .collect();
    for chunk in 1..all.len() {
        let mut d = decoder();
        for piece in all.chunks(chunk) {
            d.feed_encoder_stream(piece).unwrap();
        }
        assert_eq!(
            (d.insert_count(), d.table_size()),
            (5, 215),
            "chunk {chunk}"
        );
        assert_eq!(
            d.table_entry(4),
            Some((&b"custom-key"[..], &b"custom-value2"[..]))
        );
    }
}
