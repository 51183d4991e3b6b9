//! Property tests: random input never panics any decoder or state machine, and what we
//! encode decodes back to the same thing however the bytes are split.

use proptest::prelude::*;
use shockwave_arena::Arena;
use shockwave_quic::control::ControlStream;
use shockwave_quic::frame::{self, Frame, FrameDecoder, FrameEvent};
use shockwave_quic::qpack::{Decoder, DecoderConfig, Encoder};
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::stream::{Role, UniStreamHeaderReader};
use shockwave_quic::varint;

/// Splits `data` at the given (sorted, deduplicated) cut points.
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(&data[last..p]);
        last = p;
    }
    out.push(&data[last..]);
    out
}

fn drain_frames(dec: &mut FrameDecoder, mut input: &[u8]) -> Result<(), shockwave_quic::Error> {
    loop {
        let (n, ev) = dec.decode(input)?;
        assert!(n <= input.len());
        input = &input[n..];
        if ev.is_none() {
            assert!(input.is_empty(), "None must mean all input was consumed");
            return Ok(());
        }
    }
}

fn drain_request(s: &mut RequestStream, mut input: &[u8]) -> Result<(), shockwave_quic::Error> {
    loop {
        let (n, ev) = s.recv(input)?;
        input = &input[n..];
        if ev.is_none() {
            assert!(input.is_empty());
            return Ok(());
        }
    }
}

/// Bytes that look like frames more often than uniform noise does.
fn frame_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            (0u8..14, 0u8..20, prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(t, l, p)| {
                let mut v = vec![t, l];
                v.extend(p);
                v
            }),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn field_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b":path".to_vec()),
        Just(b"content-type".to_vec()),
        Just(b"cookie".to_vec()),
        Just(b"authorization".to_vec()),
        "[a-z0-9!#$%&'*+.^_`|~-]{1,30}".prop_map(String::into_bytes),
    ]
}

