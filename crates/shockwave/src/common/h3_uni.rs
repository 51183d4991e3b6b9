//! The I/O pumps of an HTTP/3 connection's unidirectional streams, shared by the server
//! and client drivers: [`uni_reader`] feeds one of the peer's unidirectional streams into
//! the sans-I/O [`Connection`] (RFC 9114 §6.2), [`uni_writer`] writes ours (control,
//! QPACK encoder, QPACK decoder: [`Connection::pending`]). The driver keeps the
//! connection (behind a `RefCell` or a `Mutex`), spawns the tasks and reacts to the
//! connection's events ([`H3Driver::after`]).

use bytes::Bytes;
use shockwave_quic::connection::{Connection, LocalStream, UniAction};
use tokio::sync::Notify;

use crate::http3::varint;

/// What the pumps need from a driver's per-connection state.
pub(crate) trait H3Driver {
    /// The QUIC connection.
    fn quic(&self) -> &quinn::Connection;
    /// Notified (`notify_one`) by [`after`](Self::after) when our streams have bytes.
    fn uni_out(&self) -> &Notify;
    /// Runs `f` on the HTTP/3 connection. No borrow or lock outlives the call.
    fn with_h3<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R;
    /// After any call into the connection: dispatches its events and notifies
    /// [`uni_out`](Self::uni_out) if [`has_pending`] says so.
    fn after(&self);
}

/// True when one of our unidirectional streams has bytes to write.
pub(crate) fn has_pending(h3: &Connection) -> bool {
    LocalStream::ALL.iter().any(|s| !h3.pending(*s).is_empty())
}

/// Reads one of the peer's unidirectional streams into the connection
/// ([`Connection::recv_uni`]), which identifies it and interprets control and QPACK
/// streams; stops it when the connection says so (unknown and reserved types, RFC 9114
/// §6.2). A reset is [`Connection::uni_reset`] (a critical stream: a connection error,
/// which [`H3Driver::after`] acts on); a lost connection reports nothing.
pub(crate) async fn uni_reader<D: H3Driver>(d: &D, mut recv: quinn::RecvStream) {
    let id = u64::from(recv.id());
    loop {
        let (bytes, fin) = match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => (c.bytes, false),
            Ok(None) => (Bytes::new(), true),
            Err(quinn::ReadError::Reset(_)) => {
                let _ = d.with_h3(|h3| h3.uni_reset(id));
                d.after();
                return;
            }
            Err(_) => return,
        };
        let action = d.with_h3(|h3| h3.recv_uni(id, &bytes, fin));
        d.after();
        match action {
            Ok(UniAction::Read) if !fin => {}
            Ok(UniAction::Stop(code)) => {
                let _ = recv.stop(varint(code));
                return;
            }
            _ => return,
        }
    }
}

/// Writes our control, QPACK encoder and QPACK decoder streams (in
/// [`LocalStream::ALL`] order; `streams` may hold some already open) as the connection
/// queues bytes for them, opening each QUIC stream the first time it has some. The
/// streams live in this task until the connection closes: critical streams are never
/// finished (RFC 9114 §6.2.1), and dropping a `SendStream` would.
pub(crate) async fn uni_writer<D: H3Driver>(d: &D, mut streams: [Option<quinn::SendStream>; 3]) {
    let mut buf = Vec::new();
    loop {
        for (slot, kind) in streams.iter_mut().zip(LocalStream::ALL) {
            buf.clear();
            d.with_h3(|h3| buf.extend_from_slice(h3.pending(kind)));
            if buf.is_empty() {
                continue;
            }
            if slot.is_none() {
                match d.quic().open_uni().await {
                    Ok(s) => *slot = Some(s),
                    Err(_) => return,
                }
            }
            let Some(stream) = slot.as_mut() else { return };
            if stream.write_all(&buf).await.is_err() {
                return;
            }
            d.with_h3(|h3| h3.advance(kind, buf.len()));
        }
        let notified = d.uni_out().notified();
        if d.with_h3(|h3| has_pending(h3)) {
            continue;
        }
        tokio::select! {
            _ = notified => {}
            _ = d.quic().closed() => return,
        }
    }
}
