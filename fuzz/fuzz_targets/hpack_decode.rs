//! HPACK decoding (RFC 7541) of a sequence of header blocks on one connection.
//!
//! Input: `[config: u8]` then records `[tag: u8][len: u16 BE][block]` (see
//! `shockwave_fuzz::records`). `tag & 0x80`: first apply SETTINGS_HEADER_TABLE_SIZE
//! `SIZES[tag & 7]` with `set_max_table_size`; `tag & 0x40`: decode into an arena limited
//! to a few hundred bytes (the arena-full path). `config` picks the header-list and string
//! limits.
//!
//! Checked: no panic; decoding into an arena (`Decoder::decode_in`) and through the
//! callback (`Decoder::decode_fields`) give the same fields, the same error and the same
//! table; after `HeaderListTooLarge` / `Arena` errors the table stays in sync and decoding
//! goes on; emitted fields stay within the header list limit; the table respects its size
//! accounting and the advertised maximum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::{Arena, HeaderList};
use shockwave_fuzz::records;
use shockwave_hpack::{DecodeError, Decoder, DecoderLimits, ENTRY_OVERHEAD, STATIC_LEN};

const SIZES: [usize; 8] = [0, 64, 256, 1365, 2730, 4096, 8192, 65536];

fn table(d: &Decoder) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..d.table_len())
        .map(|i| {
            let (n, v) = d.table_entry(STATIC_LEN + 1 + i).expect("entry in range");
            (n.to_vec(), v.to_vec())
        })
        .collect()
}

fn check_table(d: &Decoder) {
    let t = table(d);
    let size: usize = t
        .iter()
        .map(|(n, v)| n.len() + v.len() + ENTRY_OVERHEAD)
        .sum();
    assert_eq!(size, d.table_size());
    assert!(d.table_size() <= d.table_capacity());
    assert!(d.table_capacity() <= d.max_table_size());
    assert!(d.table_entry(STATIC_LEN + 1 + d.table_len()).is_none());
    assert!(d.table_entry(STATIC_LEN).is_none());
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let limits = DecoderLimits {
        max_header_list_size: [16 * 1024, 256, 64 * 1024, 0][usize::from(config & 3)],
        max_string_len: [64 * 1024, 16, 4096, 1][usize::from((config >> 2) & 3)],
    };
    let mut arena_dec = Decoder::with_limits(limits);
    let mut fn_dec = Decoder::with_limits(limits);
    for (tag, block) in records(rest) {
        if tag & 0x80 != 0 {
            let size = SIZES[usize::from(tag & 7)];
            arena_dec.set_max_table_size(size);
            fn_dec.set_max_table_size(size);
            check_table(&arena_dec);
        }
        let limited = tag & 0x40 != 0;
        let arena = if limited {
            Arena::with_limit(64, Some(512))
        } else {
            Arena::new()
        };
        let mut list = HeaderList::new_in(&arena);
        let a = arena_dec.decode_in(block, &arena, &mut list);
        let got: Vec<(&[u8], &[u8])> = list.iter().collect();

        let mut expected: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let f = fn_dec.decode_fields(block, |f| {
            expected.push((f.name.to_vec(), f.value.to_vec()))
        });

        let emitted: usize = expected.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        assert!(
            emitted <= limits.max_header_list_size,
            "fields past the limit were emitted"
        );

        if limited {
            // The arena may fill up: what fit is a prefix of the full list, and the error
            // is the arena's unless the block had a worse one.
            assert!(got.len() <= expected.len());
            match &a {
                Err(DecodeError::Arena(_)) => {
                    assert!(f.is_ok() || matches!(f, Err(DecodeError::HeaderListTooLarge { .. })))
                }
                _ => assert_eq!(a, f),
            }
            if a.is_ok() {
                assert_eq!(got.len(), expected.len());
            }
        } else {
            assert_eq!(a, f);
            assert_eq!(got.len(), expected.len());
        }
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!((g.0, g.1), (&e.0[..], &e.1[..]));
        }
        check_table(&arena_dec);
        assert_eq!(table(&arena_dec), table(&fn_dec));
        assert_eq!(arena_dec.table_capacity(), fn_dec.table_capacity());
        match f {
            Ok(()) | Err(DecodeError::HeaderListTooLarge { .. }) => {}
            // Any other error leaves the table out of step with the peer: the connection
            // ends (COMPRESSION_ERROR), and so does this run.
            Err(_) => return,
        }
    }
});
