//! Closing a TCP connection without destroying the last bytes sent: half-close, then
//! drain what the peer still sends for a moment (RFC 9112 §9.6), so a final response or
//! GOAWAY is not discarded by a TCP RST that unread input would trigger.

use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::time::{Instant, Sleep};

/// How long the drain may take.
const LINGER: Duration = Duration::from_millis(500);
/// Most bytes read (and discarded) while draining.
const BUDGET: u64 = 256 * 1024;

/// How long the drain of a refused request body may take in all.
pub(crate) const REFUSED_BODY_TIME: Duration = Duration::from_secs(5);
/// How long the drain of a refused request body waits for the next bytes.
pub(crate) const REFUSED_BODY_GAP: Duration = Duration::from_secs(1);
/// Most bytes of a refused request body read and discarded (past its declared length,
/// or for a chunked body, the connection is closed anyway).
pub(crate) const REFUSED_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// How long and how much a linger-close drains.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drain {
    /// The whole drain's duration.
    pub total: Duration,
    /// The longest wait for the next bytes.
    pub gap: Duration,
    /// Most bytes read and discarded.
    pub bytes: u64,
}

impl Drain {
    /// The usual drain: 256 KiB within 500 ms (the last response or GOAWAY survives the
    /// peer's few bytes in flight).
    pub(crate) const DEFAULT: Drain = Drain {
        total: LINGER,
        gap: LINGER,
        bytes: BUDGET,
    };

    /// The drain after refusing a request body the client is still sending (a 413 for
    /// an upload over the limit, a handler that answered without reading): the rest of
    /// the body, `remaining` bytes when declared (else up to 64 MiB), for up to 5 s and
    /// while the bytes keep coming (1 s without any ends it). Closing with the body
    /// still arriving would make the kernel answer with a TCP RST, which can destroy the
    /// response before the client reads it; read to its end, the client sees the 413.
    pub(crate) fn refused_body(remaining: Option<u64>) -> Drain {
        Drain {
            total: REFUSED_BODY_TIME,
            gap: REFUSED_BODY_GAP,
            bytes: remaining
                .unwrap_or(REFUSED_BODY_BYTES)
                .clamp(BUDGET, REFUSED_BODY_BYTES),
        }
    }
}

/// Shuts down our side of `io`, then reads and discards up to 256 KiB into `scratch`
/// until the peer closes or 500 ms pass. `sleep` is re-armed for the deadline (a pinned
/// timer the caller already owns: no allocation).
#[cfg(feature = "http2")]
pub(crate) async fn linger_close<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    scratch: &mut [u8],
    sleep: Pin<&mut Sleep>,
) {
    linger_close_with(io, scratch, sleep, Drain::DEFAULT).await
}

/// [`linger_close`] with the bounds of `drain`.
pub(crate) async fn linger_close_with<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    scratch: &mut [u8],
    mut sleep: Pin<&mut Sleep>,
    drain: Drain,
) {
    let end = Instant::now() + drain.total;
    sleep.as_mut().reset(end.min(Instant::now() + drain.gap));
    let _ = tokio::select! {
        biased;
        r = io.shutdown() => r,
        _ = &mut sleep => return,
    };
    let mut budget = drain.bytes;
    while budget > 0 {
        sleep.as_mut().reset(end.min(Instant::now() + drain.gap));
        let n = tokio::select! {
            biased;
            r = io.read(scratch) => match r { Ok(n) => n, Err(_) => return },
            _ = &mut sleep => return,
        };
        if n == 0 {
            return;
        }
        budget = budget.saturating_sub(n as u64);
    }
}
