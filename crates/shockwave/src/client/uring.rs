//! The client's io_uring connections ([`Io::Uring`](super::Io::Uring)): cleartext TCP
//! (HTTP/1.1 and h2c) through the ring of `common/uring`, the one the server's listeners
//! use.
//!
//! A client owns one ring ([`Rings`]), created on its first io_uring connection, whose
//! reactor is a task of the tokio runtime that connection was made on (multi-thread or
//! current-thread): an eventfd registered with the ring is watched by tokio's reactor,
//! and the task submits everything the connections queued (receives, sends,
//! cancellations) with one `io_uring_enter` per turn and dispatches the completions.
//! The ring's [`Driver`] sits behind a mutex, so a connection ([`UringStream`]) may be
//! polled from any worker thread; the ring is set up without `SINGLE_ISSUER` for that
//! reason.
//!
//! Connections are established as on the epoll path (resolution, Happy Eyeballs,
//! proxies and their tunnels, `TCP_NODELAY`); the connected socket then moves to the
//! ring. Where the ring cannot be set up (or its runtime has shut down and a new one
//! cannot be), the connection stays on epoll, with a logged reason.
//!
//! The reactor ends once the client and all of its connections are dropped (the ring's
//! drop cancels whatever still runs), or with its runtime; a later connection on another
//! runtime then gets a new ring.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::common::uring::ring::{Driver, Turn};

/// How long a dropped connection's queued bytes may still be sent before the send is
/// cancelled (the client drops a connection mid-request only on an error or a timeout).
const LINGER: Duration = Duration::from_secs(5);

/// One ring and its reactor task.
struct Shared {
    driver: Mutex<Driver>,
    /// The ring's eventfd (owned by the driver, which outlives every `Arc` to this).
    efd: RawFd,
    /// The client's [`Rings`] (while it holds this ring) plus the live connections; the
    /// reactor ends at zero.
    users: AtomicUsize,
    /// The reactor task ended (its runtime shut down, or it failed): connections fail.
    dead: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Driver> {
        // A panic under the lock leaves the driver's bookkeeping as it was at the panic;
        // the connections of a poisoned ring still fail cleanly or finish.
        self.driver.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn leave(&self) {
        if self.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The reactor checks `users` under the lock, after registering its waker.
            self.lock().wake_reactor();
        }
    }
}

/// The eventfd as tokio's reactor sees it (holding the ring, so the descriptor outlives
/// the registration).
struct SharedFd(Arc<Shared>);

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.efd
    }
}

/// A client's io_uring ring, created on first use (see the module docs).
#[derive(Default)]
pub(crate) struct Rings {
    current: Mutex<Option<Arc<Shared>>>,
}

impl std::fmt::Debug for Rings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rings")
    }
}

impl Drop for Rings {
    fn drop(&mut self) {
        let current = self.current.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = current.take() {
            shared.leave();
        }
    }
}

impl Rings {
    /// Moves the connected socket `tcp` onto the ring (setting the ring and its reactor
    /// up on this runtime if needed). Where the ring cannot be had, `tcp` comes back
    /// (still on epoll) with the reason.
    pub(crate) fn adopt(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> io::Result<Result<UringStream, (String, tokio::net::TcpStream)>> {
        // Leaves tokio's reactor; the descriptor stays open and non-blocking.
        let std = tcp.into_std()?;
        let shared = match self.ring() {
            Ok(s) => s,
            Err(reason) => return Ok(Err((reason, tokio::net::TcpStream::from_std(std)?))),
        };
        let (idx, _) = shared.lock().add_conn(OwnedFd::from(std));
        Ok(Ok(UringStream { shared, idx }))
    }

    /// The ring (counted as one more user), created if there is none or its reactor
    /// ended.
    fn ring(&self) -> Result<Arc<Shared>, String> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = current.as_ref() {
            if !s.dead.load(Ordering::Acquire) {
                s.users.fetch_add(1, Ordering::AcqRel);
                return Ok(s.clone());
            }
        }
        if let Some(old) = current.take() {
            old.leave();
        }
        let shared = start()?;
        shared.users.fetch_add(1, Ordering::AcqRel); // the connection's
        *current = Some(shared.clone());
        Ok(shared)
    }
}

