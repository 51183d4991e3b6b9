//! Round trips of every frame type and flag combination, the splitting helpers, the
//! encoders' input checks and the `Settings` type.

mod common;

use common::*;
use shockwave_http2_frames::*;

/// Encodes `frame`, decodes it back and checks it is identical, re-encodes to the same
/// bytes, and that the header agrees with `flags()`/`payload_len()`.
fn round_trip(frame: Frame<'_>) {
    let mut buf = Vec::new();
    frame
        .encode(&mut buf)
        .unwrap_or_else(|e| panic!("encode {frame:?}: {e}"));
    assert_eq!(buf.len(), frame.encoded_len(), "{frame:?}");
    let header = FrameHeader::parse(&buf).unwrap();
    assert_eq!(header.kind, frame.kind());
    assert_eq!(header.flags, frame.flags(), "{frame:?}");
    assert_eq!(header.stream_id, frame.stream_id());
    assert_eq!(header.length as usize, frame.payload_len());
    let end_stream_flag = matches!(header.kind, FrameKind::Data | FrameKind::Headers)
        && header.flags.contains(Flags::END_STREAM);
    assert_eq!(frame.end_stream(), end_stream_flag);
    let (decoded, used) = decode_frame(&buf, MAX_MAX_FRAME_SIZE)
        .unwrap_or_else(|e| panic!("decode {frame:?}: {e}"))
        .expect("complete frame");
    assert_eq!(used, buf.len());
    assert_eq!(decoded, frame);
    let mut again = Vec::new();
    decoded.encode(&mut again).unwrap();
    assert_eq!(again, buf);
    // Every strict prefix is incomplete, never an error.
    for cut in 0..buf.len() {
        assert_eq!(
            decode_frame(&buf[..cut], MAX_MAX_FRAME_SIZE),
            Ok(None),
            "cut {cut}"
        );
    }
}

const PADS: [Option<u8>; 4] = [None, Some(0), Some(7), Some(255)];
const BOOLS: [bool; 2] = [false, true];

#[test]
fn data_every_flag_combination() {
    let long = vec![0xa5u8; 1000];
    let mut n = 0;
    for end_stream in BOOLS {
        for pad_len in PADS {
            for data in [&b""[..], b"hello", &long] {
                round_trip(Frame::Data(Data {
                    stream_id: 1,
                    data,
                    end_stream,
                    pad_len,
                }));
                n += 1;
            }
        }
    }
    assert_eq!(n, 24);
}

#[test]
fn data_padding_is_zero_and_counts_for_flow_control() {
    let d = Data {
        stream_id: 3,
        data: b"abc",
        end_stream: true,
        pad_len: Some(4),
    };
    assert_eq!(d.flow_controlled_len(), 3 + 1 + 4);
    let mut buf = Vec::new();
    d.encode(&mut buf).unwrap();
    assert_eq!(
        buf,
        [0, 0, 8, 0, 0x9, 0, 0, 0, 3, 4, b'a', b'b', b'c', 0, 0, 0, 0]
    );
}

#[test]
fn headers_every_flag_combination() {
    let priorities = [
        None,
        Some(PrioritySpec {
            dependency: 0,
            exclusive: false,
            weight: 15,
        }),
        Some(PrioritySpec {
            dependency: 3,
            exclusive: true,
            weight: 255,
        }),
        Some(PrioritySpec {
            dependency: MAX_STREAM_ID,
            exclusive: true,
            weight: 0,
        }),
    ];
    let mut n = 0;
    for end_stream in BOOLS {
        for end_headers in BOOLS {
            for priority in priorities {
                for pad_len in PADS {
                    for fragment in [&b""[..], BLOCK] {
                        round_trip(Frame::Headers(Headers {
                            stream_id: 1,
                            fragment,
                            end_stream,
                            end_headers,
                            priority,
                            pad_len,
                        }));
                        n += 1;
                    }
                }
            }
        }
    }
    assert_eq!(n, 128);
}

