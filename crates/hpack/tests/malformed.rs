//! Malformed and hostile input: each case must fail with its precise error, never panic.

use shockwave_arena::{Arena, ArenaError, HeaderList};
use shockwave_hpack::{DecodeError, Decoder, DecoderLimits, Encoder, HuffmanError};

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(block: &[u8]) -> Result<Fields, DecodeError> {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    d.decode(block, |n, v| out.push((n.to_vec(), v.to_vec())))
        .map(|()| out)
}

#[test]
fn malformed_blocks_table() {
    let mut overflow = vec![0xff];
    overflow.extend_from_slice(&[0xff; 10]);
    overflow.push(0x01);
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "truncated integer: prefix full, no continuation",
            vec![0xff],
            DecodeError::TruncatedInteger,
        ),
        (
            "truncated integer: continuation bit set at end",
            vec![0xff, 0x80],
            DecodeError::TruncatedInteger,
        ),
        (
            "truncated size update",
            vec![0x3f],
            DecodeError::TruncatedInteger,
        ),
        ("integer overflow", overflow, DecodeError::IntegerOverflow),
        ("index 0", vec![0x80], DecodeError::IndexZero),
        (
            "index past the static table",
            vec![0xbe],
            DecodeError::IndexOutOfRange { index: 62, len: 61 },
        ),
        (
            "index far past the table",
            vec![0xff, 0xff, 0x7f],
            DecodeError::IndexOutOfRange {
                index: 16510,
                len: 61,
            },
        ),
        (
            "literal name index past the table",
            vec![0x7f, 0x00, 0x01, b'a'],
            DecodeError::IndexOutOfRange { index: 63, len: 61 },
        ),
        (
            "literal without value length",
            vec![0x04],
            DecodeError::TruncatedInteger,
        ),
        (
            "literal new name without name",
            vec![0x40],
            DecodeError::TruncatedInteger,
        ),
        (
            "string longer than the block",
            vec![0x04, 0x05, b'/', b'a'],
            DecodeError::StringPastEnd {
                len: 5,
                available: 2,
            },
        ),
        (
            "name longer than the block",
            vec![0x00, 0x7f, 0x10, b'x'],
            DecodeError::StringPastEnd {
                len: 143,
                available: 1,
            },
        ),
        (
            "huffman padding not ones",
            vec![0x04, 0x81, 0x00],
            DecodeError::Huffman(HuffmanError::InvalidPadding),
        ),
        (
            "huffman padding longer than 7 bits",
            vec![0x04, 0x81, 0xff],
            DecodeError::Huffman(HuffmanError::PaddingTooLong),
        ),
        (
            "huffman EOS",
            vec![0x04, 0x84, 0xff, 0xff, 0xff, 0xff],
            DecodeError::Huffman(HuffmanError::Eos),
        ),
        (
            "huffman EOS after a symbol",
            vec![0x04, 0x85, 0x1f, 0xff, 0xff, 0xff, 0xff],
            DecodeError::Huffman(HuffmanError::Eos),
        ),
        (
            "size update above the limit",
            vec![0x3f, 0xe2, 0x1f],
            DecodeError::SizeUpdateTooLarge {
                requested: 4097,
                max: 4096,
            },
        ),
        (
            "size update after a field",
            vec![0x82, 0x20],
            DecodeError::SizeUpdateAfterField,
        ),
        (
            "size update after a literal",
            vec![0x04, 0x01, b'/', 0x3f, 0xe1, 0x01],
            DecodeError::SizeUpdateAfterField,
        ),
    ];
    for (what, block, want) in cases {
        assert_eq!(decode(&block), Err(want), "{what}");
        // The arena path reports the same error.
        let arena = Arena::new();
        let mut list = HeaderList::new_in(&arena);
        let got = Decoder::new().decode_in(&block, &arena, &mut list);
        assert_eq!(got, Err(want), "{what} (arena)");
    }
}

#[test]
fn size_updates_at_start_are_fine() {
    // Two updates (down, then up) before the first field.
    assert_eq!(decode(&[0x20, 0x3f, 0xe1, 0x1f, 0x82]).unwrap().len(), 1);
    // A block with only an update.
    assert!(decode(&[0x3f, 0xe1, 0x01]).unwrap().is_empty());
    // An update to the acked maximum after set_max_table_size.
    let mut d = Decoder::new();
    d.set_max_table_size(100);
    assert_eq!(
        d.decode(&[0x3f, 0xe1, 0x01], |_, _| {}),
        Err(DecodeError::SizeUpdateTooLarge {
            requested: 256,
            max: 100
        })
    );
    d.decode(&[0x3f, 0x45], |_, _| {}).unwrap();
    assert_eq!(d.table_capacity(), 100);
}