/// Sets a ring up and spawns its reactor on the current runtime.
fn start() -> Result<Arc<Shared>, String> {
    let driver =
        Driver::new_shared(LINGER).map_err(|e| format!("io_uring ring setup failed: {e}"))?;
    let efd = driver.wake_fd();
    let shared = Arc::new(Shared {
        driver: Mutex::new(driver),
        efd,
        users: AtomicUsize::new(1), // the `Rings`' own
        dead: AtomicBool::new(false),
    });
    // SAFETY: `SharedFd` holds the ring, whose driver owns the eventfd: the descriptor
    // stays open and the same for as long as the `AsyncFd` (which owns the `SharedFd`)
    // lives.
    let afd =
        unsafe { AsyncFd::register_with_interest(SharedFd(shared.clone()), Interest::READABLE) }
            .map_err(|e| format!("cannot watch the io_uring eventfd: {e}"))?;
    tokio::spawn(reactor(shared.clone(), afd));
    Ok(shared)
}

/// Marks the ring dead when the reactor ends (also when its runtime drops it) and wakes
/// the connections, which then fail instead of waiting for completions nobody reaps.
struct DeadOnDrop(Arc<Shared>);

impl Drop for DeadOnDrop {
    fn drop(&mut self) {
        self.0.dead.store(true, Ordering::Release);
        self.0.lock().wake_all();
    }
}

/// The reactor task: turns of the ring, the deadlines of dropped connections still
/// sending; ends when nobody uses the ring any more.
async fn reactor(shared: Arc<Shared>, afd: AsyncFd<SharedFd>) {
    let _dead = DeadOnDrop(shared.clone());
    let mut turn = Turn::default();
    let linger = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(linger);
    let mut next_linger = None;
    loop {
        let mut done = false;
        tokio::select! {
            biased;
            _ = &mut linger, if next_linger.is_some() => {
                next_linger = None;
            }
            r = std::future::poll_fn(|cx| {
                let d = shared.lock();
                if shared.users.load(Ordering::Acquire) == 0 {
                    return Poll::Ready(Ok(true));
                }
                d.poll_turn(cx, &afd, &mut turn).map_ok(|()| false)
            }) => match r {
                Ok(stop) => done = stop,
                Err(e) => {
                    tracing::error!(error = %e, "the client's io_uring reactor failed");
                    return;
                }
            }
        }
        if done {
            break;
        }
        // The client's ring has no listeners: nothing is accepted.
        turn.accepted.clear();
        turn.failed.clear();
        if next_linger.is_none() {
            if let Some(at) = shared.lock().expire_lingering(tokio::time::Instant::now()) {
                linger.as_mut().reset(at);
                next_linger = Some(at);
            }
        }
    }
    // The `AsyncFd` leaves tokio's reactor before the ring (and its eventfd) may go.
    drop(afd);
}

/// A cleartext TCP connection of the client running on io_uring
/// ([`Io::Uring`](super::Io::Uring)): an `AsyncRead + AsyncWrite` byte stream (the
/// [`Transport::Uring`](super::Transport::Uring) variant), `Send + Sync`, usable from
/// any thread of the runtime. Reads copy from the bytes the ring received; writes queue
/// and return at once (the reactor sends them with its next batched submission), waiting
/// only once 256 KiB are unsent.
pub struct UringStream {
    shared: Arc<Shared>,
    idx: usize,
}

impl std::fmt::Debug for UringStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringStream")
            .field("slot", &self.idx)
            .finish_non_exhaustive()
    }
}

fn reactor_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the io_uring reactor of this connection ended (its tokio runtime shut down)",
    )
}

impl UringStream {
    fn driver(&self) -> io::Result<MutexGuard<'_, Driver>> {
        if self.shared.dead.load(Ordering::Acquire) {
            return Err(reactor_gone());
        }
        Ok(self.shared.lock())
    }

    /// Cheap liveness check for an idle pooled connection: `false` once the peer closed
    /// it or sent unsolicited bytes, an error arrived, or the ring's reactor ended.
    pub(crate) fn idle_is_usable(&self) -> bool {
        self.driver().is_ok_and(|d| d.idle_is_usable(self.idx))
    }
}

impl AsyncRead for UringStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.driver() {
            Ok(d) => d.poll_read(self.idx, cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for UringStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.driver() {
            Ok(d) => d.poll_write(self.idx, cx, &[io::IoSlice::new(buf)]),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.driver() {
            Ok(d) => d.poll_write(self.idx, cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.driver() {
            Ok(d) => d.poll_flush(self.idx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.driver() {
            Ok(d) => d.poll_shutdown(self.idx, cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for UringStream {
    fn drop(&mut self) {
        // Stops receiving, lets a send in flight finish (bounded by `LINGER`), closes
        // the socket once nothing runs; also after the reactor ended (the ring's drop
        // then cancels what is left).
        self.shared.lock().release(self.idx);
        self.shared.leave();
    }
}
