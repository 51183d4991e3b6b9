//! Test helpers for the connection tests: a tiny frame-level peer (our frame codec +
//! HPACK) that writes frames and decodes what the connection writes.
#![allow(dead_code)]

use shockwave_hpack::{Decoder, Encoder};
use shockwave_http2_frames::{
    encode_settings, Continuation, Data, ErrorCode, Frame, FrameDecoder, GoAway, Headers, Ping,
    Priority, PrioritySpec, RstStream, Setting, SettingId, WindowUpdate, PREFACE,
};

/// A frame as seen by the test client, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum F {
    Settings {
        ack: bool,
        entries: Vec<(u16, u32)>,
    },
    Headers {
        id: u32,
        end_stream: bool,
        fields: Vec<(String, String)>,
    },
    Data {
        id: u32,
        data: Vec<u8>,
        end_stream: bool,
    },
    Rst {
        id: u32,
        code: ErrorCode,
    },
    GoAway {
        last: u32,
        code: ErrorCode,
    },
    Window {
        id: u32,
        inc: u32,
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
    Other,
}

impl F {
    pub fn status(&self) -> Option<&str> {
        match self {
            F::Headers { fields, .. } => fields
                .iter()
                .find(|(n, _)| n == ":status")
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

/// Client-side frame builder and server-output parser.
pub struct Client {
    pub enc: Encoder,
    pub dec: Decoder,
    pub frames: FrameDecoder,
    pub out: Vec<u8>,
    pending: Vec<u8>,
    block: Vec<u8>,
    block_meta: Option<(u32, bool)>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Self {
        let mut frames = FrameDecoder::new();
        frames.set_max_frame_size((1 << 24) - 1).ok();
        Client {
            enc: Encoder::new(),
            dec: Decoder::new(),
            frames,
            out: Vec::new(),
            pending: Vec::new(),
            block: Vec::new(),
            block_meta: None,
        }
    }

    /// Preface + SETTINGS with `entries`.
    pub fn preface(&mut self, entries: &[(SettingId, u32)]) -> &mut Self {
        self.out.extend_from_slice(PREFACE);
        self.settings(entries)
    }

    pub fn settings(&mut self, entries: &[(SettingId, u32)]) -> &mut Self {
        let e: Vec<Setting> = entries.iter().map(|(i, v)| Setting::new(*i, *v)).collect();
        encode_settings(&mut self.out, &e).unwrap();
        self
    }

    pub fn settings_ack(&mut self) -> &mut Self {
        shockwave_http2_frames::encode_settings_ack(&mut self.out);
        self
    }

    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        self.enc.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut b,
        );
        b
    }

    pub fn headers(&mut self, id: u32, fields: &[(&str, &str)], end_stream: bool) -> &mut Self {
        let b = self.block(fields);
        self.headers_raw(id, &b, end_stream, true)
    }

    pub fn get(&mut self, id: u32, path: &str) -> &mut Self {
        self.headers(
            id,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "localhost"),
            ],
            true,
        )
    }

    pub fn headers_raw(
        &mut self,
        id: u32,
        block: &[u8],
        end_stream: bool,
        end_headers: bool,
    ) -> &mut Self {
        let h = Headers {
            stream_id: id,
            fragment: block,
            end_stream,
            end_headers,
            priority: None,
            pad_len: None,
        };
        if end_headers && block.len() > 16_384 {
            h.encode_split(&mut self.out, 16_384).unwrap();
        } else {
            h.encode(&mut self.out).unwrap();
        }
        self
    }

    pub fn continuation(&mut self, id: u32, block: &[u8], end_headers: bool) -> &mut Self {
        Continuation {
            stream_id: id,
            fragment: block,
            end_headers,
        }
        .encode(&mut self.out)
        .unwrap();
        self
    }

    pub fn data(&mut self, id: u32, data: &[u8], end_stream: bool) -> &mut Self {
        Data {
            stream_id: id,
            data,
            end_stream,
            pad_len: None,
        }
        .encode(&mut self.out)
        .unwrap();
        self
    }

    pub fn rst(&mut self, id: u32, code: ErrorCode) -> &mut Self {
        RstStream {
            stream_id: id,
            error_code: code,
        }
        .encode(&mut self.out)
        .unwrap();
        self
    }

    pub fn ping(&mut self, data: [u8; 8]) -> &mut Self {
        Ping { ack: false, data }.encode(&mut self.out).unwrap();
        self
    }

    pub fn window(&mut self, id: u32, inc: u32) -> &mut Self {
        WindowUpdate {
            stream_id: id,
            increment: inc,
        }
        .encode(&mut self.out)
        .unwrap();
        self
    }

    pub fn priority(&mut self, id: u32, dep: u32) -> &mut Self {
        Priority {
            stream_id: id,
            spec: PrioritySpec {
                dependency: dep,
                exclusive: false,
                weight: 15,
            },
        }
        .encode(&mut self.out)
        .unwrap();
        self
    }

    pub fn goaway(&mut self, last: u32, code: ErrorCode) -> &mut Self {
        GoAway {
            last_stream_id: last,
            error_code: code,
            debug_data: b"",
        }
        .encode(&mut self.out)
        .unwrap();
        self
    }

    /// A raw frame: 9-byte header + payload.
    pub fn raw(&mut self, kind: u8, flags: u8, id: u32, payload: &[u8]) -> &mut Self {
        let len = payload.len() as u32;
        self.out.extend_from_slice(&len.to_be_bytes()[1..]);
        self.out.push(kind);
        self.out.push(flags);
        self.out.extend_from_slice(&id.to_be_bytes());
        self.out.extend_from_slice(payload);
        self
    }

    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Parses server output (bytes may be partial; the rest is kept for next time).
    pub fn parse(&mut self, bytes: &[u8]) -> Vec<F> {
        self.pending.extend_from_slice(bytes);
        let mut got = Vec::new();
        let mut pos = 0;
        let input = std::mem::take(&mut self.pending);
        while let Ok(Some((frame, n))) = self.frames.decode(&input[pos..]) {
            pos += n;
            let f = match frame {
                Frame::Settings(s) => F::Settings {
                    ack: s.is_ack(),
                    entries: s.iter().map(|e| (e.id.as_u16(), e.value)).collect(),
                },
                Frame::Headers(h) => {
                    self.block.clear();
                    self.block.extend_from_slice(h.fragment);
                    if !h.end_headers {
                        self.block_meta = Some((h.stream_id, h.end_stream));
                        continue;
                    }
                    self.decode_block(h.stream_id, h.end_stream)
                }
                Frame::Continuation(c) => {
                    self.block.extend_from_slice(c.fragment);
                    if !c.end_headers {
                        continue;
                    }
                    let (id, es) = self.block_meta.take().unwrap();
                    self.decode_block(id, es)
                }
                Frame::Data(d) => F::Data {
                    id: d.stream_id,
                    data: d.data.to_vec(),
                    end_stream: d.end_stream,
                },
                Frame::RstStream(r) => F::Rst {
                    id: r.stream_id,
                    code: r.error_code,
                },
                Frame::GoAway(g) => F::GoAway {
                    last: g.last_stream_id,
                    code: g.error_code,
                },
                Frame::WindowUpdate(w) => F::Window {
                    id: w.stream_id,
                    inc: w.increment,
                },
                Frame::Ping(p) => F::Ping {
                    ack: p.ack,
                    data: p.data,
                },
                _ => F::Other,
            };
            got.push(f);
        }
        self.pending = input[pos..].to_vec();
        got
    }

    fn decode_block(&mut self, id: u32, end_stream: bool) -> F {
        let mut fields = Vec::new();
        let block = std::mem::take(&mut self.block);
        self.dec
            .decode(&block, |n, v| {
                fields.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ))
            })
            .unwrap();
        self.block = block;
        F::Headers {
            id,
            end_stream,
            fields,
        }
    }
}