#[test]
fn priority_round_trips() {
    for exclusive in BOOLS {
        for weight in [0, 1, 15, 255] {
            for dependency in [0, 2, MAX_STREAM_ID] {
                let spec = PrioritySpec {
                    dependency,
                    exclusive,
                    weight,
                };
                round_trip(Frame::Priority(Priority { stream_id: 9, spec }));
                assert_eq!(spec.weight_value(), weight as u16 + 1);
            }
        }
    }
}

#[test]
fn rst_stream_and_error_codes_round_trip() {
    for v in (0..=0xd).chain([0xe, 0xdead_beef, u32::MAX]) {
        let code = ErrorCode::from_u32(v);
        assert_eq!(code.as_u32(), v);
        assert_eq!(u32::from(code), v);
        assert_eq!(ErrorCode::from(v), code);
        assert_eq!(code.name().is_some(), v <= 0xd);
        round_trip(Frame::RstStream(RstStream {
            stream_id: MAX_STREAM_ID,
            error_code: code,
        }));
    }
    assert_eq!(ErrorCode::ProtocolError.to_string(), "PROTOCOL_ERROR");
    assert_eq!(ErrorCode::Http11Required.as_u32(), 0xd);
    assert_eq!(ErrorCode::Unknown(0x42).to_string(), "UNKNOWN_ERROR(0x42)");
}

#[test]
fn settings_round_trip() {
    round_trip(Frame::Settings(SettingsFrame::ACK));
    for payload in [
        &[][..],
        &SETTINGS_PAYLOAD[..],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ] {
        round_trip(Frame::Settings(
            SettingsFrame::parse(false, payload).unwrap(),
        ));
    }
    let all: Vec<Setting> = SettingId::KNOWN
        .iter()
        .map(|&id| {
            Setting::new(
                id,
                if id == SettingId::MaxFrameSize {
                    1 << 20
                } else {
                    1
                },
            )
        })
        .chain([Setting::new(SettingId::Unknown(0x10), u32::MAX)])
        .collect();
    let mut buf = Vec::new();
    encode_settings(&mut buf, &all).unwrap();
    let (frame, _) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    let Frame::Settings(s) = frame else {
        panic!("{frame:?}")
    };
    assert!(!s.is_ack());
    assert_eq!(s.len(), all.len());
    assert_eq!(s.iter().collect::<Vec<_>>(), all);
    round_trip(frame);
    let mut ack = Vec::new();
    encode_settings_ack(&mut ack);
    assert_eq!(ack, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
}

#[test]
fn push_promise_every_flag_combination() {
    for end_headers in BOOLS {
        for pad_len in PADS {
            for fragment in [&b""[..], BLOCK] {
                for promised_stream_id in [2, MAX_STREAM_ID - 1] {
                    round_trip(Frame::PushPromise(PushPromise {
                        stream_id: 1,
                        promised_stream_id,
                        fragment,
                        end_headers,
                        pad_len,
                    }));
                }
            }
        }
    }
}

#[test]
fn ping_round_trips() {
    for ack in BOOLS {
        for data in [[0; 8], *b"12345678", [0xff; 8]] {
            let ping = Ping { ack, data };
            assert_eq!(ping.pong(), Ping { ack: true, data });
            round_trip(Frame::Ping(ping));
        }
    }
}

#[test]
fn goaway_round_trips() {
    for last_stream_id in [0, 1, MAX_STREAM_ID] {
        for error_code in [
            ErrorCode::NoError,
            ErrorCode::EnhanceYourCalm,
            ErrorCode::Unknown(77),
        ] {
            for debug_data in [&b""[..], b"hpack is broken", &[0u8; 3000]] {
                round_trip(Frame::GoAway(GoAway {
                    last_stream_id,
                    error_code,
                    debug_data,
                }));
            }
        }
    }
}

#[test]
fn window_update_round_trips() {
    for stream_id in [0, 1, MAX_STREAM_ID] {
        for increment in [1, 65_535, MAX_WINDOW_SIZE] {
            round_trip(Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment,
            }));
        }
    }
}

