//! Inputs found by the fuzz targets in `fuzz/` (`cargo xtask fuzz`), kept as regression
//! tests. Each input is replayed the way its target reads it.

use shockwave_arena::Arena;
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig, QpackError};

/// Replays a `qpack_decode` fuzz input: `[config]` then records `[tag][len: u16 BE][bytes]`
/// (tag & 3: 0 encoder stream, 1 field section on stream `(tag >> 2) & 7` (times 4),
/// 2 cancel, 3 take the decoder stream). Returns the first encoder-stream error, and checks
/// on the way the contract of `next_unblocked`: a stream it returns decodes without
/// blocking again.
fn replay_qpack(input: &[u8]) -> Result<(), QpackError> {
    let config = input[0];
    let mut d = Decoder::new(DecoderConfig {
        max_table_capacity: [4096, 0, 64, 256][usize::from(config & 3)],
        max_blocked_streams: [16, 0, 1, 2][usize::from((config >> 2) & 3)],
        max_field_section_size: [16 * 1024, 100][usize::from((config >> 4) & 1)],
        max_fields: 100,
    });
    let mut waiting: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut rest = &input[1..];
    while rest.len() >= 3 {
        let tag = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let bytes = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let stream = u64::from((tag >> 2) & 7) * 4;
        match tag & 3 {
            0 => {
                d.feed_encoder_stream(bytes)?;
                while let Some(s) = d.next_unblocked() {
                    let i = waiting.iter().position(|w| w.0 == s).expect("was blocked");
                    let (s, block) = waiting.swap_remove(i);
                    let arena = Arena::new();
                    let blocked =
                        matches!(d.decode_section(s, &block, &arena), Ok(Decoded::Blocked));
                    assert!(
                        !blocked,
                        "stream {s} was reported unblocked but blocks again"
                    );
                }
            }
            1 if !d.is_blocked(stream) => {
                let arena = Arena::new();
                let outcome = match d.decode_section(stream, bytes, &arena) {
                    Ok(Decoded::Blocked) => Some(true),
                    Ok(Decoded::Done(_)) => Some(false),
                    Err(_) => None,
                };
                match outcome {
                    Some(true) => waiting.push((stream, bytes.to_vec())),
                    Some(false) => {}
                    None => return Ok(()),
                }
            }
            2 => d.cancel_stream(stream),
            _ => d.take_decoder_stream(&mut Vec::new()),
        }
    }
    Ok(())
}

/// qpack_decode crash (session 14): a section blocked on Required Insert Count 1, then an
/// encoder stream that inserts entry 0 and evicts it again with 128 Duplicates. The decoder
/// reported the stream unblocked, but decoding it reconstructed the encoded Required Insert
/// Count against the new insert count (RFC 9204 §4.5.1.1) to 257 and blocked it again. The
/// encoder broke §2.1.1.1 (it evicted an entry a blocked section references): now an
/// encoder stream error.
#[test]
fn qpack_blocked_section_entry_evicted() {
    const CRASH: [u8; 144] = [
        0x00, 0x01, 0x00, 0x04, 0x02, 0x00, 0x10, 0x11, 0x00, 0x08, 0x22, 0x3f, 0xbd, 0x01, 0xc0,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(
        replay_qpack(&CRASH),
        Err(QpackError::EncoderStream(
            "evicted an entry that a blocked stream references"
        ))
    );
}

/// The legitimate neighbour of the case above: the entry a blocked section needs arrives
/// and stays (later inserts evict only older entries), so the stream unblocks and decodes.
#[test]
fn qpack_blocked_section_unblocks_while_entry_kept() {
    let mut d = Decoder::new(DecoderConfig::default());
    // Required Insert Count 2 (encoded 3), Base 2, one indexed line: relative 0 = entry 1.
    let section = [0x03, 0x00, 0x80];
    let arena = Arena::new();
    let blocked = matches!(d.decode_section(0, &section, &arena), Ok(Decoded::Blocked));
    assert!(blocked);
    // Capacity 100 (two 42-byte entries); insert `:authority: a` (entry 0), then
    // `:authority: b` (entry 1), then duplicate entry 1 (entry 2, evicting entry 0 only).
    d.feed_encoder_stream(&[0x3f, 0x45, 0xc0, 0x01, b'a', 0xc0, 0x01, b'b', 0x00])
        .unwrap();
    assert_eq!(d.next_unblocked(), Some(0));
    let arena = Arena::new();
    let fields = d
        .decode_section(0, &section, &arena)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(fields.get(b":authority"), Some(&b"b"[..]));
}
