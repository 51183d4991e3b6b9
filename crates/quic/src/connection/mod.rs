//! The HTTP/3 connection state machine (RFC 9114 §3.2–§7, RFC 9204 §4.2–§4.4), sans I/O,
//! for both roles.
//!
//! One [`Connection`] per QUIC connection owns everything above the request streams:
//!
//! * **our unidirectional streams**: the control stream (type, SETTINGS first, GOAWAY
//!   later), the QPACK encoder stream and the QPACK decoder stream. Their bytes come out
//!   of [`Connection::pending`] / [`Connection::advance`];
//! * **the peer's unidirectional streams**: bytes go in through
//!   [`Connection::recv_uni`] with the QUIC stream ID; the connection reads each stream's
//!   type and enforces RFC 9114 §6.2 (one control, one encoder, one decoder stream:
//!   `H3_STREAM_CREATION_ERROR`; closing one: `H3_CLOSED_CRITICAL_STREAM`; SETTINGS
//!   first on the control stream: `H3_MISSING_SETTINGS`; unknown and reserved types are
//!   ignored and the driver told to stop reading them);
//! * **SETTINGS**: ours from [`Config`], the peer's validated and exposed
//!   ([`Connection::peer_settings`]);
//! * **GOAWAY**: sent with the right identifier for the role
//!   ([`Connection::send_goaway`]), received ones checked (identifiers never increase,
//!   RFC 9114 §5.2) and reported;
//! * **QPACK**: the decoder (the peer's encoder stream in; acknowledgments,
//!   cancellations and insert count increments out on our decoder stream; blocked
//!   streams, with [`Event::StreamUnblocked`] when one can be decoded) and the encoder
//!   (our encoder stream out when [`Config::encoder_table_capacity`] is non-zero; the
//!   peer's decoder stream in). Request and response field sections are decoded with
//!   [`Connection::decode_section`] and encoded with [`Connection::encode_headers_frame`],
//!   so a driver never touches QPACK state.
//!
//! What it does **not** do: QUIC (streams, flow control, packets, TLS, timers: that is
//! quinn's), request streams' frames (use [`RequestStream`](crate::request::RequestStream)
//! per stream), field checks ([`message`](crate::message)), server push (we never send
//! MAX_PUSH_ID, so a push stream from a server is `H3_ID_ERROR` and MAX_PUSH_ID /
//! CANCEL_PUSH are accepted and ignored). It reads no clock: the two budgets that need
//! time ([`request_aborted`](Connection::request_aborted),
//! [`oversized_section`](Connection::oversized_section)) take it as a parameter.
//!
//! ## When the driver calls what
//!
//! | when | call |
//! |---|---|
//! | QUIC connection established | [`Connection::new`] |
//! | after every call below | for each [`LocalStream`], if [`pending`](Connection::pending) is non-empty: open that QUIC uni stream if not yet open, write the bytes, then [`advance`](Connection::advance) by the amount written |
//! | after every call below | [`poll_event`](Connection::poll_event) until `None` |
//! | bytes read from a peer uni stream (`fin` at its end) | [`recv_uni`](Connection::recv_uni); act on the [`UniAction`] |
//! | a peer uni stream was reset | [`uni_reset`](Connection::uni_reset) |
//! | (server) a new request stream | [`accept_request`](Connection::accept_request): `false` → reset it with `H3_REQUEST_REJECTED` |
//! | (client) before opening a request stream | [`may_open_request`](Connection::may_open_request) |
//! | a HEADERS frame's field section arrived | [`decode_section`](Connection::decode_section); on `Blocked` keep the bytes and wait for [`Event::StreamUnblocked`] |
//! | (server) a request's field section was decoded | [`validate_request`](Connection::validate_request) (`H3_MESSAGE_ERROR`: reset that stream) |
//! | (client) before an extended CONNECT (`:protocol`, RFC 9220) | wait for [`Event::PeerSettings`], then [`check_extended_connect`](Connection::check_extended_connect) |
//! | a request stream is reset or abandoned before its field sections were decoded | [`cancel_stream`](Connection::cancel_stream) |
//! | (server) the peer reset, stopped or ended a request stream before its request was complete | [`request_aborted`](Connection::request_aborted) with the time |
//! | (server) a request's field section was over the limits (answered `431` or refused) | [`oversized_section`](Connection::oversized_section) with its size and the time |
//! | sending headers or trailers | [`encode_headers_frame`](Connection::encode_headers_frame) |
//! | graceful shutdown | [`send_goaway`](Connection::send_goaway) |
//! | any `Err(e)` with [`e.is_connection_error()`](crate::Error::is_connection_error) | close the QUIC connection with [`e.code()`](crate::Error::code) |
//!
//! Every method that takes peer input returns `Err` for a connection error and also
//! queues [`Event::ConnectionError`]; afterwards the connection is closed and every
//! such call returns the same error.
//!
//! ```
//! use shockwave_quic::connection::{Config, Connection, Event, LocalStream};
//! use shockwave_quic::stream::Role;
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! // Stream IDs: client uni streams are 2, 6, 10; server uni streams 3, 7, 11.
//! for (i, stream) in LocalStream::ALL.into_iter().enumerate() {
//!     let bytes = client.pending(stream).to_vec();
//!     if !bytes.is_empty() {
//!         server.recv_uni(2 + 4 * i as u64, &bytes, false).unwrap();
//!         client.advance(stream, bytes.len());
//!     }
//! }
//! assert!(matches!(server.poll_event(), Some(Event::PeerSettings(_))));
//! assert_eq!(server.peer_settings().unwrap().qpack_blocked_streams, 16);
//! ```