#[test]
fn header_list_size_limit_keeps_the_table_in_sync() {
    let mut enc = Encoder::new();
    let big = vec![b'v'; 400];
    let fields: Vec<(Vec<u8>, Vec<u8>)> = (0..10)
        .map(|i| (format!("x-field-{i}").into_bytes(), big.clone()))
        .collect();
    let mut block1 = Vec::new();
    enc.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])), &mut block1);
    let mut block2 = Vec::new();
    enc.encode(
        fields.iter().skip(1).take(2).map(|(n, v)| (&n[..], &v[..])),
        &mut block2,
    );

    let mut d = Decoder::with_limits(DecoderLimits {
        max_header_list_size: 1000,
        ..DecoderLimits::default()
    });
    let mut seen = 0;
    assert_eq!(
        d.decode(&block1, |_, _| seen += 1),
        Err(DecodeError::HeaderListTooLarge { limit: 1000 })
    );
    // 2 fields of 441 bytes fit in 1000, the third does not.
    assert_eq!(seen, 2);
    // The next block refers to entries the first one inserted: still decodable.
    let mut got = Vec::new();
    d.decode(&block2, |n, v| got.push((n.to_vec(), v.to_vec())))
        .unwrap();
    assert_eq!(got, fields[1..3].to_vec());
    assert_eq!(d.table_size(), enc.table_size());
}

#[test]
fn string_length_limit() {
    let mut d = Decoder::with_limits(DecoderLimits {
        max_string_len: 4,
        ..DecoderLimits::default()
    });
    assert_eq!(
        d.decode(&[0x04, 0x05, b'/', b'a', b'b', b'c', b'd'], |_, _| {}),
        Err(DecodeError::StringTooLong { len: 5, limit: 4 })
    );
    // A Huffman string of 4 encoded bytes that decodes to more than 4 bytes.
    let mut wire = vec![0x04];
    let mut h = Vec::new();
    shockwave_hpack::huffman::encode(b"aaaaaa", &mut h);
    assert_eq!(h.len(), 4);
    wire.push(0x80 | h.len() as u8);
    wire.extend_from_slice(&h);
    assert_eq!(
        d.decode(&wire, |_, _| {}),
        Err(DecodeError::StringTooLong { len: 6, limit: 4 })
    );
    // A declared length far beyond the limit is rejected before anything is read.
    assert!(matches!(
        d.decode(&[0x04, 0x7f, 0xff, 0xff, 0xff, 0x0f], |_, _| {}),
        Err(DecodeError::StringTooLong { .. })
    ));
}

#[test]
fn arena_limit_is_a_typed_error() {
    let arena = Arena::with_limit(0, Some(64));
    let mut list = HeaderList::new_in(&arena);
    let mut block = vec![0x04, 0x7f, 0x81, 0x01];
    block.extend(std::iter::repeat_n(b'a', 127 + 129));
    let mut decoder = Decoder::new();
    let err = decoder.decode_in(&block, &arena, &mut list);
    assert!(
        matches!(
            err,
            Err(DecodeError::Arena(ArenaError::LimitExceeded { .. }))
        ),
        "{err:?}"
    );
    // The arena error does not desynchronise the table: a block that indexes into it
    // after an arena failure still decodes.
    let mut enc = shockwave_hpack::Encoder::new();
    let big = vec![b'z'; 300];
    let mut b1 = Vec::new();
    enc.encode([(&b"x-big"[..], &big[..]), (b"x-after", b"1")], &mut b1);
    let mut b2 = Vec::new();
    enc.encode(
        [(&b"x-after"[..], &b"1"[..]), (b"x-big", &big[..])],
        &mut b2,
    );
    assert_eq!(b2.len(), 2, "both fields indexed");
    let small = Arena::with_limit(0, Some(128));
    let mut list = HeaderList::new_in(&small);
    assert!(matches!(
        decoder.decode_in(&b1, &small, &mut list),
        Err(DecodeError::Arena(_))
    ));
    let mut got = Vec::new();
    decoder
        .decode(&b2, |n, v| got.push((n.to_vec(), v.to_vec())))
        .unwrap();
    assert_eq!(
        got,
        [
            (b"x-after".to_vec(), b"1".to_vec()),
            (b"x-big".to_vec(), big.clone())
        ]
    );
}

#[test]
fn table_size_zero_and_oversized_entries() {
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    let mut d = Decoder::new();
    d.decode(&[0x40, 0x01, b'a', 0x01, b'b'], |_, _| {})
        .unwrap();
    assert_eq!(d.table_len(), 1);
    let mut block = vec![0x3f, 0x03]; // size update to 34: 'a'+'b'+32 fits, bigger does not
    block.extend_from_slice(&[0x7e, 0x02, b'c', b'd']); // name from entry 62, value "cd": 35 bytes
    let mut got = Vec::new();
    d.decode(&block, |n, v| got.push((n.to_vec(), v.to_vec())))
        .unwrap();
    assert_eq!(
        got,
        [(b"a".to_vec(), b"cd".to_vec())],
        "name taken from the evicted entry"
    );
    assert_eq!(d.table_len(), 0);
    assert_eq!(d.table_size(), 0);
}
