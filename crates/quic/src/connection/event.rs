//! What the connection tells its driver: [`Event`], taken with
//! [`Connection::poll_event`](super::Connection::poll_event).

use crate::error::Error;
use crate::frame::Settings;

/// Something that happened on the connection that the driver may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's SETTINGS arrived (first frame of its control stream, RFC 9114 §6.2.1).
    /// They are also available from [`Connection::peer_settings`](super::Connection::peer_settings).
    /// A client may now rely on e.g. `enable_connect_protocol`.
    PeerSettings(Settings),
    /// The peer sent GOAWAY (RFC 9114 §5.2). From a server: the first request stream ID
    /// it will not process; requests on streams with that ID or above were not
    /// processed and may be retried on a new connection, and no new request may be
    /// opened. From a client: the first push ID it will not accept.
    GoAway(u64),
    /// The field section of request stream `stream_id`, which
    /// [`Connection::decode_section`](super::Connection::decode_section) reported as
    /// blocked, can now be decoded: call `decode_section` again with the same bytes.
    StreamUnblocked(u64),
    /// The connection failed: close the QUIC connection with
    /// [`Error::code`](crate::Error::code). The call that detected it returned the same
    /// error; every later call returns it again.
    ConnectionError(Error),
}
