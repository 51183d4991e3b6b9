//! The io_uring driver of the cleartext TCP listeners ([`Io::Uring`](super::Io::Uring)).
//!
//! Thread-per-core like the epoll driver: each worker owns one ring (`common/uring`,
//! shared with the client's io_uring connections) with a
//! multishot accept on the worker's own `SO_REUSEPORT` listener and a multishot receive
//! per connection into a provided-buffer ring. The ring runs inside the worker's
//! current-thread tokio runtime: an eventfd registered with the ring is watched by
//! tokio's reactor (readable when completions or deferred work wait), so handler futures,
//! timers and the shutdown signal work as on the epoll path. The ring is set up with
//! `SINGLE_ISSUER | COOP_TASKRUN | TASKRUN_FLAG` where the kernel has them: completions
//! never interrupt the running worker (they run at its next system call). A reactor task
//! submits everything the connections queued (receives, sends, cancellations) with one
//! `io_uring_enter` per turn (which also runs pending completion work) and dispatches the
//! completions.
//!
//! Each connection is a [`UringStream`] (`AsyncRead + AsyncWrite`), served by the same
//! `serve_cleartext` as an epoll connection: the h2c preface sniff, then the HTTP/1.1
//! driver (pipelining, keep-alive, every limit and timeout, the shared response pipeline)
//! or the h2c driver. No second parser or response writer exists.

mod stream;

use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::handler::Handler;
use super::state::WorkerState;
use super::stats::inc;
use super::worker::{serve_cleartext, ActiveGuard};
pub(crate) use crate::common::uring::ring::probe;
use crate::common::uring::ring::{Driver, RingFd, Turn};
pub(crate) use stream::UringStream;

/// Starts the worker's io_uring reactor over `listeners`. On failure (the ring cannot be
/// set up here) the listeners come back with the error, for the epoll driver.
#[allow(clippy::type_complexity)]
pub(crate) fn start<H: Handler>(
    listeners: Vec<std::net::TcpListener>,
    state: Rc<WorkerState<H>>,
) -> Result<tokio::task::JoinHandle<()>, (std::io::Error, Vec<std::net::TcpListener>)> {
    let driver = match Driver::new(state.config.timeouts.write) {
        Ok(d) => Rc::new(d),
        Err(e) => return Err((e, listeners)),
    };
    // SAFETY: `RingFd` holds the driver, which owns the ring's eventfd: the descriptor
    // stays open and the same for as long as the `AsyncFd` (which owns the `RingFd`) lives.
    let afd = match unsafe {
        AsyncFd::register_with_interest(RingFd(driver.clone()), Interest::READABLE)
    } {
        Ok(a) => a,
        Err(e) => return Err((e.into(), listeners)),
    };
    for l in listeners {
        driver.add_listener(OwnedFd::from(l));
    }
    Ok(tokio::task::spawn_local(drive(driver, afd, state)))
}

/// The reactor task: turns of the ring, admission of accepted connections, the shutdown
/// signal (stop accepting), deadlines of closed connections still sending.
async fn drive<H: Handler>(driver: Rc<Driver>, afd: AsyncFd<RingFd>, st: Rc<WorkerState<H>>) {
    let mut shutdown = st.shutdown.clone();
    let mut stopping = false;
    let mut turn = Turn::default();
    let linger = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(linger);
    let mut next_linger = None;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                driver.stop_accepting();
            }
            _ = &mut linger, if next_linger.is_some() => {
                next_linger = None;
            }
            r = std::future::poll_fn(|cx| driver.poll_turn(cx, &afd, &mut turn)) => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "io_uring reactor failed");
                    return;
                }
            }
        }
        for fd in turn.accepted.drain(..) {
            admit(&driver, &st, fd, stopping);
        }
        for idx in turn.failed.drain(..) {
            // EMFILE and friends: back off briefly instead of spinning.
            let driver = driver.clone();
            tokio::task::spawn_local(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                driver.arm_accept(idx);
            });
        }
        if next_linger.is_none() {
            if let Some(at) = driver.expire_lingering(tokio::time::Instant::now()) {
                linger.as_mut().reset(at);
                next_linger = Some(at);
            }
        }
    }
}

/// A connection the ring accepted: refused with 503 past the connection cap (as on the
/// epoll path), else served by `serve_cleartext` on a [`UringStream`].
fn admit<H: Handler>(driver: &Rc<Driver>, st: &Rc<WorkerState<H>>, fd: OwnedFd, stopping: bool) {
    if stopping {
        return; // closed unserved, as the epoll path no longer accepts
    }
    let counters = &st.counters;
    let sock = socket2::SockRef::from(&fd);
    if st.active.get() >= st.config.limits.max_connections_per_worker {
        inc(&counters.connections_refused);
        // Best effort, never blocking the reactor.
        const REFUSED: &[u8] =
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        let _ = sock.send_with_flags(REFUSED, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
        return;
    }
    let _ = sock.set_tcp_nodelay(true);
    let remote = sock.peer_addr().ok().and_then(|a| a.as_socket());
    inc(&counters.connections_accepted);
    inc(&counters.connections_active);
    st.active.set(st.active.get() + 1);
    let guard = ActiveGuard(st.clone());
    let stream = UringStream::new(driver.clone(), fd);
    tokio::task::spawn_local(async move {
        serve_cleartext(stream, &guard.0, remote).await;
        drop(guard);
    });
}