mod event;
mod goaway;
mod limits;
mod qpack_streams;
mod settings;
mod uni;

pub use event::Event;
pub use qpack_streams::LocalStream;
pub use settings::Config;
pub use uni::UniAction;

use std::collections::VecDeque;
use std::time::Instant;

use shockwave_arena::{Arena, HeaderList};

use crate::control::{ControlEvent, ControlStream};
use crate::error::{Error, Scope};
use crate::frame::{self, Settings};
use crate::message::RequestPseudo;
use crate::qpack::{Decoded, Decoder, Encoder, QpackError};
use crate::stream::{is_server_initiated, is_uni, Role};
use crate::varint::VarIntError;

use goaway::GoAway;
use limits::RateLimit;
use qpack_streams::LocalStreams;
use uni::{Critical, PeerStreams, Route};

/// The HTTP/3 connection state machine (see the [module docs](self)).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    local: LocalStreams,
    peer: PeerStreams,
    control: ControlStream,
    decoder: Decoder,
    encoder: Encoder,
    goaway: GoAway,
    events: VecDeque<Event>,
    /// Request streams the peer reset or abandoned, per window.
    aborted: RateLimit,
    /// Field sections over our limits, per window.
    oversized: RateLimit,
    /// The connection error, once one happened.
    error: Option<Error>,
}

