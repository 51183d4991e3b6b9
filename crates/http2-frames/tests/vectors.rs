//! The shared http2-frame-test-case vectors (../shared/http2-frame-test-case): every case
//! must pass. Normal cases decode to exactly the described fields and re-encode to the
//! wire bytes (with padding as zeros — RFC 9113 §6.1 says padding MUST be zero when sent,
//! while the vectors carry text in it); error cases fail with one of the listed codes.

use serde_json::Value;
use shockwave_http2_frames::*;
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/http2-frame-test-case");
    assert!(
        dir.join("README.md").is_file(),
        "http2-frame-test-case vectors missing: expected them at {} \
         (a checkout of https://github.com/http2jp/http2-frame-test-case)",
        dir.display()
    );
    dir
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn bytes_of(v: &Value) -> &[u8] {
    v.as_str().expect("string field").as_bytes()
}

fn num(v: &Value) -> u64 {
    v.as_u64().expect("number field")
}

/// The decoded frame's padding bytes, taken from the wire (the frame keeps only the Pad
/// Length; padding carries no meaning).
fn padding(wire: &[u8], pad_len: Option<u8>) -> Option<&[u8]> {
    pad_len.map(|p| &wire[wire.len() - p as usize..])
}

fn check_payload(
    name: &str,
    frame: &Frame<'_>,
    wire: &[u8],
    payload: &serde_json::Map<String, Value>,
) {
    for (key, want) in payload {
        let ok = match (frame, key.as_str()) {
            (Frame::Data(d), "data") => d.data == bytes_of(want),
            (Frame::Data(d), "padding_length") => want.as_u64() == d.pad_len.map(u64::from),
            (Frame::Data(d), "padding") => {
                want.as_str().map(str::as_bytes) == padding(wire, d.pad_len)
            }
            (Frame::Headers(h), "header_block_fragment") => h.fragment == bytes_of(want),
            (Frame::Headers(h), "padding_length") => want.as_u64() == h.pad_len.map(u64::from),
            (Frame::Headers(h), "padding") => {
                want.as_str().map(str::as_bytes) == padding(wire, h.pad_len)
            }
            (Frame::Headers(h), "stream_dependency") => {
                want.as_u64() == h.priority.map(|p| p.dependency.into())
            }
            (Frame::Headers(h), "weight") => {
                want.as_u64() == h.priority.map(|p| p.weight_value().into())
            }
            (Frame::Headers(h), "exclusive") => want.as_bool() == h.priority.map(|p| p.exclusive),
            (Frame::Priority(p), "stream_dependency") => num(want) == u64::from(p.spec.dependency),
            (Frame::Priority(p), "weight") => num(want) == u64::from(p.spec.weight_value()),
            (Frame::Priority(p), "exclusive") => want.as_bool() == Some(p.spec.exclusive),
            // The PRIORITY vector lists padding fields as null: PRIORITY has no padding.
            (Frame::Priority(_), "padding_length" | "padding") => want.is_null(),
            (Frame::RstStream(r), "error_code") => num(want) == u64::from(r.error_code.as_u32()),
            (Frame::Settings(s), "settings") => {
                let want: Vec<Setting> = want
                    .as_array()
                    .expect("settings list")
                    .iter()
                    .map(|pair| {
                        let id = u16::try_from(num(&pair[0])).expect("u16 id");
                        let value = u32::try_from(num(&pair[1])).expect("u32 value");
                        Setting::new(SettingId::from_u16(id), value)
                    })
                    .collect();
                s.iter().collect::<Vec<_>>() == want
            }
            (Frame::PushPromise(p), "header_block_fragment") => p.fragment == bytes_of(want),
            (Frame::PushPromise(p), "promised_stream_id") => {
                num(want) == u64::from(p.promised_stream_id)
            }
            (Frame::PushPromise(p), "padding_length") => want.as_u64() == p.pad_len.map(u64::from),
            (Frame::PushPromise(p), "padding") => {
                want.as_str().map(str::as_bytes) == padding(wire, p.pad_len)
            }
            (Frame::Ping(p), "opaque_data") => p.data == bytes_of(want),
            (Frame::GoAway(g), "last_stream_id") => num(want) == u64::from(g.last_stream_id),
            (Frame::GoAway(g), "error_code") => num(want) == u64::from(g.error_code.as_u32()),
            (Frame::GoAway(g), "additional_debug_data") => g.debug_data == bytes_of(want),
            (Frame::WindowUpdate(w), "window_size_increment") => {
                num(want) == u64::from(w.increment)
            }
            (Frame::Continuation(c), "header_block_fragment") => c.fragment == bytes_of(want),
            (f, k) => panic!("{name}: field {k:?} not checked for {:?}", f.kind()),
        };
        assert!(
            ok,
            "{name}: field {key:?} should be {want}, frame is {frame:?}"
        );
    }
}

