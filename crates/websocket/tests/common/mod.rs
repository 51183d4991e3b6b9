//! A test driver: feeds bytes to a `Connection` in chunks the way a real driver does
//! (append, decode until nothing comes back, drop the consumed bytes) and records
//! every event, including the frames the connection queues for the peer.
#![allow(dead_code)]

use shockwave_websocket::frame::{apply_mask, FrameHeader};
use shockwave_websocket::{CloseCode, Connection, Message, OpCode};

/// An owned event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    /// The decode failed with this close code.
    Fail(u16),
    /// The connection wrote this control frame back (pong payload, or close code).
    SentPong(Vec<u8>),
    SentClose(Option<u16>),
}

pub fn text(s: &str) -> Ev {
    Ev::Text(s.to_string())
}

/// Builds a raw frame with any bits set (`opcode` may be reserved).
pub fn raw(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(fin as u8) << 7 | (rsv & 7) << 4 | (opcode & 0xF)];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= 0xFFFF {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let start;
    if let Some(key) = mask {
        out.extend_from_slice(&key);
        start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], key);
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked frame (from a client), the usual input of server cases.
pub fn cf(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw(fin, 0, opcode, Some([0x12, 0x34, 0x56, 0x78]), payload)
}

pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// Parses the frames a connection wrote.
pub fn parse_written(mut bytes: &[u8], out: &mut Vec<Ev>) {
    while !bytes.is_empty() {
        let (h, hlen) = FrameHeader::parse(bytes).unwrap().expect("whole frames");
        let end = hlen + h.payload_len as usize;
        let mut payload = bytes[hlen..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key);
        }
        match h.opcode {
            OpCode::Pong => out.push(Ev::SentPong(payload)),
            OpCode::Close => out.push(Ev::SentClose(
                (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]])),
            )),
            other => panic!("unexpected written frame {other:?}"),
        }
        bytes = &bytes[end..];
    }
}

pub fn own(m: Message<'_>) -> Ev {
    match m {
        Message::Text(t) => Ev::Text(t.to_string()),
        Message::Binary(b) => Ev::Binary(b.to_vec()),
        Message::Ping(p) => Ev::Ping(p.to_vec()),
        Message::Pong(p) => Ev::Pong(p.to_vec()),
        Message::Close { code, reason } => Ev::Close(code.0, reason.to_string()),
    }
}

/// Feeds `input` in pieces cut at `cuts` (sorted offsets), recording every event.
/// Stops at the first error.
pub fn run_split(conn: &mut Connection, input: &[u8], cuts: &[usize]) -> Vec<Ev> {
    let mut events = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut assembly = Vec::new();
    let mut prev = 0;
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c < input.len()).collect();
    bounds.push(input.len());
    for end in bounds {
        if end < prev {
            continue;
        }
        buf.extend_from_slice(&input[prev..end]);
        prev = end;
        loop {
            let result = conn.decode(&mut buf[..], &mut assembly);
            let mut written = Vec::new();
            match result {
                Ok(d) => {
                    let consumed = d.consumed;
                    let got = d.message.map(own);
                    let done = got.is_none();
                    events.extend(got);
                    conn.write_pending(&mut written);
                    parse_written(&written, &mut events);
                    buf.drain(..consumed);
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    events.push(Ev::Fail(e.close_code().0));
                    conn.write_pending(&mut written);
                    parse_written(&written, &mut events);
                    return events;
                }
            }
        }
    }
    events
}

pub fn run(conn: &mut Connection, input: &[u8]) -> Vec<Ev> {
    run_split(conn, input, &[])
}

pub fn code(c: CloseCode) -> u16 {
    c.0
}
