//! HTTP/3 frame decoding (RFC 9114 §7): the incremental `FrameDecoder`, and the peer's
//! unidirectional streams (stream header, then the control stream state machine).
//!
//! Input: `[config: u8][n: u8][n split sizes][stream bytes...]`. `config & 1`: 0 decodes
//! raw frames, 1 reads a unidirectional stream header and, for a control stream, runs
//! `ControlStream` (as a server when `config & 2 == 0`, else as a client). `config & 4`
//! uses tiny frame limits.
//!
//! Checked: no panic; the stream fed whole and cut into pieces gives the same events
//! (DATA pieces concatenated), the same error and the same end-of-stream verdict; every
//! call consumes all its input unless it fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_fuzz::Splitter;
use shockwave_quic::control::ControlStream;
use shockwave_quic::frame::{FrameDecoder, FrameEvent, FrameLimits};
use shockwave_quic::stream::{Role, UniStreamHeaderReader, UniStreamKind};
use shockwave_quic::Error;

#[derive(Debug, PartialEq)]
enum Ev {
    Header(String),
    Data(Vec<u8>),
    Other(String),
    Kind(UniStreamKind),
    Fail(Error),
    Finish(Result<(), Error>),
}

fn push(out: &mut Vec<Ev>, ev: Ev) {
    if let (Some(Ev::Data(prev)), Ev::Data(more)) = (out.last_mut(), &ev) {
        prev.extend_from_slice(more);
        return;
    }
    out.push(ev);
}

enum Machine {
    Frames(FrameDecoder),
    Uni {
        header: UniStreamHeaderReader,
        kind: Option<UniStreamKind>,
        control: ControlStream,
    },
}

impl Machine {
    fn new(config: u8) -> Self {
        let limits = if config & 4 != 0 {
            FrameLimits {
                max_field_section_len: 16,
                max_settings_len: 8,
            }
        } else {
            FrameLimits::default()
        };
        let role = if config & 2 == 0 {
            Role::Server
        } else {
            Role::Client
        };
        if config & 1 == 0 {
            Machine::Frames(FrameDecoder::new(limits))
        } else {
            Machine::Uni {
                header: UniStreamHeaderReader::new(),
                kind: None,
                control: ControlStream::with_limits(role, limits),
            }
        }
    }

    /// Feeds one read; false once the stream failed.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<Ev>) -> bool {
        match self {
            Machine::Frames(d) => loop {
                match d.decode(input) {
                    Ok((n, Some(ev))) => {
                        assert!(n <= input.len());
                        input = &input[n..];
                        push(
                            out,
                            match ev {
                                FrameEvent::Header(h) => Ev::Header(format!("{h:?}")),
                                FrameEvent::Data(d) => Ev::Data(d.to_vec()),
                                FrameEvent::Frame(f) => Ev::Other(format!("{f:?}")),
                            },
                        );
                    }
                    Ok((n, None)) => {
                        assert_eq!(n, input.len(), "None consumes all the input");
                        return true;
                    }
                    Err(e) => {
                        out.push(Ev::Fail(e));
                        return false;
                    }
                }
            },
            Machine::Uni {
                header,
                kind,
                control,
            } => {
                if kind.is_none() {
                    let (n, k) = header.decode(input);
                    assert!(n <= input.len());
                    input = &input[n..];
                    match k {
                        Some(k) => {
                            out.push(Ev::Kind(k));
                            *kind = Some(k);
                        }
                        None => {
                            assert!(input.is_empty());
                            return true;
                        }
                    }
                }
                if *kind != Some(UniStreamKind::Control) {
                    return true; // other streams' contents are other targets' business
                }
                loop {
                    match control.recv(input) {
                        Ok((n, Some(ev))) => {
                            assert!(n <= input.len());
                            input = &input[n..];
                            out.push(Ev::Other(format!("{ev:?}")));
                        }
                        Ok((n, None)) => {
                            assert_eq!(n, input.len(), "None consumes all the input");
                            return true;
                        }
                        Err(e) => {
                            out.push(Ev::Fail(e));
                            return false;
                        }
                    }
                }
            }
        }
    }

    fn finish(&self, out: &mut Vec<Ev>) {
        out.push(Ev::Finish(match self {
            Machine::Frames(d) => d.finish(),
            Machine::Uni { control, kind, .. } => match kind {
                Some(UniStreamKind::Control) => control.finish(),
                _ => Ok(()),
            },
        }));
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
    let mut m = Machine::new(config);
    if m.feed(wire, &mut whole) {
        m.finish(&mut whole);
    }

    let mut split = Vec::new();
    let mut m = Machine::new(config);
    let mut splitter = Splitter::new(sizes);
    let mut pos = 0;
    let mut ok = true;
    while pos < wire.len() && ok {
        let len = splitter.next_len(wire.len() - pos);
        ok = m.feed(&wire[pos..pos + len], &mut split);
        pos += len;
    }
    if ok {
        m.finish(&mut split);
    }
    assert_eq!(whole, split);
});
