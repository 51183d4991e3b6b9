//! The HTTP/2 engine↔socket loop, used by the server and the client drivers: one
//! [`Connection`] (sans I/O) per socket, the wakers of the tasks waiting on its streams
//! ([`H2State`]), and [`run`], which moves bytes between the socket and the connection,
//! runs the connection's timers on one re-armed sleep and the driver's idle timeout, and
//! turns the connection's events into wake-ups.
//!
//! What differs between the roles comes in through [`Side`]: where the state lives (a
//! `RefCell` on the server, whose stream futures run on the connection's task; a `Mutex`
//! on the client, shared with request tasks), what a new request does (the server starts
//! its handler), and what the role polls on each round (the server's stream futures and
//! shutdown signal, the client's I/O waker).

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::hash::BuildHasherDefault;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use shockwave_http2_frames::conn::{
    Config, Connection, ConnectionError, Event, IdHasher, StreamError, StreamId,
};
use shockwave_http2_frames::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// A connection and the wakers of the tasks waiting on it. The connection emits events
/// instead of waking anyone: a task whose call returned [`StreamError::WouldBlock`]
/// parks its waker here under the same borrow/lock (so the event cannot slip between the
/// call and the registration), and [`H2State::next_event`] wakes it.
pub(crate) struct H2State {
    /// The sans-I/O connection.
    pub(crate) conn: Connection,
    /// One waker per stream: the task serving it (server) or using it (client) waits on
    /// one thing at a time. The map grows with the streams open at once and keeps that
    /// capacity, so a warm connection does not allocate here.
    wakers: HashMap<StreamId, Waker, BuildHasherDefault<IdHasher>>,
    /// Tasks waiting in `open_stream` for the peer's concurrency limit (client).
    open_waiters: Vec<Waker>,
    /// The I/O task, woken by stream-side calls that queued output (client).
    io: Option<Waker>,
}

impl H2State {
    /// `conn` with room for the wakers of a few streams (the map grows as needed).
    pub(crate) fn new(conn: Connection) -> Self {
        let streams = conn.config().max_concurrent_streams as usize + 1;
        H2State {
            conn,
            wakers: HashMap::with_capacity_and_hasher(streams.min(8), Default::default()),
            open_waiters: Vec::new(),
            io: None,
        }
    }

    /// Parks `cx`'s waker for `id` (cloned only when it changed).
    pub(crate) fn park(&mut self, id: StreamId, cx: &Context<'_>) {
        match self.wakers.get_mut(&id) {
            Some(w) => {
                if !w.will_wake(cx.waker()) {
                    w.clone_from(cx.waker());
                }
            }
            None => {
                self.wakers.insert(id, cx.waker().clone());
            }
        }
    }