fn run_normal(name: &str, wire: &[u8], expected: &Value) {
    let header = FrameHeader::parse(wire).expect("header");
    let mut decoder = FrameDecoder::new();
    // A CONTINUATION is only valid inside a field block: open one on the same stream.
    if header.kind == FrameKind::Continuation {
        let mut opener = Vec::new();
        Headers {
            stream_id: header.stream_id,
            fragment: b"",
            end_stream: false,
            end_headers: false,
            priority: None,
            pad_len: None,
        }
        .encode(&mut opener)
        .unwrap();
        decoder.decode(&opener).unwrap().unwrap();
    }
    let (frame, used) = decoder
        .decode(wire)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .unwrap_or_else(|| panic!("{name}: incomplete"));
    assert_eq!(used, wire.len(), "{name}");
    // The stateless decoder agrees.
    assert_eq!(
        decode_frame(wire, DEFAULT_MAX_FRAME_SIZE)
            .unwrap()
            .unwrap()
            .0,
        frame,
        "{name}"
    );

    assert_eq!(
        num(&expected["length"]),
        u64::from(header.length),
        "{name}: length"
    );
    assert_eq!(
        num(&expected["type"]),
        u64::from(frame.kind().as_u8()),
        "{name}: type"
    );
    assert_eq!(
        num(&expected["flags"]),
        u64::from(frame.flags().bits()),
        "{name}: flags"
    );
    assert_eq!(
        num(&expected["stream_identifier"]),
        u64::from(frame.stream_id()),
        "{name}: stream"
    );
    let payload = expected["frame_payload"]
        .as_object()
        .expect("frame_payload object");
    assert!(!payload.is_empty(), "{name}: no payload fields");
    check_payload(name, &frame, wire, payload);

    // Step 2 of the vectors' algorithm: encode the decoded frame again.
    let mut encoded = Vec::new();
    frame.encode(&mut encoded).unwrap();
    let pad_len = match frame {
        Frame::Data(d) => d.pad_len,
        Frame::Headers(h) => h.pad_len,
        Frame::PushPromise(p) => p.pad_len,
        _ => None,
    };
    let mut want = wire.to_vec();
    let n = want.len();
    want[n - pad_len.unwrap_or(0) as usize..].fill(0);
    assert_eq!(encoded, want, "{name}: re-encoded bytes");
}

fn run_error(name: &str, wire: &[u8], codes: &Value) {
    let allowed: Vec<ErrorCode> = codes
        .as_array()
        .expect("error list")
        .iter()
        .map(|c| ErrorCode::from_u32(u32::try_from(num(c)).expect("u32 code")))
        .collect();
    assert!(!allowed.is_empty(), "{name}: empty error list");
    let err = match FrameDecoder::new().decode(wire) {
        Err(e) => e,
        Ok(other) => panic!("{name}: expected one of {allowed:?}, got {other:?}"),
    };
    assert!(
        allowed.contains(&err.code),
        "{name}: got {err}, expected one of {allowed:?}"
    );
    let stateless = decode_frame(wire, DEFAULT_MAX_FRAME_SIZE).unwrap_err();
    assert_eq!(stateless.code, err.code, "{name}");
}

#[test]
fn every_shared_vector_passes() {
    let dir = vectors_dir();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read vectors dir") {
        let sub = entry.expect("dir entry").path();
        if sub.is_dir() && !sub.file_name().unwrap().to_string_lossy().starts_with('.') {
            for f in std::fs::read_dir(&sub).expect("read subdir") {
                let f = f.expect("entry").path();
                if f.extension().is_some_and(|e| e == "json") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    let (mut normal, mut errors) = (0, 0);
    for path in &files {
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).expect("read vector");
        let case: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let wire = hex(case["wire"].as_str().expect("wire"));
        match (&case["frame"], &case["error"]) {
            (frame, Value::Null) if frame.is_object() => {
                run_normal(&name, &wire, frame);
                normal += 1;
            }
            (Value::Null, codes) if codes.is_array() => {
                run_error(&name, &wire, codes);
                errors += 1;
            }
            _ => panic!("{name}: neither a normal nor an error case"),
        }
    }
    // The checkout holds 12 normal and 22 error cases; none may be skipped.
    assert_eq!(normal + errors, files.len());
    assert!(
        normal >= 12 && errors >= 22,
        "only {normal} normal and {errors} error cases found"
    );
}
