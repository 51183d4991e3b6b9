//! One HTTP/3 request stream the way the server (or client) driver reads it (RFC 9114
//! §4.1): `RequestStream` frames, QPACK decoding of the header and trailer sections
//! (static table and literals: a zero-capacity decoder), message validation, the
//! `content-length` check and the end-of-stream verdict.
//!
//! Input: `[config: u8][n: u8][n split sizes][stream bytes...]`. `config & 1`: read as a
//! server (requests) or a client (responses, interim 1xx, PUSH_PROMISE up to push ID
//! `config >> 4` when `config & 2`). `config & 4`: tiny frame limits.
//!
//! Checked: no panic; whole and split input give the same events (DATA concatenated),
//! the same error and the same `finish` verdict; content received never passes a
//! declared content-length; a server connection's `validate_request` agrees with
//! `message::validate_request` plus the `:protocol` rules of RFC 9220 §3.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_fuzz::Splitter;
use shockwave_quic::connection::{Config, Connection};
use shockwave_quic::frame::FrameLimits;
use shockwave_quic::message;
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig};
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::stream::Role;

#[derive(Debug, PartialEq)]
enum Ev {
    Section(String),
    Data(Vec<u8>),
    Fail(String),
    Finish(String),
}

struct Reader {
    role: Role,
    stream: RequestStream,
    qpack: Decoder,
    content_length: Option<u64>,
}

impl Reader {
    fn new(config: u8) -> Self {
        let role = if config & 1 == 0 {
            Role::Server
        } else {
            Role::Client
        };
        let qcfg = DecoderConfig {
            max_table_capacity: 0,
            max_blocked_streams: 0,
            max_field_section_size: if config & 4 != 0 { 64 } else { 16 * 1024 },
            max_fields: if config & 4 != 0 { 4 } else { 100 },
        };
        let limits = if config & 4 != 0 {
            FrameLimits {
                max_field_section_len: 32,
                max_settings_len: 8,
            }
        } else {
            qcfg.frame_limits()
        };
        let mut stream = RequestStream::with_limits(role, limits);
        if config & 2 != 0 {
            stream.set_local_max_push_id(Some(u64::from(config >> 4)));
        }
        Reader {
            role,
            stream,
            qpack: Decoder::new(qcfg),
            content_length: None,
        }
    }

