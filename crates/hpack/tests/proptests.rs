//! Property tests: random bytes never panic the decoder, and random header lists
//! round-trip through our encoder and decoder (with table size changes between blocks).

use proptest::prelude::*;
use shockwave_arena::{Arena, HeaderList};
use shockwave_hpack::{huffman, integer, Decoder, Encoder, HuffmanPolicy};

fn name_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b":path".to_vec()),
        Just(b":method".to_vec()),
        Just(b"cookie".to_vec()),
        Just(b"authorization".to_vec()),
        Just(b"content-type".to_vec()),
        Just(b"x-custom".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET".to_vec()),
        Just(b"/".to_vec()),
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..1500),
    ]
}

type Block = Vec<(Vec<u8>, Vec<u8>)>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(
        blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 1..6),
        table in prop_oneof![Just(0usize), Just(64), Just(4096)],
    ) {
        let mut d = Decoder::new();
        d.set_max_table_size(table);
        let mut d2 = Decoder::new();
        let arena = Arena::new();
        for b in &blocks {
            let _ = d.decode(b, |n, v| { std::hint::black_box((n, v)); });
            let mut list = HeaderList::new_in(&arena);
            let _ = d2.decode_in(b, &arena, &mut list);
            prop_assert!(d.table_size() <= d.table_capacity());
        }
    }

    #[test]
    fn random_huffman_and_integers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128), prefix in 1u8..=8) {
        let mut out = Vec::new();
        if huffman::decode(&bytes, &mut out).is_ok() {
            // Whatever decodes re-encodes to something that decodes the same way.
            let mut again = Vec::new();
            huffman::encode(&out, &mut again);
            let mut back = Vec::new();
            huffman::decode(&again, &mut back).unwrap();
            prop_assert_eq!(back, out);
        }
        let _ = integer::decode(&bytes, prefix);
    }

    #[test]
    fn huffman_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut enc = Vec::new();
        huffman::encode(&bytes, &mut enc);
        prop_assert_eq!(enc.len(), huffman::encoded_len(&bytes));
        let mut dec = Vec::new();
        huffman::decode(&enc, &mut dec).unwrap();
        prop_assert_eq!(dec, bytes);
    }

    #[test]
    fn integer_round_trip(value in any::<u64>(), prefix in 1u8..=8, flags in any::<u8>()) {
        let mut buf = Vec::new();
        integer::encode(value, prefix, flags, &mut buf);
        prop_assert_eq!(integer::decode(&buf, prefix), Ok((value, buf.len())));
    }

    #[test]
    fn encode_decode_round_trip(
        blocks in proptest::collection::vec(
            proptest::collection::vec((name_strategy(), value_strategy()), 0..12), 1..8),
        sizes in proptest::collection::vec(prop_oneof![Just(None), Just(Some(0usize)), Just(Some(100)), Just(Some(4096)), Just(Some(1000))], 8),
        policy in prop_oneof![Just(HuffmanPolicy::WhenShorter), Just(HuffmanPolicy::Never), Just(HuffmanPolicy::Always)],
    ) {
        let mut enc = Encoder::new();
        enc.set_huffman(policy);
        let mut dec = Decoder::new();
        let mut arena = Arena::new();
        let mut wire = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            if let Some(size) = sizes[i] {
                // SETTINGS round: the decoder's limit is acked, the encoder follows.
                enc.set_max_table_size(size);
                dec.set_max_table_size(size);
            }
            wire.clear();
            enc.encode(block.iter().map(|(n, v)| (&n[..], &v[..])), &mut wire);
            let mut limits = *dec.limits();
            limits.max_header_list_size = usize::MAX;
            dec.set_limits(limits);
            {
                let mut list = HeaderList::new_in(&arena);
                dec.decode_in(&wire, &arena, &mut list).unwrap();
                let got: Block = list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
                prop_assert_eq!(&got, block);
            }
            arena.reset();
            prop_assert_eq!(dec.table_size(), enc.table_size());
            prop_assert_eq!(dec.table_len(), enc.table_len());
        }
    }
}
