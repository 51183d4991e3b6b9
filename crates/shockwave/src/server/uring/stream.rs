//! [`UringStream`]: an accepted TCP connection served through the worker's ring, as an
//! `AsyncRead + AsyncWrite` stream, so the HTTP/1.1 and h2c drivers (and upgrades) run on
//! it unchanged.
//!
//! Reads copy from the connection's inbox (filled by the multishot receive); writes copy
//! into its outbox and return at once (the reactor sends the outbox with the next batched
//! submission, like a kernel send buffer), waiting only once `WRITE_CAP` bytes are
//! unsent. `poll_flush` is that of a socket (nothing of ours to flush); `poll_shutdown`
//! waits until every queued byte is sent, then shuts the write side.

use std::cell::Cell;
use std::io;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::common::uring::ring::{os_error, register, ConnState, Driver};

thread_local! {
    /// This thread's id for [`UringStream`]'s home check (unique for the process's
    /// lifetime, unlike a thread-local's address).
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

fn thread_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    THREAD.with(|t| {
        if t.get() == 0 {
            t.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// A connection of the worker's ring. Used on another thread (an upgraded connection
/// moved off its worker), every operation fails with an error, and dropping it there
/// leaks its slot instead of touching the worker's state.
pub(crate) struct UringStream {
    driver: ManuallyDrop<Rc<Driver>>,
    idx: usize,
    home: u64,
}

// SAFETY: the only thread-bound part is the `Rc<Driver>` (and, through it, the ring and
// the connection's slot). It is dereferenced and its count changed only on the thread
// that created the stream: every method checks `home` first and fails elsewhere, and
// `Drop` elsewhere forgets the `Rc` without touching it (a leak, never a data race).
unsafe impl Send for UringStream {}

fn off_thread() -> io::Error {
    io::Error::other("an io_uring connection is used off its worker thread")
}

impl UringStream {
    pub(crate) fn new(driver: Rc<Driver>, fd: std::os::fd::OwnedFd) -> UringStream {
        let (idx, _) = driver.add_conn(fd);
        UringStream {
            driver: ManuallyDrop::new(driver),
            idx,
            home: thread_id(),
        }
    }

    /// The driver, if on the home thread.
    fn driver(&self) -> io::Result<&Driver> {
        if thread_id() == self.home {
            Ok(&self.driver)
        } else {
            Err(off_thread())
        }
    }

    fn with<R>(&self, f: impl FnOnce(&Driver, &mut ConnState) -> R) -> io::Result<R> {
        let d = self.driver()?;
        Ok(d.with_conn(self.idx, |c| f(d, c)))
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

impl UringStream {
    fn queue(&self, cx: &Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self.driver() {
            Ok(d) => d.poll_write(self.idx, cx, bufs),
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
        self.queue(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.queue(cx, bufs)
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

impl crate::server::worker::Peek for UringStream {
    fn readable(&self) -> impl std::future::Future<Output = io::Result<tokio::io::Ready>> {
        std::future::poll_fn(move |cx| {
            let idx = self.idx;
            let r = self.with(|d, c| {
                if c.err.is_some() || c.eof {
                    return Poll::Ready(Ok(
                        tokio::io::Ready::READABLE | tokio::io::Ready::READ_CLOSED
                    ));
                }
                if c.unread() > c.peek_mark {
                    return Poll::Ready(Ok(tokio::io::Ready::READABLE));
                }
                d.arm_recv(idx, c);
                register(&mut c.reader, cx);
                Poll::Pending
            });
            r.unwrap_or_else(|e| Poll::Ready(Err(e)))
        })
    }

    fn try_peek(&self, buf: &mut [u8], accept: &dyn Fn(usize) -> bool) -> io::Result<usize> {
        self.with(|_, c| {
            if let Some(e) = c.err {
                return Err(os_error(e));
            }
            let n = c.unread().min(buf.len());
            buf[..n].copy_from_slice(&c.inbox[c.pos..c.pos + n]);
            if accept(n) {
                Ok(n)
            } else {
                c.peek_mark = c.unread();
                Err(io::ErrorKind::WouldBlock.into())
            }
        })?
    }
}

impl Drop for UringStream {
    fn drop(&mut self) {
        if thread_id() == self.home {
            self.driver.release(self.idx);
            // SAFETY: dropped once, here, on the home thread.
            unsafe { ManuallyDrop::drop(&mut self.driver) };
        }
        // Elsewhere: the `Rc` is forgotten (see the `Send` impl).
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::uring::ring::WRITE_CAP;
    use std::io::{Read as _, Write as _};
    use std::task::Waker;
    use std::time::Duration;

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// The `Send` impl: moved to another thread (as an upgraded connection could be),
    /// the stream fails every operation and its drop leaks instead of touching the
    /// worker's `Rc`.
    #[test]
    fn off_its_thread_a_stream_fails_and_its_drop_leaks() {
        let (_client, server) = pair();
        let driver = Rc::new(Driver::new(Duration::from_secs(1)).unwrap());
        let stream = UringStream::new(driver.clone(), server.into());
        assert_eq!(Rc::strong_count(&driver), 2);
        std::thread::spawn(move || {
            let mut s = stream;
            let mut cx = Context::from_waker(Waker::noop());
            let mut buf = [0u8; 8];
            let mut rb = ReadBuf::new(&mut buf);
            let r = Pin::new(&mut s).poll_read(&mut cx, &mut rb);
            assert!(
                matches!(r, Poll::Ready(Err(ref e)) if e.to_string().contains("off its worker"))
            );
            let w = Pin::new(&mut s).poll_write(&mut cx, b"x");
            assert!(matches!(w, Poll::Ready(Err(_))));
            let p = crate::server::worker::Peek::try_peek(&s, &mut buf, &|_| true);
            assert!(p.is_err());
            drop(s);
        })
        .join()
        .unwrap();
        // The count the moved stream held is leaked; its slot is still live.
        assert_eq!(Rc::strong_count(&driver), 2);
        assert_eq!(driver.live_conns(), 1);
    }

    /// On its thread, with a reactor: bytes both ways through the ring, a write larger
    /// than the send cap (short sends), the peer's EOF, and the slot freed after the
    /// drop once its operations completed; dropping the driver then finds nothing to
    /// cancel.
    #[test]
    fn on_its_thread_bytes_flow_through_the_ring() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut client, server) = pair();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let driver = Rc::new(Driver::new(Duration::from_secs(1)).unwrap());
            // SAFETY: as in `uring::start`: the `RingFd` keeps the driver (and its
            // eventfd) alive for as long as the `AsyncFd`.
            let afd = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    crate::common::uring::ring::RingFd(driver.clone()),
                    tokio::io::Interest::READABLE,
                )
            }
            .unwrap();
            let reactor = {
                let driver = driver.clone();
                tokio::task::spawn_local(async move {
                    let mut turn = crate::common::uring::ring::Turn::default();
                    loop {
                        let _ =
                            std::future::poll_fn(|cx| driver.poll_turn(cx, &afd, &mut turn)).await;
                    }
                })
            };
            let mut s = UringStream::new(driver.clone(), server.into());
            let big: Vec<u8> = (0..3 * WRITE_CAP).map(|i| (i % 253) as u8).collect();
            let expected = big.clone();
            let peer = std::thread::spawn(move || {
                client.write_all(b"ping").unwrap();
                let mut got = vec![0u8; expected.len()];
                client.read_exact(&mut got).unwrap();
                assert!(got == expected);
                client.shutdown(std::net::Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                client.read_to_end(&mut rest).unwrap();
                rest
            });
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            s.write_all(&big).await.unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            s.write_all(b"bye").await.unwrap();
            s.shutdown().await.unwrap();
            drop(s);
            let tail = tokio::task::spawn_blocking(move || peer.join().unwrap())
                .await
                .unwrap();
            assert_eq!(tail, b"bye");
            // The receive ended with the EOF and the sends completed: the slot is gone.
            for _ in 0..100 {
                if driver.live_conns() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(driver.live_conns(), 0);
            reactor.abort();
        });
    }
}