    /// Decodes and validates a header or trailer section: a description of it, or the
    /// error that ends the stream.
    fn section(&mut self, section: &[u8], trailers: bool) -> Result<String, String> {
        let arena = Arena::new();
        let fields = match self.qpack.decode_section(0, section, &arena) {
            Ok(Decoded::Done(f)) => f,
            Ok(Decoded::Blocked) => panic!("a zero-capacity decoder never blocks"),
            Err(e) => return Err(format!("qpack {e:?}")),
        };
        if trailers {
            message::validate_trailers(&fields).map_err(|e| format!("{e:?}"))?;
            return Ok(format!("trailers {}", fields.len()));
        }
        let (desc, cl, interim) = match self.role {
            Role::Server => {
                let r = message::validate_request(&fields).map_err(|e| format!("{e:?}"))?;
                // The connection's check adds the `:protocol` rules (RFC 9220 §3): only
                // when SETTINGS_ENABLE_CONNECT_PROTOCOL was advertised, only a token.
                for enabled in [false, true] {
                    let config = Config {
                        enable_connect_protocol: enabled,
                        ..Config::default()
                    };
                    let conn = Connection::new(Role::Server, config);
                    let checked = conn.validate_request(&fields);
                    match r.protocol {
                        None => assert_eq!(checked.ok(), Some(r)),
                        Some(_) if !enabled => assert!(checked.is_err()),
                        Some(p) => {
                            let token = !p.is_empty()
                                && p.iter().all(|&b| {
                                    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
                                });
                            assert_eq!(checked.is_ok(), token);
                        }
                    }
                }
                (format!("{r:?}"), r.content_length, false)
            }
            Role::Client => {
                let r = message::validate_response(&fields).map_err(|e| format!("{e:?}"))?;
                (
                    format!("{r:?}"),
                    r.content_length,
                    (100..200).contains(&r.status),
                )
            }
        };
        if interim {
            self.stream
                .interim_response()
                .map_err(|e| format!("{e:?}"))?;
        } else if let Some(cl) = cl {
            self.content_length = Some(cl);
            self.stream
                .set_content_length(cl)
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(desc)
    }

    /// Feeds one read; false once the stream failed.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<Ev>) -> bool {
        loop {
            let (n, ev) = match self.stream.recv(input) {
                Ok((n, Some(ev))) => (n, ev),
                Ok((n, None)) => {
                    assert_eq!(n, input.len(), "None consumes all the input");
                    return true;
                }
                Err(e) => {
                    out.push(Ev::Fail(format!("{e:?}")));
                    return false;
                }
            };
            assert!(n <= input.len());
            // Copy what the event borrows from the stream so the stream can be used again.
            let (kind, bytes) = match ev {
                RequestEvent::Headers(s) => (0, s.to_vec()),
                RequestEvent::Data(d) => (1, d.to_vec()),
                RequestEvent::Trailers(s) => (2, s.to_vec()),
                RequestEvent::PushPromise {
                    push_id,
                    field_section,
                } => {
                    out.push(Ev::Section(format!("push {push_id} {field_section:?}")));
                    input = &input[n..];
                    continue;
                }
            };
            input = &input[n..];
            if kind == 1 {
                if let Some(Ev::Data(prev)) = out.last_mut() {
                    prev.extend_from_slice(&bytes);
                } else {
                    out.push(Ev::Data(bytes));
                }
                if let Some(cl) = self.content_length {
                    assert!(self.stream.content_received() <= cl);
                }
                continue;
            }
            match self.section(&bytes, kind == 2) {
                Ok(desc) => out.push(Ev::Section(desc)),
                Err(e) => {
                    out.push(Ev::Fail(e));
                    return false;
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let config = data[0];
    let n = usize::from(data[1]).min(data.len() - 2);
    let (sizes, wire) = data[2..].split_at(n);

    let mut whole = Vec::new();
    let mut r = Reader::new(config);
    if r.feed(wire, &mut whole) {
        whole.push(Ev::Finish(format!("{:?}", r.stream.finish())));
    }

    let mut split = Vec::new();
    let mut r = Reader::new(config);
    let mut splitter = Splitter::new(sizes);
    let (mut pos, mut ok) = (0, true);
    while pos < wire.len() && ok {
        let len = splitter.next_len(wire.len() - pos);
        ok = r.feed(&wire[pos..pos + len], &mut split);
        pos += len;
    }
    if ok {
        split.push(Ev::Finish(format!("{:?}", r.stream.finish())));
    }
    // When the stream fails on content past its content-length, how much of the
    // offending DATA frame was passed on before depends on how the bytes arrived (never
    // more than the content-length, checked above): compare the rest exactly.
    let cl_fail = |e: &[Ev]| matches!(e.last(), Some(Ev::Fail(m)) if m.contains("content-length"));
    if cl_fail(&whole) && cl_fail(&split) {
        let (w, s) = (whole.len(), split.len());
        let a = if w >= 2 {
            matches!(whole[w - 2], Ev::Data(_)).then(|| whole.remove(w - 2))
        } else {
            None
        };
        let b = if s >= 2 {
            matches!(split[s - 2], Ev::Data(_)).then(|| split.remove(s - 2))
        } else {
            None
        };
        if let (Some(Ev::Data(a)), Some(Ev::Data(b))) = (a, b) {
            let n = a.len().min(b.len());
            assert_eq!(a[..n], b[..n]);
        }
    }
    assert_eq!(whole, split);
});
