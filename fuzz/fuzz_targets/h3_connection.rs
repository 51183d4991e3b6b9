//! The HTTP/3 connection state machine (`shockwave_quic::connection::Connection`, RFC 9114
//! §6.2, §7, RFC 9204 §4.2–§4.4) fed the way a driver feeds it: bytes of the peer's
//! unidirectional streams (`recv_uni`, with or without FIN), stream resets (`uni_reset`),
//! field sections of request streams (`decode_section` / `decode_section_with`, blocked
//! ones decoded again on `Event::StreamUnblocked`) and cancellations (`cancel_stream`),
//! our own streams drained after every call (`pending` / `advance`).
//!
//! Input: `[config: u8]` then records `[tag: u8][len: u16 BE][bytes]`. `config & 1`: we
//! are the server (the peer's uni streams are 2, 6, 10, 14) or the client (3, 7, 11, 15).
//! `config & 2`: our decoder allows a dynamic table (4096 bytes, 16 blocked streams).
//! `config & 4`: our encoder uses one when the peer allows it. `config & 8`: at most 2
//! untyped uni streams. `tag & 3` picks the stream (uni stream or request stream 0, 4, 8,
//! 12); `(tag >> 2) % 6` the call: 0 `recv_uni`, 1 `recv_uni` with FIN, 2 `uni_reset`,
//! 3 `decode_section`, 4 `decode_section_with`, 5 `cancel_stream`.
//!
//! Checked: no panic; the driver contract is kept (a uni stream that ended or was told
//! to stop is not passed again); a connection error is reported once as
//! `Event::ConnectionError`, recorded in `error()` and returned again by every later
//! call; `Decoded::Blocked` leaves the stream blocked and `StreamUnblocked` names only
//! streams that were blocked; the two decode paths agree on the fields.
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_fuzz::records;
use shockwave_quic::connection::{Config, Connection, Event, LocalStream, UniAction};
use shockwave_quic::qpack::{Decoded, DecoderConfig};
use shockwave_quic::stream::Role;
use shockwave_quic::Error;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

struct Driver {
    conn: Connection,
    /// Uni streams that ended or were stopped: the driver passes them no more.
    closed: HashSet<u64>,
    /// Blocked request streams and their field section (kept to decode again).
    blocked: HashMap<u64, Vec<u8>>,
    /// The connection error, once one was reported.
    error: Option<Error>,
}

impl Driver {
    fn new(config: u8) -> Self {
        let role = if config & 1 == 0 {
            Role::Server
        } else {
            Role::Client
        };
        let qpack = if config & 2 != 0 {
            DecoderConfig::default()
        } else {
            DecoderConfig {
                max_table_capacity: 0,
                max_blocked_streams: 0,
                ..DecoderConfig::default()
            }
        };
        let cfg = Config {
            qpack,
            encoder_table_capacity: if config & 4 != 0 { 1024 } else { 0 },
            grease: Some(u64::from(config)),
            max_untyped_uni_streams: if config & 8 != 0 { 2 } else { 64 },
            ..Config::default()
        };
        Driver {
            conn: Connection::new(role, cfg),
            closed: HashSet::new(),
            blocked: HashMap::new(),
            error: None,
        }
    }

    fn peer_uni(&self, slot: u64) -> u64 {
        match self.conn.role() {
            Role::Server => 2 + 4 * slot,
            Role::Client => 3 + 4 * slot,
        }
    }

    /// A call's result: connection errors must match the recorded one.
    fn check<T>(&mut self, result: &Result<T, Error>) {
        let Err(e) = result else { return };
        if let Some(first) = &self.error {
            assert_eq!(e, first, "every call after a connection error returns it");
        } else if e.is_connection_error() {
            self.error = Some(e.clone());
        }
    }

    /// What a driver does after every call: events, then our streams.
    fn after(&mut self) {
        let mut errors = 0;
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::ConnectionError(e) => {
                    errors += 1;
                    assert_eq!(Some(&e), self.error.as_ref(), "the error returned");
                }
                Event::StreamUnblocked(id) => {
                    let block = self
                        .blocked
                        .remove(&id)
                        .expect("only a blocked stream is unblocked");
                    self.decode(id, &block);
                }
                _ => {}
            }
        }
        assert!(errors <= 1, "a connection error is reported once");
        if self.error.is_some() {
            assert_eq!(self.conn.error(), self.error.as_ref());
        }
        for s in LocalStream::ALL {
            let n = self.conn.pending(s).len();
            // Write half of it, as a congested stream would, then the rest next time.
            self.conn.advance(s, n.div_ceil(2));
        }
    }

    /// Decodes through both paths; they must agree.
    fn decode(&mut self, id: u64, block: &[u8]) {
        let arena = Arena::new();
        let listed = self.conn.decode_section(id, block, &arena);
        self.check(&listed);
        let listed: Result<Option<Fields>, Error> = listed.map(|d| match d {
            Decoded::Done(list) => {
                Some(list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect())
            }
            Decoded::Blocked => None,
        });
        match &listed {
            Ok(None) => {
                assert!(self.conn.is_blocked(id));
                self.blocked.insert(id, block.to_vec());
                return;
            }
            Ok(Some(_)) => assert!(!self.conn.is_blocked(id)),
            Err(_) => return,
        }
        // The same section again through the callback: the decoder forgets a section
        // once decoded, so a second decode of a non-blocked section is valid input.
        let mut emitted = Fields::new();
        let with = self
            .conn
            .decode_section_with(id, block, |n, v| emitted.push((n.to_vec(), v.to_vec())));
        self.check(&with);
        if let (Ok(Some(a)), Ok(Decoded::Done(()))) = (&listed, &with) {
            assert_eq!(a, &emitted, "both decode paths agree");
        }
    }

    fn step(&mut self, tag: u8, bytes: &[u8]) {
        let slot = u64::from(tag & 3);
        let request = 4 * slot;
        match (tag >> 2) % 6 {
            op @ (0 | 1) => {
                let id = self.peer_uni(slot);
                if self.closed.contains(&id) {
                    return;
                }
                let fin = op == 1;
                let r = self.conn.recv_uni(id, bytes, fin);
                self.check(&r);
                if fin || !matches!(r, Ok(UniAction::Read)) {
                    self.closed.insert(id);
                }
            }
            2 => {
                let id = self.peer_uni(slot);
                if self.closed.insert(id) {
                    let r = self.conn.uni_reset(id);
                    self.check(&r);
                }
            }
            3 => {
                if !self.blocked.contains_key(&request) {
                    self.decode(request, bytes);
                }
            }
            4 => {
                if !self.blocked.contains_key(&request) {
                    let r = self.conn.decode_section_with(request, bytes, |_, _| {});
                    self.check(&r);
                    if let Ok(Decoded::Blocked) = r {
                        self.blocked.insert(request, bytes.to_vec());
                    }
                }
            }
            _ => {
                self.conn.cancel_stream(request);
                self.blocked.remove(&request);
                assert!(!self.conn.is_blocked(request));
            }
        }
        self.after();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let mut d = Driver::new(config);
    d.after();
    for (tag, bytes) in records(rest) {
        d.step(tag, bytes);
    }
    // Every peer SETTINGS that was accepted is exposed.
    if let Some(s) = d.conn.peer_settings() {
        let _ = d
            .conn
            .peer_accepts_section(s.max_field_section_size.unwrap_or(0));
    }
});
