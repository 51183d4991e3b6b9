//! HPACK round trip: whatever header lists, table size changes, Huffman policy and
//! indexing choice, `Encoder` → `Decoder` gives back the same fields in order, keeps
//! never-indexed fields never indexed, and both ends agree on the dynamic table.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use shockwave_hpack::{Decoder, DecoderLimits, Encoder, Field, HuffmanPolicy};

/// Common fields, so that the static and dynamic tables get hits.
const POOL: [(&[u8], &[u8]); 12] = [
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"https"),
    (b":authority", b"example.com"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"user-agent", b"shockwave-fuzz/1.0"),
    (b"cookie", b"a=b"),
    (b"cookie", b"session=0123456789abcdef0123456789"),
    (b"authorization", b"Basic dXNlcjpwYXNz"),
    (b"x-custom", b""),
];

#[derive(Arbitrary, Debug)]
enum F {
    Pool(u8),
    /// A pool name with a custom value.
    Name(u8, Vec<u8>),
    Custom(Vec<u8>, Vec<u8>),
    /// Repeat a field seen earlier in the input.
    Repeat(u8),
}

#[derive(Arbitrary, Debug)]
struct Block {
    /// The peer's SETTINGS_HEADER_TABLE_SIZE changes before this block.
    table_size: Option<u16>,
    never_indexed: u32,
    /// `encode` (default sensitivity) instead of `encode_fields`.
    plain: bool,
    fields: Vec<F>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    huffman: u8,
    indexing: bool,
    size_limit: Option<u16>,
    blocks: Vec<Block>,
}

fuzz_target!(|input: Input| {
    let mut enc = Encoder::new();
    enc.set_huffman(match input.huffman % 3 {
        0 => HuffmanPolicy::WhenShorter,
        1 => HuffmanPolicy::Never,
        _ => HuffmanPolicy::Always,
    });
    enc.set_indexing(input.indexing);
    if let Some(limit) = input.size_limit {
        enc.set_table_size_limit(usize::from(limit));
    }
    let mut dec = Decoder::with_limits(DecoderLimits {
        max_header_list_size: usize::MAX,
        max_string_len: usize::MAX,
    });
    dec.set_max_table_size(usize::from(u16::MAX));
    enc.set_max_table_size(4096);
    let mut seen: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut wire = Vec::new();
    for block in &input.blocks {
        if let Some(size) = block.table_size {
            enc.set_max_table_size(usize::from(size));
        }
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for f in &block.fields {
            let (n, v) = match f {
                F::Pool(i) => {
                    let (n, v) = POOL[usize::from(*i) % POOL.len()];
                    (n.to_vec(), v.to_vec())
                }
                F::Name(i, v) => (POOL[usize::from(*i) % POOL.len()].0.to_vec(), v.clone()),
                F::Custom(n, v) => (n.clone(), v.clone()),
                F::Repeat(i) if !seen.is_empty() => seen[usize::from(*i) % seen.len()].clone(),
                F::Repeat(_) => (b"x".to_vec(), b"y".to_vec()),
            };
            seen.push((n.clone(), v.clone()));
            fields.push((n, v));
        }
        let never = |i: usize| !block.plain && block.never_indexed & (1 << (i % 32)) != 0;
        wire.clear();
        if block.plain {
            enc.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])), &mut wire);
        } else {
            enc.encode_fields(
                fields.iter().enumerate().map(|(i, (n, v))| Field {
                    name: n,
                    value: v,
                    never_indexed: never(i),
                }),
                &mut wire,
            );
        }
        let mut out: Vec<(Vec<u8>, Vec<u8>, bool)> = Vec::new();
        dec.decode_fields(&wire, |f| {
            out.push((f.name.to_vec(), f.value.to_vec(), f.never_indexed))
        })
        .unwrap_or_else(|e| panic!("decoding our own block failed: {e:?}"));
        assert_eq!(out.len(), fields.len());
        for (i, ((n, v, ni), (en, ev))) in out.iter().zip(&fields).enumerate() {
            assert_eq!((n, v), (en, ev));
            if never(i) {
                assert!(ni, "never-indexed field lost its flag");
            }
        }
        assert_eq!(enc.table_size(), dec.table_size());
        assert_eq!(enc.table_len(), dec.table_len());
        assert_eq!(enc.table_capacity(), dec.table_capacity());
    }
});
