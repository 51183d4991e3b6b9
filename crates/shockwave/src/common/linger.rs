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
const BUDGET: usize = 256 * 1024;

/// Shuts down our side of `io`, then reads and discards up to 256 KiB into `scratch`
/// until the peer closes or 500 ms pass. `sleep` is re-armed for the deadline (a pinned
/// timer the caller already owns: no allocation).
pub(crate) async fn linger_close<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    scratch: &mut [u8],
    mut sleep: Pin<&mut Sleep>,
) {
    sleep.as_mut().reset(Instant::now() + LINGER);
    let _ = tokio::select! {
        biased;
        r = io.shutdown() => r,
        _ = &mut sleep => return,
    };
    let mut budget = BUDGET;
    while budget > 0 {
        let n = tokio::select! {
            biased;
            r = io.read(scratch) => match r { Ok(n) => n, Err(_) => return },
            _ = &mut sleep => return,
        };
        if n == 0 {
            return;
        }
        budget = budget.saturating_sub(n);
    }
}
