//! QPACK decoding (RFC 9204): encoder-stream instructions into the dynamic table, field
//! sections (blocked ones retried when their entries arrive), stream cancellations and
//! decoder-stream output, on one connection.
//!
//! Input: `[config: u8]` then records `[tag: u8][len: u16 BE][bytes]`; `tag & 3` says what
//! the bytes are: 0 encoder-stream data, 1 a field section on stream `(tag >> 2) & 7`,
//! 2 cancel stream `(tag >> 2) & 7`, 3 collect the decoder stream. `tag & 0x80` on a field
//! section decodes it into an arena limited to a few hundred bytes. `config` picks the
//! table capacity, blocked-stream limit and max field section size.
//!
//! Two decoders run side by side: one decodes into arenas and is fed the encoder stream
//! whole, the other decodes through the callback and gets the encoder stream in two
//! pieces. Checked: no panic; both agree on fields, errors, blocked streams, table state
//! and decoder-stream bytes; the table and blocked-stream limits hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_fuzz::records;
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig, QpackError};
use shockwave_quic::Scope;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;
type Outcome = Result<Option<Fields>, QpackError>;

fn decode_arena(d: &mut Decoder, stream: u64, block: &[u8], small: bool) -> Outcome {
    let arena = if small {
        Arena::with_limit(64, Some(512))
    } else {
        Arena::new()
    };
    let fields = match d.decode_section(stream, block, &arena)? {
        Decoded::Done(list) => Some(list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()),
        Decoded::Blocked => None,
    };
    Ok(fields)
}

fn decode_fn(d: &mut Decoder, stream: u64, block: &[u8]) -> Outcome {
    let mut fields = Vec::new();
    Ok(
        match d.decode_section_with(stream, block, |n, v| fields.push((n.to_vec(), v.to_vec())))? {
            Decoded::Done(()) => Some(fields),
            Decoded::Blocked => None,
        },
    )
}

/// Decodes on both decoders and compares; false when the connection must end.
fn section(a: &mut Decoder, b: &mut Decoder, stream: u64, block: &[u8], small: bool) -> bool {
    let ra = decode_arena(a, stream, block, small);
    let rb = decode_fn(b, stream, block);
    match (&ra, &rb) {
        // The small arena filled up: the other decoder's outcome is the full one.
        (Err(QpackError::Arena(_)), Ok(Some(_)) | Err(_)) => assert!(small),
        _ => assert_eq!(ra, rb),
    }
    assert_eq!(a.is_blocked(stream), b.is_blocked(stream));
    match rb {
        Ok(None) => assert!(a.is_blocked(stream)),
        Ok(Some(_)) => assert!(!a.is_blocked(stream)),
        Err(e) => return e.scope() == Scope::Stream,
    }
    true
}

fn check(a: &Decoder, b: &Decoder, cfg: &DecoderConfig) {
    assert_eq!(a.insert_count(), b.insert_count());
    assert_eq!(a.table_capacity(), b.table_capacity());
    assert_eq!(a.table_size(), b.table_size());
    assert_eq!(a.table_len(), b.table_len());
    assert_eq!(a.blocked_streams(), b.blocked_streams());
    assert!(a.table_size() <= a.table_capacity());
    assert!(a.table_capacity() <= cfg.max_table_capacity);
    assert!(a.blocked_streams() as u64 <= cfg.max_blocked_streams);
    let mut size = 0;
    for abs in a.insert_count() - a.table_len() as u64..a.insert_count() {
        let (n, v) = a.table_entry(abs).expect("live entry");
        assert_eq!(b.table_entry(abs), Some((n, v)));
        size += n.len() as u64 + v.len() as u64 + 32;
    }
    assert_eq!(size, a.table_size());
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let cfg = DecoderConfig {
        max_table_capacity: [4096, 0, 64, 256][usize::from(config & 3)],
        max_blocked_streams: [16, 0, 1, 2][usize::from((config >> 2) & 3)],
        max_field_section_size: [16 * 1024, 100][usize::from((config >> 4) & 1)],
        // Both the default field-count cap and a tiny one the fuzzer can reach.
        max_fields: [100, 3][usize::from((config >> 5) & 1)],
    };
    let mut a = Decoder::new(cfg);
    let mut b = Decoder::new(cfg);
    let mut waiting: Vec<(u64, Vec<u8>, bool)> = Vec::new();
    for (tag, bytes) in records(rest) {
        let stream = u64::from((tag >> 2) & 7) * 4;
        match tag & 3 {
            0 => {
                let ra = a.feed_encoder_stream(bytes);
                let cut = usize::from(tag >> 2).min(bytes.len());
                let rb = b
                    .feed_encoder_stream(&bytes[..cut])
                    .and_then(|()| b.feed_encoder_stream(&bytes[cut..]));
                assert_eq!(ra.is_err(), rb.is_err(), "{ra:?} / {rb:?}");
                if ra.is_err() {
                    return;
                }
                check(&a, &b, &cfg);
                loop {
                    let (ua, ub) = (a.next_unblocked(), b.next_unblocked());
                    assert_eq!(ua, ub);
                    let Some(s) = ua else { break };
                    let i = waiting
                        .iter()
                        .position(|w| w.0 == s)
                        .expect("an unblocked stream was blocked");
                    let (s, block, small) = waiting.swap_remove(i);
                    if !section(&mut a, &mut b, s, &block, small) {
                        return;
                    }
                    assert!(!a.is_blocked(s), "decodable once unblocked");
                }
            }
            1 => {
                let small = tag & 0x80 != 0;
                if a.is_blocked(stream) {
                    // A driver stops reading a stream while its section is blocked.
                    continue;
                }
                if !section(&mut a, &mut b, stream, bytes, small) {
                    return;
                }
                if a.is_blocked(stream) {
                    waiting.push((stream, bytes.to_vec(), small));
                }
            }
            2 => {
                a.cancel_stream(stream);
                b.cancel_stream(stream);
                waiting.retain(|w| w.0 != stream);
                assert!(!a.is_blocked(stream));
            }
            _ => {
                let (mut oa, mut ob) = (Vec::new(), Vec::new());
                assert_eq!(a.has_decoder_stream_data(), b.has_decoder_stream_data());
                a.take_decoder_stream(&mut oa);
                b.take_decoder_stream(&mut ob);
                assert_eq!(oa, ob);
                assert!(!a.has_decoder_stream_data());
            }
        }
        check(&a, &b, &cfg);
    }
});