#[test]
fn continuation_round_trips() {
    for end_headers in BOOLS {
        for fragment in [&b""[..], BLOCK] {
            round_trip(Frame::Continuation(Continuation {
                stream_id: 7,
                fragment,
                end_headers,
            }));
        }
    }
}

#[test]
fn unknown_frames_round_trip_with_their_flags() {
    for kind in [0xa, 0x10, 0xfa, 0xff] {
        for flags in [0, 0x1, 0xff] {
            for stream_id in [0, 5] {
                let payload = b"opaque extension payload";
                let header = FrameHeader {
                    length: payload.len() as u32,
                    kind: FrameKind::from_u8(kind),
                    flags: Flags(flags),
                    stream_id,
                };
                assert_eq!(header.kind, FrameKind::Unknown(kind));
                round_trip(Frame::Unknown(UnknownFrame { header, payload }));
            }
        }
    }
}

#[test]
fn frame_kinds_map_to_wire_values() {
    for v in 0..=255u8 {
        let k = FrameKind::from_u8(v);
        assert_eq!(k.as_u8(), v);
        assert_eq!(matches!(k, FrameKind::Unknown(_)), v > 9);
    }
    assert_eq!(FrameKind::WindowUpdate.to_string(), "WINDOW_UPDATE");
    assert_eq!(FrameKind::Unknown(0xfa).to_string(), "UNKNOWN(0xfa)");
}

#[test]
fn undefined_flags_and_reserved_bits_are_ignored_on_receipt() {
    // §4.1: unused flags are ignored; the reserved stream-id bit is ignored.
    let buf = raw(0x0, 0xf6, 0x8000_0001, b"xy");
    let (f, _) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert_eq!(
        f,
        Frame::Data(Data {
            stream_id: 1,
            data: b"xy",
            end_stream: false,
            pad_len: None
        })
    );
    assert_eq!(f.flags(), Flags::EMPTY);
    // Reserved bit of WINDOW_UPDATE increment, GOAWAY last stream and PUSH_PROMISE id.
    let buf = raw(0x8, 0, 0, &[0x80, 0, 0, 1]);
    let (f, _) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert_eq!(
        f,
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: 1
        })
    );
    let buf = raw(0x7, 0, 0, &[0x80, 0, 0, 3, 0, 0, 0, 0]);
    let (f, _) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert!(matches!(f, Frame::GoAway(g) if g.last_stream_id == 3));
    let buf = raw(0x5, 0x4, 1, &[0x80, 0, 0, 2]);
    let (f, _) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert!(matches!(f, Frame::PushPromise(p) if p.promised_stream_id == 2));
}

#[test]
fn frame_header_parses_and_encodes() {
    let h = FrameHeader {
        length: 0x12_3456,
        kind: FrameKind::Headers,
        flags: Flags(0x25),
        stream_id: 77,
    };
    let bytes = h.to_bytes();
    assert_eq!(bytes, [0x12, 0x34, 0x56, 1, 0x25, 0, 0, 0, 77]);
    assert_eq!(FrameHeader::parse(&bytes), Some(h));
    assert_eq!(FrameHeader::parse(&bytes[..8]), None);
    assert_eq!(h.frame_len(), 9 + 0x12_3456);
    let f = Flags::END_STREAM | Flags::PADDED;
    assert!(f.contains(Flags::END_STREAM) && !f.contains(Flags::PRIORITY));
    let mut g = Flags::EMPTY;
    g |= Flags::PRIORITY;
    assert_eq!(g.bits(), 0x20);
}