fn field_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"/".to_vec()),
        Just(b"text/plain".to_vec()),
        prop::collection::vec(any::<u8>(), 0..200),
        "[ -~]{0,100}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn varint_round_trip(v in 0u64..=varint::MAX, junk in prop::collection::vec(any::<u8>(), 0..4)) {
        let mut out = Vec::new();
        varint::encode(v, &mut out).unwrap();
        let len = out.len();
        out.extend(junk);
        prop_assert_eq!(varint::decode(&out), Ok((v, len)));
    }

    #[test]
    fn random_bytes_never_panic_the_frame_layer(data in frame_soup(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let parts = pieces(&data, &cuts);
        let mut dec = FrameDecoder::default();
        if parts.iter().all(|p| drain_frames(&mut dec, p).is_ok()) {
            let _ = dec.finish();
        }
        for role in [Role::Client, Role::Server] {
            let mut s = RequestStream::new(role);
            s.set_local_max_push_id(Some(3));
            if parts.iter().all(|p| drain_request(&mut s, p).is_ok()) {
                let _ = s.finish();
            }
            let mut c = ControlStream::new(role);
            let _ = parts.iter().try_for_each(|p| c.recv_all(p, |_| {}));
            // The same bytes after a valid SETTINGS frame reach the later states.
            let mut c = ControlStream::new(role);
            let mut with_settings = vec![0x04, 0x00];
            with_settings.extend_from_slice(&data);
            let _ = c.recv_all(&with_settings, |_| {});
        }
        let mut r = UniStreamHeaderReader::new();
        let mut input = &data[..];
        loop {
            let (n, kind) = r.decode(input);
            input = &input[n..];
            if kind.is_some() || input.is_empty() {
                break;
            }
        }
    }

    #[test]
    fn random_bytes_never_panic_qpack(
        encoder_stream in prop::collection::vec(any::<u8>(), 0..200),
        section in prop::collection::vec(any::<u8>(), 0..200),
        decoder_stream in prop::collection::vec(any::<u8>(), 0..50),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
        capacity in prop_oneof![Just(0u64), Just(100), Just(4096)],
    ) {
        let mut d = Decoder::new(DecoderConfig { max_table_capacity: capacity, max_blocked_streams: 2, max_field_section_size: 4096, max_fields: 100 });
        // Give the random encoder stream a real table to work on sometimes.
        if capacity >= 100 {
            d.feed_encoder_stream(&[0x3f, 0x45, 0x40 | 3, b'a', b'b', b'c', 1, b'x']).unwrap();
        }
        let _ = pieces(&encoder_stream, &cuts).into_iter().try_for_each(|p| d.feed_encoder_stream(p));
        let arena = Arena::new();
        let _ = d.decode_section(0, &section, &arena);
        let _ = d.decode_section_with(4, &section, |_, _| {});
        let _ = d.decode_section_with(8, &section, |_, _| {});
        d.cancel_stream(4);
        while d.next_unblocked().is_some() {}
        let mut out = Vec::new();
        d.take_decoder_stream(&mut out);
        let mut e = Encoder::new();
        let _ = pieces(&decoder_stream, &cuts).into_iter().try_for_each(|p| e.feed_decoder_stream(p));
    }

    #[test]
    fn qpack_round_trip(fields in prop::collection::vec((field_name(), field_value()), 0..30)) {
        let mut block = Vec::new();
        let size = Encoder::new().encode_section(fields.iter().map(|(n, v)| (&n[..], &v[..])), &mut block);
        let expected: u64 = fields.iter().map(|(n, v)| (n.len() + v.len() + 32) as u64).sum();
        prop_assert_eq!(size, expected);
        let mut d = Decoder::new(DecoderConfig { max_field_section_size: 1 << 20, ..DecoderConfig::default() });
        let arena = Arena::new();
        let list = d.decode_section(0, &block, &arena).unwrap().done().unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        prop_assert_eq!(&got, &fields);
        let mut via_callback = Vec::new();
        d.decode_section_with(0, &block, |n, v| via_callback.push((n.to_vec(), v.to_vec()))).unwrap();
        prop_assert_eq!(&via_callback, &fields);
    }

    #[test]
    fn frames_round_trip_in_any_pieces(
        body in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..5),
        section in prop::collection::vec(any::<u8>(), 0..100),
        goaway in 0u64..=varint::MAX,
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = Vec::new();
        frame::encode_headers(&section, &mut wire).unwrap();
        for chunk in &body {
            frame::encode_data(chunk, &mut wire).unwrap();
            frame::encode_reserved(chunk.len() as u64, &chunk[..chunk.len().min(3)], &mut wire).unwrap();
        }
        frame::encode_goaway(goaway, &mut wire).unwrap();
        let mut dec = FrameDecoder::default();
        let mut got_section = None;
        let mut got_body = Vec::new();
        let mut got_goaway = None;
        for piece in pieces(&wire, &cuts) {
            let mut input = piece;
            loop {
                let (n, ev) = dec.decode(input).unwrap();
                input = &input[n..];
                match ev {
                    None => break,
                    Some(FrameEvent::Frame(Frame::Headers(h))) => got_section = Some(h.to_vec()),
                    Some(FrameEvent::Frame(Frame::GoAway(id))) => got_goaway = Some(id),
                    Some(FrameEvent::Data(d)) => got_body.extend_from_slice(d),
                    Some(FrameEvent::Header(_)) => {}
                    Some(other) => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }
        dec.finish().unwrap();
        prop_assert_eq!(got_section, Some(section));
        prop_assert_eq!(got_body, body.concat());
        prop_assert_eq!(got_goaway, Some(goaway));

        // The same wire minus the GOAWAY is a valid request stream.
        let cut = wire.len() - 2 - varint::encoded_len(goaway).unwrap();
        let mut s = RequestStream::new(Role::Server);
        let mut n_data = 0;
        for piece in pieces(&wire[..cut], &cuts) {
            let mut input = piece;
            loop {
                let (n, ev) = s.recv(input).unwrap();
                input = &input[n..];
                match ev {
                    None => break,
                    Some(RequestEvent::Data(d)) => n_data += d.len(),
                    Some(_) => {}
                }
            }
        }
        s.finish().unwrap();
        prop_assert_eq!(n_data, body.iter().map(Vec::len).sum::<usize>());
    }
}