    /// Sets the I/O task's waker.
    pub(crate) fn set_io(&mut self, cx: &Context<'_>) {
        match &mut self.io {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
    }

    /// Wakes the I/O task (output was queued, or credit may need a WINDOW_UPDATE).
    pub(crate) fn wake_io(&self) {
        if let Some(w) = &self.io {
            w.wake_by_ref();
        }
    }

    /// Reads body bytes of stream `id`; `Pending` (waker parked) until some arrive.
    pub(crate) fn poll_read(
        &mut self,
        id: StreamId,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, StreamError>> {
        match self.conn.read_data(id, buf) {
            Err(StreamError::WouldBlock) => {
                self.park(id, cx);
                Poll::Pending
            }
            r => Poll::Ready(r),
        }
    }

    /// Queues body bytes of stream `id` as flow control allows; `Pending` (waker parked)
    /// while no window or output space is left.
    pub(crate) fn poll_send(
        &mut self,
        id: StreamId,
        cx: &Context<'_>,
        data: &[u8],
        end_stream: bool,
    ) -> Poll<Result<usize, StreamError>> {
        match self.conn.send_data(id, data, end_stream) {
            Err(StreamError::WouldBlock) => {
                self.park(id, cx);
                Poll::Pending
            }
            r => Poll::Ready(r),
        }
    }

    /// The code stream `id` was reset with; `Pending` (waker parked) while it is not.
    pub(crate) fn poll_reset(&mut self, id: StreamId, cx: &Context<'_>) -> Poll<ErrorCode> {
        match self.conn.reset_code(id) {
            Some(code) => Poll::Ready(code),
            None => {
                self.park(id, cx);
                Poll::Pending
            }
        }
    }

    /// The final response head of client stream `id`; `Pending` until it arrives.
    pub(crate) fn poll_response(
        &mut self,
        id: StreamId,
        cx: &Context<'_>,
    ) -> Poll<Result<shockwave_http2_frames::conn::FieldBlock, StreamError>> {
        match self.conn.take_response(id) {
            Err(StreamError::WouldBlock) => {
                self.park(id, cx);
                Poll::Pending
            }
            r => Poll::Ready(r),
        }
    }

    /// Opens a client stream; `Pending` while the peer's concurrency limit (or a full
    /// output buffer) is reached.
    pub(crate) fn poll_open<'h, I>(
        &mut self,
        cx: &Context<'_>,
        fields: I,
        end_stream: bool,
    ) -> Poll<Result<StreamId, StreamError>>
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        match self.conn.open_stream(fields, end_stream) {
            Err(StreamError::WouldBlock) => {
                if !self.open_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    self.open_waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            r => Poll::Ready(r),
        }
    }

    /// Ends stream `id` (RST_STREAM CANCEL if unfinished) and forgets its waker.
    pub(crate) fn release(&mut self, id: StreamId) {
        self.conn.release(id);
        self.wakers.remove(&id);
    }

    /// The next event the driver must act on ([`Event::Request`], [`Event::GoAway`]);
    /// the others wake the task waiting on the stream (or to open one) on the way.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.conn.poll_event()? {
                Event::Response { stream_id }
                | Event::StreamReadable { stream_id }
                | Event::StreamWritable { stream_id }
                | Event::StreamReset { stream_id, .. } => {
                    if let Some(w) = self.wakers.get(&stream_id) {
                        w.wake_by_ref();
                    }
                }
                Event::CanOpenStream => self.open_waiters.drain(..).for_each(Waker::wake),
                ev => return Some(ev),
            }
        }
    }

    /// Wakes every waiting task (the connection is gone: their next call fails).
    pub(crate) fn wake_all(&mut self) {
        for w in self.wakers.values() {
            w.wake_by_ref();
        }
        self.open_waiters.drain(..).for_each(Waker::wake);
    }
}

/// What a role adds to the loop of [`run`].
pub(crate) trait Side {
    /// Runs `f` on the connection state (a `RefCell` borrow or a `Mutex` lock, held only
    /// for the call).
    fn state<R>(&mut self, f: impl FnOnce(&mut H2State) -> R) -> R;

    /// Start of a round (before any input): register wakers, poll the role's own
    /// signals. True if something happened.
    fn begin(&mut self, cx: &mut Context<'_>) -> bool;

    /// An event [`H2State::next_event`] left to the driver.
    fn event(&mut self, ev: Event);

    /// Polls the role's tasks (the server's stream futures). True if one finished.
    fn poll_tasks(&mut self, _cx: &mut Context<'_>) -> bool {
        false
    }

    /// True while tasks run that must finish before the connection closes.
    fn has_tasks(&self) -> bool {
        false
    }

    /// One of the connection's timers closed it (SETTINGS or PING ACK timeout).
    fn timed_out(&mut self, _error: ConnectionError) {}

    /// The connection received nothing for [`IDLE_RELEASE_AFTER`]: memory kept only to
    /// serve the next stream faster may go.
    fn idle(&mut self) {}
}

/// How [`run`] behaves for a role.
pub(crate) struct Options {
    /// The driver's idle timeout (`None`: none): when it fires with no open stream, the
    /// connection says GOAWAY. Restarted whenever the connection counts activity.
    pub(crate) idle_timeout: Option<Duration>,
    /// The idle timeout's first run, until the peer's first frame (`None`: the idle
    /// timeout): a connection that never even sends its preface (a silent TLS `h2`
    /// connection after the handshake) is not held for the whole idle timeout.
    pub(crate) first_idle_timeout: Option<Duration>,
    /// At EOF: return at once (client) instead of finishing the open streams' tasks and
    /// writing what is queued (server).
    pub(crate) return_at_eof: bool,
}

impl Options {
    /// The server's options for `config`.
    pub(crate) fn server(config: &Config) -> Self {
        Options {
            idle_timeout: Some(config.idle_timeout),
            first_idle_timeout: config
                .header_block_timeout
                .map(|t| t.min(config.idle_timeout)),
            return_at_eof: false,
        }
    }

