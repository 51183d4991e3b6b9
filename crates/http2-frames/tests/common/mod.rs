//! Helpers shared by the integration tests.
#![allow(dead_code)]

use shockwave_http2_frames::{
    Continuation, Data, ErrorCode, Frame, FrameDecoder, GoAway, Headers, Ping, Priority,
    PrioritySpec, PushPromise, RstStream, Setting, SettingId, WindowUpdate,
};

/// A raw frame: 9-byte header with the given length field, then `payload`.
pub fn raw_with_len(len: u32, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + payload.len());
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A raw frame whose length field matches the payload.
pub fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    raw_with_len(payload.len() as u32, kind, flags, stream, payload)
}

/// Decodes every frame in `buf` with a fresh decoder; panics on error or trailing bytes.
/// Returns the frames' Debug representations (owned, so they outlive the buffer).
pub fn decode_all_debug(buf: &[u8]) -> Vec<String> {
    let mut d = FrameDecoder::new();
    let mut rest = buf;
    let mut out = Vec::new();
    while let Some((frame, used)) = d.decode(rest).expect("valid frames") {
        out.push(format!("{frame:?}"));
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "{} trailing bytes", rest.len());
    out
}

pub static BLOCK: &[u8] = b"\x82\x86\x84\x41\x0flocalhost:8080";
pub static BODY_1K: [u8; 1024] = [b'x'; 1024];
pub static SETTINGS_PAYLOAD: [u8; 18] = [0, 2, 0, 0, 0, 0, 0, 4, 0, 0x10, 0, 0, 0, 3, 0, 0, 0, 100];

/// A realistic mix of every frame type (valid as a sequence for [`FrameDecoder`]).
pub fn mixed_stream() -> Vec<u8> {
    let mut out = Vec::new();
    shockwave_http2_frames::encode_settings(
        &mut out,
        &[
            Setting::new(SettingId::EnablePush, 0),
            Setting::new(SettingId::InitialWindowSize, 1 << 20),
            Setting::new(SettingId::MaxConcurrentStreams, 100),
            Setting::new(SettingId::Unknown(0xabcd), 7),
        ],
    )
    .unwrap();
    shockwave_http2_frames::encode_settings_ack(&mut out);
    let frames = [
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: 1 << 20,
        }),
        Frame::Headers(Headers {
            stream_id: 1,
            fragment: &BLOCK[..4],
            end_stream: false,
            end_headers: false,
            priority: Some(PrioritySpec {
                dependency: 0,
                exclusive: true,
                weight: 41,
            }),
            pad_len: Some(3),
        }),
        Frame::Continuation(Continuation {
            stream_id: 1,
            fragment: &BLOCK[4..10],
            end_headers: false,
        }),
        Frame::Continuation(Continuation {
            stream_id: 1,
            fragment: &BLOCK[10..],
            end_headers: true,
        }),
        Frame::Data(Data {
            stream_id: 1,
            data: &BODY_1K,
            end_stream: false,
            pad_len: None,
        }),
        Frame::Data(Data {
            stream_id: 1,
            data: b"tail",
            end_stream: true,
            pad_len: Some(5),
        }),
        Frame::Priority(Priority {
            stream_id: 3,
            spec: PrioritySpec {
                dependency: 1,
                exclusive: false,
                weight: 15,
            },
        }),
        Frame::Ping(Ping {
            ack: false,
            data: *b"pingpong",
        }),
        Frame::Ping(Ping {
            ack: true,
            data: *b"pongping",
        }),
        Frame::PushPromise(PushPromise {
            stream_id: 1,
            promised_stream_id: 2,
            fragment: BLOCK,
            end_headers: true,
            pad_len: None,
        }),
        Frame::RstStream(RstStream {
            stream_id: 3,
            error_code: ErrorCode::Cancel,
        }),
        Frame::Data(Data {
            stream_id: 5,
            data: b"",
            end_stream: true,
            pad_len: None,
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 1,
            increment: 4096,
        }),
        Frame::GoAway(GoAway {
            last_stream_id: 5,
            error_code: ErrorCode::NoError,
            debug_data: b"bye",
        }),
    ];
    for f in frames {
        f.encode(&mut out).unwrap();
    }
    // An extension frame type (§5.5), to be surfaced as Unknown.
    out.extend_from_slice(&raw(0xfa, 0xff, 7, b"extension"));
    out
}