impl Connection {
    /// A connection for the local `role`. Our control stream (type + SETTINGS) and, if
    /// `config.qpack.max_table_capacity > 0`, our decoder stream (type) are queued at
    /// once: send them before anything else.
    pub fn new(role: Role, config: Config) -> Self {
        let mut local = LocalStreams::default();
        local.control.open(LocalStream::Control);
        // A SETTINGS frame of a few varints cannot exceed the varint range.
        let _ = config.settings().encode(config.grease, local.control.buf());
        if config.qpack.max_table_capacity > 0 {
            local.decoder.open(LocalStream::QpackDecoder);
        }
        Connection {
            role,
            config,
            local,
            peer: PeerStreams::new(role, config.max_untyped_uni_streams),
            control: ControlStream::with_limits(role, config.qpack.frame_limits()),
            decoder: Decoder::new(config.qpack),
            encoder: Encoder::new(),
            goaway: GoAway::new(role),
            events: VecDeque::new(),
            aborted: RateLimit::new(config.max_aborted_requests_per_window, config.limit_window),
            oversized: RateLimit::new(
                config.max_oversized_sections_per_window,
                config.limit_window,
            ),
            error: None,
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- our streams ----------------------------------------------------------------

    /// The bytes waiting to be written on our `stream` (starting with its stream type the
    /// first time). Empty: nothing to send (and, if the stream was never non-empty, no
    /// need to open it).
    pub fn pending(&self, stream: LocalStream) -> &[u8] {
        self.local.get(stream).pending()
    }

    /// The driver wrote the first `n` bytes of [`pending`](Self::pending)`(stream)`.
    pub fn advance(&mut self, stream: LocalStream, n: usize) {
        self.local.get_mut(stream).advance(n);
    }

    // ---- the peer's unidirectional streams -------------------------------------------

    /// Bytes read from the peer's unidirectional stream `stream_id` (the QUIC stream ID
    /// of a stream the peer opened; `fin`: the stream ended after them). Identifies the
    /// stream from its first bytes, interprets control and QPACK streams, and says
    /// whether to keep reading. When the whole QUIC connection is lost, report nothing.
    pub fn recv_uni(
        &mut self,
        stream_id: u64,
        bytes: &[u8],
        fin: bool,
    ) -> Result<UniAction, Error> {
        debug_assert!(
            is_uni(stream_id) && is_server_initiated(stream_id) == (self.role == Role::Client),
            "stream {stream_id} is not a unidirectional stream of the peer"
        );
        self.check_open()?;
        let result = self.recv_uni_inner(stream_id, bytes, fin);
        self.fail_on_connection_error(result)
    }

    fn recv_uni_inner(
        &mut self,
        stream_id: u64,
        bytes: &[u8],
        fin: bool,
    ) -> Result<UniAction, Error> {
        let (critical, data, fin) = match self.peer.recv(stream_id, bytes, fin)? {
            Route::Action(action) => return Ok(action),
            Route::Critical(c, data, fin) => (c, data, fin),
        };
        match critical {
            Critical::Control => self.recv_control(data)?,
            Critical::QpackEncoder => {
                self.decoder.feed_encoder_stream(data)?;
                while let Some(id) = self.decoder.next_unblocked() {
                    self.events.push_back(Event::StreamUnblocked(id));
                }
                self.local.flush_decoder(&mut self.decoder);
            }
            Critical::QpackDecoder => self.encoder.feed_decoder_stream(data)?,
        }
        if fin {
            // RFC 9114 §6.2.1, RFC 9204 §4.2: critical streams never close.
            return Err(Error::ClosedCriticalStream {
                stream: critical.name(),
            });
        }
        Ok(UniAction::Read)
    }

    fn recv_control(&mut self, mut data: &[u8]) -> Result<(), Error> {
        loop {
            let (n, event) = self.control.recv(data)?;
            data = &data[n..];
            match event {
                None => return Ok(()),
                Some(ControlEvent::Settings(s)) => self.on_peer_settings(s),
                Some(ControlEvent::GoAway(id)) => {
                    self.goaway.on_received(id);
                    self.events.push_back(Event::GoAway(id));
                }
                // No server push: MAX_PUSH_ID and CANCEL_PUSH need no action.
                Some(ControlEvent::MaxPushId(_) | ControlEvent::CancelPush(_)) => {}
            }
        }
    }

    fn on_peer_settings(&mut self, s: Settings) {
        let capacity = self
            .config
            .encoder_table_capacity
            .min(s.qpack_max_table_capacity);
        if capacity > 0 {
            self.local.encoder.open(LocalStream::QpackEncoder);
            self.encoder.use_dynamic_table(
                capacity,
                s.qpack_max_table_capacity,
                s.qpack_blocked_streams,
                self.local.encoder.buf(),
            );
        }
        self.events.push_back(Event::PeerSettings(s));
    }

    /// The peer reset its unidirectional stream `stream_id` (or the driver lost it):
    /// `H3_CLOSED_CRITICAL_STREAM` for a control or QPACK stream, else nothing.
    pub fn uni_reset(&mut self, stream_id: u64) -> Result<(), Error> {
        self.check_open()?;
        let result = self.peer.reset(stream_id);
        self.fail_on_connection_error(result)
    }

    // ---- SETTINGS -----------------------------------------------------------------

    /// The SETTINGS we sent.
    pub fn local_settings(&self) -> Settings {
        self.config.settings()
    }

    /// The peer's SETTINGS, once its control stream delivered them. Until then the
    /// RFC defaults ([`Settings::default`]) apply.
    pub fn peer_settings(&self) -> Option<&Settings> {
        self.control.peer_settings()
    }

    /// True unless the peer's SETTINGS_MAX_FIELD_SECTION_SIZE is below `size` (the
    /// value [`encode_headers_frame`](Self::encode_headers_frame) returns; RFC 9114
    /// §4.2.2: do not send a larger section).
    pub fn peer_accepts_section(&self, size: u64) -> bool {
        !matches!(
            self.peer_settings().and_then(|s| s.max_field_section_size),
            Some(max) if size > max
        )
    }

    // ---- CONNECT and extended CONNECT (RFC 9114 §4.4, RFC 9220) ---------------------

    /// True once the peer's SETTINGS carried SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
    /// (RFC 9220 §3): a client may then send extended CONNECT (`:protocol`) requests.
    /// `false` while the peer's SETTINGS have not arrived (a client must wait for them).
    pub fn peer_enables_connect_protocol(&self) -> bool {
        self.peer_settings()
            .is_some_and(|s| s.enable_connect_protocol)
    }

    /// (Client) whether an extended CONNECT request (one with `:protocol`) may go out
    /// now: `Err(H3_MESSAGE_ERROR)` (a local refusal, the connection stays open) until
    /// the server's SETTINGS enabled it (RFC 9220 §3: "a client MUST NOT send
    /// `:protocol` ... before receiving SETTINGS_ENABLE_CONNECT_PROTOCOL with a value
    /// of 1").
    pub fn check_extended_connect(&self) -> Result<(), Error> {
        self.check_open()?;
        if self.peer_enables_connect_protocol() {
            Ok(())
        } else {
            Err(Error::MessageError {
                reason:
                    "the peer did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)",
            })
        }
    }

    /// (Server) validates a decoded request header section as
    /// [`message::validate_request`](crate::message::validate_request) does (plain
    /// CONNECT: `:method` and `:authority` only, RFC 9114 §4.4), and also refuses
    /// `:protocol` unless we advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3,
    /// RFC 8441 §4), and an empty or non-token `:protocol`. Every refusal is the stream
    /// error `H3_MESSAGE_ERROR` (a malformed request, RFC 9114 §4.1.2): reset that
    /// request stream, the connection goes on.
    pub fn validate_request<'a, I>(&self, fields: I) -> Result<RequestPseudo<'a>, Error>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        let head = crate::message::validate_request(fields)?;
        if let Some(protocol) = head.protocol {
            if !self.config.enable_connect_protocol {
                return Err(Error::MessageError {
                    reason: ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL",
                });
            }
            if protocol.is_empty() || !protocol.iter().all(|&b| is_tchar(b)) {
                return Err(Error::MessageError {
                    reason: ":protocol is not a token",
                });
            }
        }
        Ok(head)
    }

    // ---- GOAWAY -------------------------------------------------------------------

    /// Queues a GOAWAY on our control stream with the identifier for our role: a server
    /// names the first request stream it has not accepted (every request accepted so
    /// far is still processed); a client names push ID 0 (it allows no push). Returns
    /// the identifier. Sending it again later is allowed (same or smaller identifier).
    pub fn send_goaway(&mut self) -> Result<u64, Error> {
        let id = self
            .goaway
            .sent()
            .unwrap_or(u64::MAX)
            .min(self.goaway.next_id());
        self.send_goaway_id(id)?;
        Ok(id)
    }

    /// Queues a GOAWAY with an explicit identifier, e.g. a server's first, lenient
    /// GOAWAY of a two-step shutdown (RFC 9114 §5.2). A server's identifier must be a
    /// client-initiated bidirectional stream ID, and no identifier may exceed one sent
    /// before: `H3_ID_ERROR` (a local mistake: the connection stays open).
    pub fn send_goaway_id(&mut self, id: u64) -> Result<(), Error> {
        self.check_open()?;
        self.goaway.send(id)?;
        frame::encode_goaway(id, self.local.control.buf()).map_err(|_| Error::IdError {
            id,
            reason: "GOAWAY identifier beyond the varint range",
        })
    }

    /// The last GOAWAY identifier we sent.
    pub fn goaway_sent(&self) -> Option<u64> {
        self.goaway.sent()
    }

    /// The last GOAWAY identifier the peer sent.
    pub fn goaway_received(&self) -> Option<u64> {
        self.goaway.received()
    }

    /// (Server) the peer opened request stream `stream_id`. `false` if our GOAWAY
    /// excluded it: reset the stream and stop reading it with `H3_REQUEST_REJECTED`.
    pub fn accept_request(&mut self, stream_id: u64) -> bool {
        self.error.is_none() && self.goaway.accept_request(stream_id)
    }

    /// (Client) whether a request may go out on stream `stream_id`: `false` after the
    /// server's GOAWAY excluded it, after we sent GOAWAY, or once the connection failed.
    pub fn may_open_request(&self, stream_id: u64) -> bool {
        self.error.is_none() && self.goaway.may_open_request(stream_id)
    }

    // ---- field sections -----------------------------------------------------------

    /// Decodes the field section (a HEADERS payload) received on request stream
    /// `stream_id` into a [`HeaderList`] in `arena`, with the connection's QPACK
    /// decoder (see [`Decoder::decode_section`] for the zero-copy contract). On
    /// [`Decoded::Blocked`] keep `block` and call again after
    /// [`Event::StreamUnblocked`] for this stream. Errors: a connection error
    /// (`QPACK_DECOMPRESSION_FAILED`) closes the connection; a stream error (section too
    /// large, arena full) does not.
    pub fn decode_section<'a>(
        &mut self,
        stream_id: u64,
        block: &'a [u8],
        arena: &'a Arena,
    ) -> Result<Decoded<HeaderList<'a>>, Error> {
        self.check_open()?;
        let result = self.decoder.decode_section(stream_id, block, arena);
        self.after_decode(result)
    }

    /// As [`decode_section`](Self::decode_section), appending the fields to `list` (in
    /// its arena; nothing is appended while the section is blocked): a list the caller
    /// holds is not copied on its way out, as a returned one is.
    pub fn decode_section_into<'a>(
        &mut self,
        stream_id: u64,
        block: &'a [u8],
        list: &mut HeaderList<'a>,
    ) -> Result<Decoded<()>, Error> {
        self.check_open()?;
        let result = self.decoder.decode_section_into(stream_id, block, list);
        self.after_decode(result)
    }

    /// As [`decode_section`](Self::decode_section), passing each field line to
    /// `emit(name, value)`.
    pub fn decode_section_with(
        &mut self,
        stream_id: u64,
        block: &[u8],
        emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<Decoded<()>, Error> {
        self.check_open()?;
        let result = self.decoder.decode_section_with(stream_id, block, emit);
        self.after_decode(result)
    }

    fn after_decode<T>(&mut self, result: Result<T, QpackError>) -> Result<T, Error> {
        self.local.flush_decoder(&mut self.decoder);
        self.fail_on_connection_error(result.map_err(Error::from))
    }

    /// True while stream `stream_id`'s field section waits for encoder stream data.
    pub fn is_blocked(&self, stream_id: u64) -> bool {
        self.decoder.is_blocked(stream_id)
    }

    /// Request stream `stream_id` was reset by the peer, or we stopped reading it,
    /// before all its field sections were decoded: forgets it and, with a dynamic table,
    /// tells the peer's encoder (Stream Cancellation, RFC 9204 §4.4.2).
    pub fn cancel_stream(&mut self, stream_id: u64) {
        self.decoder.cancel_stream(stream_id);
        self.local.flush_decoder(&mut self.decoder);
    }

    // ---- budgets (RFC 9114 §10.5) ---------------------------------------------------

    /// (Server) the peer reset (RESET_STREAM), stopped, or ended a request stream
    /// before its request was complete, at `now`. More than
    /// [`Config::max_aborted_requests_per_window`] such streams within
    /// [`Config::limit_window`] is the connection error `H3_EXCESSIVE_LOAD`: a peer
    /// that opens and cancels streams as fast as QUIC stream credit comes back makes
    /// us set up requests for nothing (the QUIC form of Rapid Reset, CVE-2023-44487).
    pub fn request_aborted(&mut self, now: Instant) -> Result<(), Error> {
        self.check_open()?;
        let result = if self.aborted.hit(now) {
            Err(Error::ExcessiveLoad {
                reason: "too many request streams reset or abandoned",
            })
        } else {
            Ok(())
        };
        self.fail_on_connection_error(result)
    }

    /// (Server) the field section of a request stream was over our limits
    /// (the HEADERS frame above SETTINGS_MAX_FIELD_SECTION_SIZE, the decoded section
    /// above it or above [`DecoderConfig::max_fields`](crate::qpack::DecoderConfig::max_fields),
    /// a full arena) and was refused, at `now`. `size`: the section's announced or
    /// decoded size as far as it is known (the HEADERS frame's length, or the size at
    /// which decoding stopped). One section announced larger than 4 ×
    /// SETTINGS_MAX_FIELD_SECTION_SIZE, or more than
    /// [`Config::max_oversized_sections_per_window`] refused sections within
    /// [`Config::limit_window`], is the connection error `H3_EXCESSIVE_LOAD`: a peer
    /// that keeps sending them is answered `431` no more.
    pub fn oversized_section(&mut self, size: u64, now: Instant) -> Result<(), Error> {
        self.check_open()?;
        let far_over = size > self.config.qpack.max_field_section_size.saturating_mul(4);
        let result = if far_over {
            Err(Error::ExcessiveLoad {
                reason: "field section far over SETTINGS_MAX_FIELD_SECTION_SIZE",
            })
        } else if self.oversized.hit(now) {
            Err(Error::ExcessiveLoad {
                reason: "too many field sections over the limits",
            })
        } else {
            Ok(())
        };
        self.fail_on_connection_error(result)
    }

    /// Appends a HEADERS frame carrying `fields` (pseudo-header fields first) for
    /// request stream `stream_id` to `dst`, encoded with the connection's QPACK
    /// encoder (dynamic table insertions go to our encoder stream: send
    /// [`LocalStream::QpackEncoder`] bytes before or with this frame). Returns the field
    /// section size (RFC 9114 §4.2.2), for [`peer_accepts_section`](Self::peer_accepts_section).
    pub fn encode_headers_frame<'h, I>(
        &mut self,
        stream_id: u64,
        fields: I,
        dst: &mut Vec<u8>,
    ) -> Result<u64, VarIntError>
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        self.encoder
            .encode_headers_frame_on(stream_id, fields, dst, self.local.encoder.buf())
    }

    /// The encoder's dynamic table: insertions made and insertions the peer
    /// acknowledged (both 0 while static-only).
    pub fn encoder_insert_counts(&self) -> (u64, u64) {
        (
            self.encoder.insert_count(),
            self.encoder.known_received_count(),
        )
    }

    /// The decoder's dynamic table Insert Count (entries the peer's encoder inserted).
    pub fn decoder_insert_count(&self) -> u64 {
        self.decoder.insert_count()
    }

    // ---- events and errors --------------------------------------------------------

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The connection error, once one happened.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    fn check_open(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a connection-scoped error (first one wins) and queues its event.
    fn fail_on_connection_error<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result {
            if e.scope() == Scope::Connection && self.error.is_none() {
                self.error = Some(e.clone());
                self.events.push_back(Event::ConnectionError(e.clone()));
            }
        }
        result
    }
}

/// A byte RFC 9110 §5.6.2 allows in a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