    /// The client's options: no idle timeout (the pool owns idle connections).
    pub(crate) fn client() -> Self {
        Options {
            idle_timeout: None,
            first_idle_timeout: None,
            return_at_eof: true,
        }
    }
}

/// The read window a connection starts with (see [`read_buffer`]).
pub(crate) const INITIAL_READ_WINDOW: usize = 4 * 1024;

/// A connection's read buffer: `already_read` first, the rest zeroed up to
/// [`INITIAL_READ_WINDOW`] (or `limit` if smaller). An idle connection keeps this window
/// resident, not the whole read buffer; [`run`] widens it up to `limit` while reads fill
/// it.
pub(crate) fn read_buffer(already_read: &[u8], limit: usize) -> Vec<u8> {
    let len = INITIAL_READ_WINDOW
        .min(limit.max(1))
        .max(already_read.len());
    let mut rbuf = Vec::with_capacity(len);
    rbuf.extend_from_slice(already_read);
    rbuf.resize(len, 0);
    rbuf
}

/// How long a connection with nothing buffered waits for input before it frees its read
/// buffer (an idle connection then holds none; the next read allocates a new window).
pub(crate) const IDLE_RELEASE_AFTER: Duration = Duration::from_millis(250);

/// Drives the connection of `side` over `io` until it is done (GOAWAY sent or received and
/// every stream released, or a connection error), the peer closed, or the socket failed.
/// `rbuf[..filled]` holds bytes read before (e.g. the preface the server sniffed); they
/// are processed first. `rbuf`'s length is the read window: it doubles (up to `limit`
/// bytes) when a read fills it or an unfinished frame does (see [`read_buffer`]).
/// Each round: input → events → tasks → timers → output → input.
pub(crate) async fn run<IO, S>(
    io: &mut IO,
    side: &mut S,
    rbuf: &mut Vec<u8>,
    filled: usize,
    limit: usize,
    opts: Options,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Side,
{
    let (mut start, mut end) = (0usize, filled);
    let mut read_closed = false;
    let mut need_flush = false;
    let mut idle = pin!(opts
        .idle_timeout
        .map(|t| tokio::time::sleep(opts.first_idle_timeout.unwrap_or(t))));
    // The connection's timers (SETTINGS ACK, keep-alive PING and its ACK, stalled
    // streams): one sleep, re-armed when the connection's next deadline changes.
    let mut timer = pin!(tokio::time::sleep(Duration::ZERO));
    let mut timer_at: Option<std::time::Instant> = None;
    let mut seen_activity = 0u64;
    // Frees the read buffer of a connection idle for `IDLE_RELEASE_AFTER`: armed by a read
    // that found nothing (at most once per period: a read since arming re-arms it when it
    // fires instead of resetting it on every read).
    let mut release = pin!(tokio::time::sleep(Duration::ZERO));
    let mut release_armed = false;
    let mut read_since_arming = false;

    // Input bytes and frames consumed since this task last returned Pending (see
    // [`INPUT_BYTES_PER_POLL`]).
    let mut taken = 0usize;
    let mut taken_frames = 0u64;
    let result = poll_fn(|tcx| loop {
        let mut progress = side.begin(tcx);
        // One clock read per round: for the reset rate limits (`recv`), the idle timer and
        // the connection's timers.
        let now = Instant::now();
        if let (Some(sleep), Some(after)) = (idle.as_mut().as_pin_mut(), opts.idle_timeout) {
            let mut sleep = sleep;
            if sleep.as_mut().poll(tcx).is_ready() {
                side.state(|s| {
                    if s.conn.active_streams() == 0 {
                        s.conn.go_away();
                    }
                });
                sleep.as_mut().reset(now + after);
                progress = true;
            }
        }
        // Input already buffered (after backpressure, or read before we took over).
        if start < end && side.state(|s| s.conn.wants_read()) {
            let (r, activity) = side.state(|s| {
                let r = s.conn.recv(&rbuf[start..end], now.into_std());
                (r, s.conn.activity())
            });
            if activity != seen_activity {
                // Frames other than our PINGs' ACKs: not idle.
                taken_frames += activity.wrapping_sub(seen_activity);
                seen_activity = activity;
                if let (Some(sleep), Some(after)) = (idle.as_mut().as_pin_mut(), opts.idle_timeout)
                {
                    sleep.reset(now + after);
                }
            }
            if let Ok(n) = r {
                if n > 0 {
                    progress = true;
                }
                start += n;
                taken += n;
            }
            if start == end {
                start = 0;
                end = 0;
            }
        }
        drain(side);
        if side.poll_tasks(tcx) {
            progress = true;
        }
        // Time: after the tasks ran (a response that just blocked on flow control gets its
        // stall stamped), before writing (a PING or GOAWAY goes out now). RFC 9113 §6.5.3
        // (SETTINGS ACK), §6.7 (PING).
        let (fired, next) = side.state(|s| {
            let before = s.conn.error().is_some();
            s.conn.handle_timeout(now.into_std());
            let fired = if before { None } else { s.conn.error() };
            (fired, s.conn.poll_timeout())
        });
        if let Some(e) = fired {
            side.timed_out(e);
            progress = true;
        }
        drain(side);
        match (next, timer_at) {
            // A later deadline (e.g. the keep-alive pushed back by input) keeps the armed
            // sleep: it fires early once and is re-armed then, instead of being
            // re-registered on every read.
            (Some(n), Some(armed)) if n >= armed => {}
            (Some(n), _) => {
                timer_at = Some(n);
                timer.as_mut().reset(Instant::from_std(n));
            }
            (None, _) => timer_at = None,
        }
        if timer_at.is_some() && timer.as_mut().poll(tcx).is_ready() {
            // Due: the next round calls `handle_timeout` again, which fires it.
            timer_at = None;
            progress = true;
        }
        // Write everything queued, in as few writes as the socket takes.
        let written = side.state(|s| -> io::Result<bool> {
            let mut written = false;
            loop {
                let out = s.conn.pending_output();
                if out.is_empty() {
                    return Ok(written);
                }
                match Pin::new(&mut *io).poll_write(tcx, out) {
                    Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                    Poll::Ready(Ok(n)) => {
                        s.conn.advance_output(n);
                        written = true;
                    }
                    Poll::Ready(Err(e)) => return Err(e),
                    Poll::Pending => return Ok(written),
                }
            }
        });
        match written {
            Err(e) => return Poll::Ready(Err(e)),
            Ok(true) => {
                need_flush = true;
                progress = true;
                // Writers refused for output space may go on.
                drain(side);
            }
            Ok(false) => {}
        }
        let (flushed, done) =
            side.state(|s| (s.conn.pending_output().is_empty(), s.conn.is_done()));
        if need_flush && flushed {
            match Pin::new(&mut *io).poll_flush(tcx) {
                Poll::Ready(Ok(())) => need_flush = false,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if flushed && !need_flush && !side.has_tasks() && (done || read_closed) {
            return Poll::Ready(Ok(()));
        }
        if release_armed && release.is_elapsed() {
            release_armed = false;
            if start == end && !std::mem::take(&mut read_since_arming) {
                // Idle for the whole period: give the buffer back to the allocator.
                *rbuf = Vec::new();
                start = 0;
                end = 0;
                side.idle();
            }
        }
        if !read_closed && side.state(|s| s.conn.wants_read()) {
            // A released buffer: a new window for this read, freed again if it finds
            // nothing (only a wake-up of an idle connection gets here).
            let lent = rbuf.is_empty();
            if lent {
                *rbuf = read_buffer(&[], limit);
            }
            if end == rbuf.len() {
                if start > 0 {
                    rbuf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                } else if rbuf.len() < limit {
                    // An unfinished frame fills the window.
                    rbuf.resize((rbuf.len() * 2).min(limit), 0);
                }
            }
            if end < rbuf.len() {
                let window = rbuf.len() - end;
                let mut rb = ReadBuf::new(&mut rbuf[end..]);
                match Pin::new(&mut *io).poll_read(tcx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        progress = true;
                        if n == 0 {
                            read_closed = true;
                            side.state(|s| s.conn.peer_closed());
                            drain(side);
                            if opts.return_at_eof {
                                return Poll::Ready(Ok(()));
                            }
                        } else {
                            end += n;
                            read_since_arming = true;
                            if n == window && rbuf.len() < limit {
                                // More is likely waiting: read more at once next time.
                                rbuf.resize((rbuf.len() * 2).min(limit), 0);
                            }
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending if lent => *rbuf = Vec::new(),
                    Poll::Pending => {
                        if start == end && !release_armed {
                            release_armed = true;
                            read_since_arming = false;
                            release.as_mut().reset(now + IDLE_RELEASE_AFTER);
                            // Registers the timer's waker.
                            let _ = release.as_mut().poll(tcx);
                        }
                    }
                }
            }
        }
        if !progress {
            taken = 0;
            taken_frames = 0;
            return Poll::Pending;
        }
        if taken >= INPUT_BYTES_PER_POLL || taken_frames >= INPUT_FRAMES_PER_POLL {
            // Fairness: a peer that keeps the socket full (a flood of small frames, or
            // of requests) must not keep this task, and so its worker, busy: let the
            // other connections run, then go on where we stopped.
            taken = 0;
            taken_frames = 0;
            return yield_to_runtime(tcx);
        }
    })
    .await;
    if result.is_err() {
        // The socket failed: every stream is reset, so that its task stops.
        side.state(|s| s.conn.peer_closed());
        drain(side);
    }
    result
}

/// Input bytes one connection may process in one poll of its task before it yields to
/// the runtime (then it is polled again after the worker's other ready tasks and the I/O
/// driver): bounds how long a flooding peer can keep its worker from serving the others.
/// Large enough that a bulk upload in full-size DATA frames yields rarely.
pub(crate) const INPUT_BYTES_PER_POLL: usize = 256 * 1024;
/// Input frames one connection may process in one poll before it yields (the cost of a
/// flood of small frames is per frame, not per byte). One `recv` call takes at most the
/// read buffer (64 KiB), so the work of one poll stays bounded either way.
pub(crate) const INPUT_FRAMES_PER_POLL: u64 = 512;

/// Returns `Pending` after arranging a wake-up once the runtime has run its other tasks
/// and polled the I/O driver (`tokio::task::yield_now`'s deferred wake, not an immediate
/// `wake_by_ref` that a `LocalSet` would answer by polling this task again at once).
pub(crate) fn yield_to_runtime<T>(tcx: &mut Context<'_>) -> Poll<T> {
    let mut y = pin!(tokio::task::yield_now());
    if y.as_mut().poll(tcx).is_ready() {
        // Not reached: the first poll of `yield_now` defers the wake and is Pending.
        tcx.waker().wake_by_ref();
    }
    Poll::Pending
}

/// Hands every pending event to its waker or to the driver.
fn drain<S: Side>(side: &mut S) {
    while let Some(ev) = side.state(H2State::next_event) {
        side.event(ev);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Moves every queued byte from `from` to `to`.
    fn pump(from: &mut Connection, to: &mut Connection, now: std::time::Instant) {
        let out = from.pending_output().to_vec();
        from.advance_output(out.len());
        assert_eq!(to.recv(&out, now).unwrap(), out.len());
    }

    #[test]
    fn events_wake_the_parked_task_once_and_released_streams_are_forgotten() {
        let now = std::time::Instant::now();
        let mut client = H2State::new(Connection::client(Config::default()));
        let mut server = Connection::new(Config::default());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        let fields: [(&[u8], &[u8]); 4] = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":authority", b"a.test"),
            (b":path", b"/"),
        ];
        let Poll::Ready(Ok(id)) = client.poll_open(&cx, fields, true) else {
            panic!("open refused");
        };
        assert!(client.poll_response(id, &cx).is_pending());
        assert!(
            client.poll_reset(id, &cx).is_pending(),
            "parks the same waker"
        );
        assert!(client.next_event().is_none());
        assert_eq!(count.0.load(Ordering::Relaxed), 0);

        pump(&mut client.conn, &mut server, now);
        pump(&mut server, &mut client.conn, now);
        while let Some(ev) = server.poll_event() {
            if let Event::Request { stream_id } = ev {
                let status: [(&[u8], &[u8]); 1] = [(b":status", b"200")];
                server.send_headers(stream_id, status, true).unwrap();
            }
        }
        pump(&mut server, &mut client.conn, now);
        // The response event wakes the waiting task and is not handed to the driver.
        assert!(client.next_event().is_none());
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        let Poll::Ready(Ok(head)) = client.poll_response(id, &cx) else {
            panic!("no response");
        };
        assert_eq!(head.status(), Some(200));
        client.release(id);
        assert!(
            client.wakers.is_empty(),
            "a released stream's waker is dropped"
        );
        client.wake_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn read_buffers_start_with_a_small_window() {
        let idle = read_buffer(&[], 64 * 1024);
        assert_eq!(idle.len(), INITIAL_READ_WINDOW);
        assert!(idle.capacity() < 64 * 1024, "{}", idle.capacity());
        // Bytes read before come first; a small limit caps the window.
        let sniffed = read_buffer(b"PRI * HTTP/2.0", 64 * 1024);
        assert_eq!(&sniffed[..14], b"PRI * HTTP/2.0");
        assert_eq!(sniffed.len(), INITIAL_READ_WINDOW);
        assert_eq!(read_buffer(&[], 1000).len(), 1000);
        assert_eq!(read_buffer(&[7; 5000], 1000).len(), 5000);
    }
}
