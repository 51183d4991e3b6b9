//! Property tests: random input never panics the decoder, and arbitrary valid frames
//! round-trip.

mod common;

use proptest::prelude::*;
use shockwave_http2_frames::*;

/// Runs the decoder over `input` the way a connection would: frames are consumed, stream
/// errors skip their frame, a connection error ends the run.
fn drive(decoder: &mut FrameDecoder, input: &[u8]) {
    let mut rest = input;
    loop {
        match decoder.decode(rest) {
            Ok(Some((frame, used))) => {
                assert!(used >= FRAME_HEADER_LEN && used <= rest.len());
                assert_eq!(used, frame.encoded_len());
                if let Frame::Settings(s) = frame {
                    let mut settings = Settings::default();
                    settings.apply(&s).expect("decoded SETTINGS are valid");
                    let _ = settings.diff(&Settings::DEFAULT);
                }
                // Everything decoded can be encoded again, except a HEADERS frame that
                // depends on itself: the decoder hands it over so its field block keeps
                // the HPACK context in step (RFC 9113 §4.3, §5.3.1), and the encoder
                // refuses to write it.
                let self_dependent =
                    matches!(&frame, Frame::Headers(h) if h.check_priority().is_err());
                let mut out = Vec::new();
                match frame.encode(&mut out) {
                    Ok(()) => {
                        assert!(
                            !self_dependent,
                            "a self-dependent HEADERS frame was encoded"
                        );
                        assert_eq!(out.len(), used);
                    }
                    Err(e) => {
                        assert!(self_dependent, "decoded frame failed to re-encode: {e:?}");
                        assert_eq!(e, EncodeError::SelfDependency);
                    }
                }
                rest = &rest[used..];
            }
            Ok(None) => return,
            Err(e) if e.is_connection_error() => return,
            Err(e) => {
                assert!(e.frame_len >= FRAME_HEADER_LEN && e.frame_len <= rest.len());
                rest = &rest[e.frame_len..];
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        drive(&mut FrameDecoder::new(), &input);
        let _ = decode_frame(&input, DEFAULT_MAX_FRAME_SIZE);
        let _ = match_preface(&input);
        let _ = Settings::from_payload(&input);
        if let Some(h) = FrameHeader::parse(&input) {
            let _ = Frame::parse(h, &input[FRAME_HEADER_LEN..]);
        }
    }

    /// Random bytes behind plausible headers (small lengths, defined types) reach the
    /// per-type validation far more often than uniform noise.
    #[test]
    fn random_frames_never_panic(
        frames in proptest::collection::vec(
            (0u8..12, any::<u8>(), prop_oneof![Just(0u32), 1u32..10, Just(u32::MAX)],
             proptest::collection::vec(any::<u8>(), 0..40)),
            1..12),
        max in prop_oneof![Just(16_384u32), 16_384u32..20_000],
    ) {
        let mut input = Vec::new();
        for (kind, flags, stream, payload) in &frames {
            input.extend_from_slice(&common::raw(*kind, *flags, *stream, payload));
        }
        let mut d = FrameDecoder::new();
        d.set_max_frame_size(max).unwrap();
        drive(&mut d, &input);
    }

    /// Flipping bytes of a valid stream never panics.
    #[test]
    fn mutated_valid_stream_never_panics(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut input = common::mixed_stream();
        for (i, b) in flips {
            let i = i.index(input.len());
            input[i] ^= b;
        }
        drive(&mut FrameDecoder::new(), &input);
    }

    #[test]
    fn arbitrary_valid_frames_round_trip(
        sid in 1u32..=MAX_STREAM_ID,
        other in 0u32..=MAX_STREAM_ID,
        flag_a in any::<bool>(),
        flag_b in any::<bool>(),
        pad in proptest::option::of(any::<u8>()),
        weight in any::<u8>(),
        code in any::<u32>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        which in 0u8..11,
    ) {
        let priority = (flag_b && other != sid).then_some(PrioritySpec { dependency: other, exclusive: flag_a, weight });
        let promised = (other & !1).max(2);
        let increment = other.max(1);
        let ping: [u8; 8] = code.to_be_bytes().repeat(2).try_into().unwrap();
        let settings_payload: Vec<u8> = body.chunks_exact(6).flat_map(|c| {
            // Unknown identifiers accept any value.
            [0x10, c[1], c[2], c[3], c[4], c[5]]
        }).collect();
        let frame = match which {
            0 => Frame::Data(Data { stream_id: sid, data: &body, end_stream: flag_a, pad_len: pad }),
            1 => Frame::Headers(Headers { stream_id: sid, fragment: &body, end_stream: flag_a, end_headers: true, priority, pad_len: pad }),
            2 => Frame::Priority(Priority { stream_id: sid, spec: PrioritySpec { dependency: if other == sid { 0 } else { other }, exclusive: flag_a, weight } }),
            3 => Frame::RstStream(RstStream { stream_id: sid, error_code: ErrorCode::from_u32(code) }),
            4 => Frame::Settings(SettingsFrame::parse(false, &settings_payload).unwrap()),
            5 => Frame::PushPromise(PushPromise { stream_id: sid, promised_stream_id: promised, fragment: &body, end_headers: true, pad_len: pad }),
            6 => Frame::Ping(Ping { ack: flag_a, data: ping }),
            7 => Frame::GoAway(GoAway { last_stream_id: other, error_code: ErrorCode::from_u32(code), debug_data: &body }),
            8 => Frame::WindowUpdate(WindowUpdate { stream_id: if flag_a { 0 } else { sid }, increment }),
            9 => Frame::Continuation(Continuation { stream_id: sid, fragment: &body, end_headers: flag_a }),
            _ => Frame::Unknown(UnknownFrame {
                header: FrameHeader { length: body.len() as u32, kind: FrameKind::Unknown(weight.max(10)), flags: Flags(code as u8), stream_id: other },
                payload: &body,
            }),
        };
        let mut buf = Vec::new();
        frame.encode(&mut buf).unwrap();
        let (decoded, used) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
        prop_assert_eq!(used, buf.len());
        prop_assert_eq!(decoded, frame);
    }
}