#[test]
fn headers_encode_split_uses_continuation() {
    let block: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let h = Headers {
        stream_id: 5,
        fragment: &block,
        end_stream: true,
        end_headers: false, // ignored by encode_split
        priority: Some(PrioritySpec {
            dependency: 1,
            exclusive: false,
            weight: 7,
        }),
        pad_len: Some(10),
    };
    let mut buf = Vec::new();
    let n = h.encode_split(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap();
    assert_eq!(n, 3);
    let mut d = FrameDecoder::new();
    let mut rest = &buf[..];
    let mut got = Vec::new();
    let mut kinds = Vec::new();
    while let Some((f, used)) = d.decode(rest).unwrap() {
        assert!(f.payload_len() <= DEFAULT_MAX_FRAME_SIZE as usize);
        match f {
            Frame::Headers(h) => {
                assert!(h.end_stream && !h.end_headers && h.pad_len == Some(10));
                assert_eq!(f.payload_len(), DEFAULT_MAX_FRAME_SIZE as usize);
                got.extend_from_slice(h.fragment);
            }
            Frame::Continuation(c) => {
                assert_eq!(c.stream_id, 5);
                got.extend_from_slice(c.fragment);
            }
            other => panic!("{other:?}"),
        }
        kinds.push((f.kind(), f.flags()));
        rest = &rest[used..];
    }
    assert_eq!(got, block);
    assert_eq!(d.open_header_block(), None);
    assert_eq!(kinds[2], (FrameKind::Continuation, Flags::END_HEADERS));
    assert_eq!(kinds[1], (FrameKind::Continuation, Flags::EMPTY));

    // A small block fits in one HEADERS frame with END_HEADERS.
    let mut buf = Vec::new();
    let small = Headers {
        fragment: BLOCK,
        pad_len: None,
        priority: None,
        ..h
    };
    assert_eq!(
        small
            .encode_split(&mut buf, DEFAULT_MAX_FRAME_SIZE)
            .unwrap(),
        1
    );
    let (f, _) = decode_frame(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert_eq!(
        f,
        Frame::Headers(Headers {
            end_headers: true,
            ..small
        })
    );
    // Exactly one frame's worth, and one byte more.
    for (len, frames) in [(16_384, 1), (16_385, 2), (32_768, 2), (32_769, 3), (0, 1)] {
        let block = vec![1u8; len];
        let mut buf = Vec::new();
        let h = Headers {
            fragment: &block,
            ..small
        };
        assert_eq!(
            h.encode_split(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap(),
            frames,
            "{len}"
        );
        assert_eq!(decode_all_debug(&buf).len(), frames);
    }
}

#[test]
fn push_promise_encode_split() {
    let block = vec![9u8; 20_000];
    let p = PushPromise {
        stream_id: 1,
        promised_stream_id: 4,
        fragment: &block,
        end_headers: false,
        pad_len: Some(1),
    };
    let mut buf = Vec::new();
    assert_eq!(p.encode_split(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap(), 2);
    let mut d = FrameDecoder::new();
    let (f, used) = d.decode(&buf).unwrap().unwrap();
    let Frame::PushPromise(first) = f else {
        panic!("{f:?}")
    };
    assert_eq!(first.fragment.len(), 16_384 - 4 - 2);
    assert!(!first.end_headers);
    assert_eq!(d.open_header_block(), Some(1));
    let (f, used2) = d.decode(&buf[used..]).unwrap().unwrap();
    let Frame::Continuation(c) = f else {
        panic!("{f:?}")
    };
    assert!(c.end_headers);
    assert_eq!(first.fragment.len() + c.fragment.len(), block.len());
    assert_eq!(used + used2, buf.len());
}

#[test]
fn data_encode_split_and_split_data() {
    let body: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    for pad_len in [None, Some(0), Some(200)] {
        for end_stream in BOOLS {
            let d = Data {
                stream_id: 3,
                data: &body,
                end_stream,
                pad_len,
            };
            let mut buf = Vec::new();
            let n = d.encode_split(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap();
            let chunk = 16_384 - pad_len.map_or(0, |p| p as usize + 1);
            assert_eq!(n, body.len().div_ceil(chunk));
            let mut rest = &buf[..];
            let mut got = Vec::new();
            let mut dec = FrameDecoder::new();
            let mut ends = Vec::new();
            while let Some((f, used)) = dec.decode(rest).unwrap() {
                let Frame::Data(x) = f else { panic!("{f:?}") };
                assert!(f.payload_len() <= 16_384);
                assert_eq!(x.pad_len, pad_len);
                got.extend_from_slice(x.data);
                ends.push(x.end_stream);
                rest = &rest[used..];
            }
            assert_eq!(got, body);
            assert_eq!(ends.len(), n);
            assert_eq!(ends.iter().filter(|e| **e).count(), end_stream as usize);
            assert_eq!(*ends.last().unwrap(), end_stream);
        }
    }
    // Zero-copy variant: same bytes as encode_split without padding.
    let mut expected = Vec::new();
    Data {
        stream_id: 3,
        data: &body,
        end_stream: true,
        pad_len: None,
    }
    .encode_split(&mut expected, 20_000)
    .unwrap();
    let mut joined = Vec::new();
    let mut count = 0;
    for (header, payload) in split_data(3, &body, true, 20_000).unwrap() {
        joined.extend_from_slice(&header);
        joined.extend_from_slice(payload);
        count += 1;
    }
    assert_eq!(count, 3);
    assert_eq!(joined, expected);
    // Empty data: one empty frame carrying END_STREAM.
    let frames: Vec<_> = split_data(1, b"", true, 16_384).unwrap().collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0, [0, 0, 0, 0, 1, 0, 0, 0, 1]);
    let mut buf = Vec::new();
    assert_eq!(
        Data {
            stream_id: 1,
            data: b"",
            end_stream: true,
            pad_len: None
        }
        .encode_split(&mut buf, 16_384),
        Ok(1)
    );
    assert_eq!(buf, frames[0].0);
}

#[test]
fn encoders_reject_invalid_frames_and_write_nothing() {
    let mut buf = vec![0xee];
    let data = |stream_id| Data {
        stream_id,
        data: b"x",
        end_stream: false,
        pad_len: None,
    };
    assert_eq!(data(0).encode(&mut buf), Err(EncodeError::StreamIdRequired));
    assert_eq!(
        data(1 << 31).encode(&mut buf),
        Err(EncodeError::StreamIdOutOfRange(1 << 31))
    );
    assert_eq!(
        data(1).encode_split(&mut buf, 100),
        Err(EncodeError::InvalidMaxFrameSize(100))
    );
    assert_eq!(
        data(1).encode_split(&mut buf, 1 << 24),
        Err(EncodeError::InvalidMaxFrameSize(1 << 24))
    );
    assert!(split_data(0, b"", true, 16_384).is_err());
    let big = vec![0u8; 1 << 24];
    assert_eq!(
        Data {
            stream_id: 1,
            data: &big,
            end_stream: false,
            pad_len: None
        }
        .encode(&mut buf),
        Err(EncodeError::FrameTooLarge {
            len: 1 << 24,
            max: MAX_MAX_FRAME_SIZE
        })
    );
    let h = Headers {
        stream_id: 3,
        fragment: b"",
        end_stream: false,
        end_headers: true,
        priority: Some(PrioritySpec {
            dependency: 3,
            exclusive: false,
            weight: 0,
        }),
        pad_len: None,
    };
    assert_eq!(h.encode(&mut buf), Err(EncodeError::SelfDependency));
    assert_eq!(
        h.encode_split(&mut buf, 16_384),
        Err(EncodeError::SelfDependency)
    );
    let p = Priority {
        stream_id: 3,
        spec: PrioritySpec {
            dependency: 3,
            exclusive: false,
            weight: 0,
        },
    };
    assert_eq!(p.encode(&mut buf), Err(EncodeError::SelfDependency));
    let p = Priority {
        stream_id: 0,
        spec: PrioritySpec::default(),
    };
    assert_eq!(p.encode(&mut buf), Err(EncodeError::StreamIdRequired));
    for promised in [0, 3, u32::MAX - 1] {
        let pp = PushPromise {
            stream_id: 1,
            promised_stream_id: promised,
            fragment: b"",
            end_headers: true,
            pad_len: None,
        };
        assert_eq!(
            pp.encode(&mut buf),
            Err(EncodeError::InvalidPromisedStreamId(promised))
        );
    }
    for increment in [0, 1 << 31] {
        let w = WindowUpdate {
            stream_id: 0,
            increment,
        };
        assert_eq!(
            w.encode(&mut buf),
            Err(EncodeError::InvalidWindowIncrement(increment))
        );
    }
    assert_eq!(
        RstStream {
            stream_id: 0,
            error_code: ErrorCode::Cancel
        }
        .encode(&mut buf),
        Err(EncodeError::StreamIdRequired)
    );
    assert_eq!(
        Continuation {
            stream_id: 0,
            fragment: b"",
            end_headers: true
        }
        .encode(&mut buf),
        Err(EncodeError::StreamIdRequired)
    );
    let g = GoAway {
        last_stream_id: u32::MAX,
        error_code: ErrorCode::NoError,
        debug_data: b"",
    };
    assert_eq!(
        g.encode(&mut buf),
        Err(EncodeError::StreamIdOutOfRange(u32::MAX))
    );
    for (id, value) in [
        (SettingId::EnablePush, 2),
        (SettingId::InitialWindowSize, 1 << 31),
        (SettingId::MaxFrameSize, 100),
    ] {
        assert_eq!(
            encode_settings(
                &mut buf,
                &[
                    Setting::new(SettingId::HeaderTableSize, 0),
                    Setting::new(id, value)
                ]
            ),
            Err(EncodeError::InvalidSetting {
                id: id.as_u16(),
                value
            })
        );
    }
    let s = Settings {
        max_frame_size: 5,
        ..Settings::default()
    };
    assert!(s.encode(&mut buf).is_err());
    assert!(s.encode_payload(&mut buf).is_err());
    assert_eq!(buf, [0xee], "nothing written on error");
    assert!(EncodeError::SelfDependency.to_string().contains("itself"));
}

#[test]
fn settings_defaults_apply_diff_encode() {
    let d = Settings::default();
    assert_eq!(d, Settings::DEFAULT);
    assert_eq!(d.header_table_size, 4096);
    assert!(d.enable_push);
    assert_eq!(d.max_concurrent_streams, None);
    assert_eq!(d.initial_window_size, 65_535);
    assert_eq!(d.max_frame_size, 16_384);
    assert_eq!(d.max_header_list_size, None);
    assert!(!d.enable_connect_protocol && !d.no_rfc7540_priorities);
    assert!(d.diff(&Settings::DEFAULT).is_empty());
    assert!(d.validate().is_ok());

    // Default settings encode as an empty SETTINGS frame (the preface's, §3.4).
    let mut buf = Vec::new();
    d.encode(&mut buf).unwrap();
    assert_eq!(buf, [0, 0, 0, 4, 0, 0, 0, 0, 0]);

    // Apply a frame: entries in order, later ones win, unknown ignored.
    let payload = [
        0, 1, 0, 1, 0, 0, // HEADER_TABLE_SIZE 65536
        0, 4, 0, 0, 0, 1, // INITIAL_WINDOW_SIZE 1
        0, 4, 0, 1, 0, 0, // INITIAL_WINDOW_SIZE 65536 (wins)
        0, 3, 0, 0, 0, 10, // MAX_CONCURRENT_STREAMS 10
        0x7f, 0x7f, 1, 2, 3, 4, // unknown
        0, 8, 0, 0, 0, 1, // ENABLE_CONNECT_PROTOCOL
    ];
    let frame = SettingsFrame::parse(false, &payload).unwrap();
    let mut peer = Settings::default();
    let before = peer;
    peer.apply(&frame).unwrap();
    assert_eq!(peer.header_table_size, 65_536);
    assert_eq!(peer.initial_window_size, 65_536);
    assert_eq!(peer.max_concurrent_streams, Some(10));
    assert!(peer.enable_connect_protocol);
    let diff = peer.diff(&before);
    assert_eq!(
        diff.as_slice(),
        [
            Setting::new(SettingId::HeaderTableSize, 65_536),
            Setting::new(SettingId::MaxConcurrentStreams, 10),
            Setting::new(SettingId::InitialWindowSize, 65_536),
            Setting::new(SettingId::EnableConnectProtocol, 1),
        ]
    );
    assert_eq!(diff.len(), 4);
    assert_eq!(diff.get(SettingId::InitialWindowSize), Some(65_536));
    assert_eq!(diff.get(SettingId::MaxFrameSize), None);
    assert_eq!((&diff).into_iter().count(), 4);

    // An ACK changes nothing.
    let snapshot = peer;
    peer.apply(&SettingsFrame::ACK).unwrap();
    assert_eq!(peer, snapshot);

    // encode/encode_diff produce frames that reproduce the state when applied.
    let mut buf = Vec::new();
    peer.encode(&mut buf).unwrap();
    let (f, _) = decode_frame(&buf, 16_384).unwrap().unwrap();
    let Frame::Settings(sf) = f else { panic!() };
    let mut rebuilt = Settings::default();
    rebuilt.apply(&sf).unwrap();
    assert_eq!(rebuilt, peer);
    let mut buf = Vec::new();
    let mut next = peer;
    next.max_frame_size = 1 << 20;
    next.encode_diff(&peer, &mut buf).unwrap();
    assert_eq!(buf.len(), 9 + 6);

    // Unlimited in self, limited in other: u32::MAX on the wire.
    let limited = Settings {
        max_header_list_size: Some(8192),
        ..Settings::default()
    };
    let diff = Settings::default().diff(&limited);
    assert_eq!(
        diff.as_slice(),
        [Setting::new(SettingId::MaxHeaderListSize, u32::MAX)]
    );

    // h2c HTTP2-Settings payload.
    let mut payload = Vec::new();
    peer.encode_payload(&mut payload).unwrap();
    assert_eq!(payload.len(), 4 * 6);
    assert_eq!(Settings::from_payload(&payload).unwrap(), peer);
    assert!(Settings::from_payload(&payload[..5]).is_err());

    // set/get/validate.
    let mut s = Settings::default();
    s.set(Setting::new(SettingId::EnablePush, 0)).unwrap();
    assert_eq!(s.get(SettingId::EnablePush), Some(0));
    s.set(Setting::new(SettingId::NoRfc7540Priorities, 1))
        .unwrap();
    assert!(s.no_rfc7540_priorities);
    s.set(Setting::new(SettingId::MaxHeaderListSize, 16_384))
        .unwrap();
    assert_eq!(s.get(SettingId::MaxHeaderListSize), Some(16_384));
    assert_eq!(s.get(SettingId::Unknown(99)), None);
    s.set(Setting::new(SettingId::Unknown(99), 5)).unwrap();
    let err = s
        .set(Setting::new(SettingId::InitialWindowSize, 1 << 31))
        .unwrap_err();
    assert_eq!(
        (err.code, err.scope),
        (ErrorCode::FlowControlError, Scope::Connection)
    );
    assert_eq!(s.initial_window_size, 65_535, "rejected value not applied");
    s.initial_window_size = u32::MAX;
    assert!(s.validate().is_err());
    for id in SettingId::KNOWN {
        assert_eq!(SettingId::from_u16(id.as_u16()), id);
    }
    assert_eq!(SettingId::from_u16(7), SettingId::Unknown(7));
}
