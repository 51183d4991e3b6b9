//! An io_uring ring (one per server worker, one per client and runtime): submission
//! batching, completion dispatch, the provided-buffer ring, the connection slots whose
//! buffers the kernel uses while an operation runs, and the byte-stream operations
//! (`poll_read`, `poll_write`, `poll_shutdown`) the server's and the client's streams
//! share.
//!
//! The [`Driver`] is single-threaded (`RefCell`s): the server keeps it in an `Rc` on its
//! worker thread; the client keeps it behind a `Mutex`, so a connection may be polled
//! from any thread of a multi-thread runtime.
//!
//! # Ownership of the memory the kernel touches
//!
//! - **Receive buffers** live in [`BufRing`]: one allocation the kernel writes into
//!   (multishot `recv` picks a buffer from the ring). A buffer is read by us only after its
//!   completion handed it back, and is copied out and returned to the ring in the same
//!   turn. The allocation is freed only after the ring is unregistered, once no operation
//!   is in flight (else it is leaked).
//! - **Send buffers** are each connection's `sending` vector: while a `send` is in flight it
//!   is never resized, cleared or dropped (new bytes go to `outbox`), and the slot holding
//!   it is freed only when the connection's last operation completed.
//! - **The slots** stay allocated (their vectors' heap buffers do not move when the slot
//!   vector grows) until `inflight` is zero; [`Driver`]'s `Drop` cancels whatever still
//!   runs and waits for it, and leaks the memory if the kernel does not let go in time.

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// Submission queue entries (the completion queue is four times larger).
const RING_ENTRIES: u32 = 1024;
/// Provided receive buffers per worker, and their size.
const BUF_COUNT: u16 = 256;
const BUF_SIZE: usize = 8 * 1024;
/// Reactor turns (each after the woken connections ran) without completions before the
/// reactor parks on its eventfd; reset by every turn that had completions.
const SPINS: u32 = 2;
/// The provided-buffer group id.
const BGID: u16 = 0;
/// Unread received bytes above which a connection's multishot receive is cancelled (the
/// peer then meets TCP flow control, as with epoll); it is re-armed once read.
pub(crate) const INBOX_HIGH: usize = 256 * 1024;
/// Unsent bytes a connection may queue before `poll_write` waits for the socket.
pub(crate) const WRITE_CAP: usize = 256 * 1024;

// The kind of operation, in the low byte of `user_data` (the slot index above it).
const K_ACCEPT: u64 = 1;
const K_RECV: u64 = 2;
const K_SEND: u64 = 3;
const K_CANCEL: u64 = 4;
const K_LISTENER_CANCEL: u64 = 5;
const K_CANCEL_ALL: u64 = 6;

fn ud(kind: u64, idx: usize) -> u64 {
    (idx as u64) << 8 | kind
}

/// Checks that io_uring can serve here: the `SHOCKWAVE_IO_URING=off` switch, a kernel of
/// 6.0 or later (multishot receive), a ring, the opcodes, a provided-buffer ring.
///
/// Runs on a short-lived thread of its own: closing a ring queues exit work to the
/// threads that used it, which would interrupt a blocking system call of the caller's
/// thread (`EINTR` on a socket read with a timeout).
pub(crate) fn probe() -> Result<(), String> {
    std::thread::Builder::new()
        .name("shockwave-io-uring-probe".into())
        .spawn(probe_here)
        .map_err(|e| format!("cannot start the probe thread: {e}"))?
        .join()
        .unwrap_or_else(|_| Err("the io_uring probe panicked".into()))
}

fn probe_here() -> Result<(), String> {
    if std::env::var_os("SHOCKWAVE_IO_URING").is_some_and(|v| v == "off") {
        return Err("disabled by SHOCKWAVE_IO_URING=off".into());
    }
    let release = kernel_release();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if major < 6 {
        return Err(format!(
            "kernel {release} is older than 6.0 (multishot receive)"
        ));
    }
    let ring = IoUring::new(8).map_err(|e| format!("io_uring_setup failed: {e}"))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring probe failed: {e}"))?;
    for (code, name) in [
        (opcode::AcceptMulti::CODE, "accept"),
        (opcode::RecvMulti::CODE, "recv"),
        (opcode::Send::CODE, "send"),
        (opcode::AsyncCancel::CODE, "async cancel"),
    ] {
        if !probe.is_supported(code) {
            return Err(format!("io_uring opcode {name} is not supported"));
        }
    }
    let mut bufs = BufRing::new(&ring, 2, 64)
        .map_err(|e| format!("provided-buffer ring registration failed: {e}"))?;
    let _ = bufs.unregister(&ring);
    Ok(())
}

fn kernel_release() -> String {
    // SAFETY: `uname` fills the zeroed struct it is given; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return String::new();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// The provided-buffer ring: `count` buffers of `size` bytes the kernel picks from for
/// multishot receives.
struct BufRing {
    /// The ring of entries (page-aligned, `count` entries), shared with the kernel.
    entries: *mut types::BufRingEntry,
    entries_layout: Layout,
    /// The buffers, `count * size` bytes.
    mem: *mut u8,
    mem_layout: Layout,
    size: usize,
    mask: u16,
    /// Our copy of the tail (published with a release store).
    tail: u16,
    registered: bool,
}

// SAFETY: the two pointers are allocations this value owns (no thread affinity: any
// thread may write the entries or read the buffers); every access goes through `&mut
// self`/`&self` of the one `Driver` that owns the ring, which its owner synchronises
// (an `Rc` on one thread in the server, a `Mutex` in the client). Exercised by the client
// tests on a multi-thread runtime (tests/io_uring_client.rs).
unsafe impl Send for BufRing {}

impl BufRing {
    fn new(ring: &IoUring, count: u16, size: usize) -> io::Result<BufRing> {
        assert!(count.is_power_of_two());
        let entries_layout =
            Layout::from_size_align(count as usize * size_of::<types::BufRingEntry>(), 4096)
                .map_err(io::Error::other)?;
        let mem_layout =
            Layout::from_size_align(count as usize * size, 64).map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size.
        let (entries, mem) = unsafe {
            (
                std::alloc::alloc_zeroed(entries_layout).cast::<types::BufRingEntry>(),
                std::alloc::alloc(mem_layout),
            )
        };
        if entries.is_null() || mem.is_null() {
            // SAFETY: each non-null pointer was allocated with its layout just above.
            unsafe {
                if !entries.is_null() {
                    std::alloc::dealloc(entries.cast(), entries_layout);
                }
                if !mem.is_null() {
                    std::alloc::dealloc(mem, mem_layout);
                }
            }
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let mut bufs = BufRing {
            entries,
            entries_layout,
            mem,
            mem_layout,
            size,
            mask: count - 1,
            tail: 0,
            registered: false,
        };
        // SAFETY: `entries` is a zeroed, page-aligned allocation of `count` entries that
        // outlives the registration: `Drop` frees it only after unregistering (the driver
        // leaks it instead if operations may still use it).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, count, BGID, 0)?;
        }
        bufs.registered = true;
        for bid in 0..count {
            bufs.push(bid);
        }
        bufs.publish();
        Ok(bufs)
    }

    /// Gives buffer `bid` (back) to the kernel; visible after [`BufRing::publish`].
    fn push(&mut self, bid: u16) {
        let slot = (self.tail & self.mask) as usize;
        // SAFETY: `slot` is within the `count` entries; the kernel reads entries only
        // between its head and the published tail, and this one is past the tail.
        let entry = unsafe { &mut *self.entries.add(slot) };
        // SAFETY: `bid < count`, so the buffer lies within `mem`.
        entry.set_addr(unsafe { self.mem.add(bid as usize * self.size) } as u64);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the pushed entries to the kernel.
    fn publish(&self) {
        // SAFETY: `entries` is the ring's base (the tail field overlays the first entry's
        // reserved field, which the kernel reads atomically).
        let tail = unsafe { &*types::BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// The first `len` bytes of buffer `bid`, which a completion just handed back to us.
    fn get(&self, bid: u16, len: usize) -> &[u8] {
        assert!(bid <= self.mask && len <= self.size);
        // SAFETY: the buffer is ours until pushed back (the kernel wrote it before posting
        // the completion that returned it), in bounds, and initialised for `len` bytes.
        unsafe { std::slice::from_raw_parts(self.mem.add(bid as usize * self.size), len) }
    }
}

impl BufRing {
    fn unregister(&mut self, ring: &IoUring) -> io::Result<()> {
        ring.submitter().unregister_buf_ring(BGID)?;
        self.registered = false;
        Ok(())
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.registered {
            // Still registered: the kernel may write into it. Leaked (the driver
            // unregisters it first whenever no operation is in flight).
            return;
        }
        // SAFETY: unregistered, and no operation that picked a buffer is in flight (the
        // driver's drop waits for them): no kernel access remains.
        unsafe {
            std::alloc::dealloc(self.entries.cast(), self.entries_layout);
            std::alloc::dealloc(self.mem, self.mem_layout);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Recv {
    Idle,
    Armed,
    Cancelling,
}

/// One connection's state, owned by the driver (see the module docs).
pub(crate) struct ConnState {
    fd: OwnedFd,
    gen: u32,
    /// Received, not yet read bytes: `inbox[pos..]`.
    pub inbox: Vec<u8>,
    pub pos: usize,
    /// Unread bytes a refused peek has seen (`Peek::readable` waits for more).
    pub peek_mark: usize,
    pub eof: bool,
    pub err: Option<i32>,
    pub recv: Recv,
    pub reader: Option<Waker>,
    /// Bytes queued behind the send in flight.
    pub outbox: Vec<u8>,
    /// The bytes of the send in flight (untouched while `send_busy`).
    sending: Vec<u8>,
    sent: usize,
    pub send_busy: bool,
    pub writer: Option<Waker>,
    /// Operations of this connection in the kernel.
    inflight: u32,
    dropped: bool,
}

impl ConnState {
    pub fn unread(&self) -> usize {
        self.inbox.len() - self.pos
    }

    pub fn unsent(&self) -> usize {
        self.outbox.len() + (self.sending.len() - self.sent)
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Stores the waker of `cx` in `slot` unless it would wake the same task.
pub(crate) fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *slot = Some(cx.waker().clone());
    }
}

pub(crate) fn os_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}

struct Listener {
    fd: Option<OwnedFd>,
    inflight: u32,
    closing: bool,
}

/// Work the generic accept side must do after a turn.
#[derive(Default)]
pub(crate) struct Turn {
    /// Accepted descriptors.
    pub accepted: Vec<OwnedFd>,
    /// Listeners whose multishot accept failed (re-armed after a pause).
    pub failed: Vec<usize>,
}

/// One worker's ring and everything the kernel may touch through it.
pub(crate) struct Driver {
    ring: RefCell<IoUring>,
    /// The eventfd registered with the ring (see [`RingFd`]).
    efd: OwnedFd,
    bufs: RefCell<Option<BufRing>>,
    conns: RefCell<Vec<Option<ConnState>>>,
    free: RefCell<Vec<usize>>,
    listeners: RefCell<Vec<Listener>>,
    /// Operations in the kernel, all kinds.
    inflight: Cell<usize>,
    reactor: RefCell<Option<Waker>>,
    /// Entries wait in the submission queue.
    dirty: Cell<bool>,
    next_gen: Cell<u32>,
    /// Dropped connections still sending: cancelled at their deadline.
    lingering: RefCell<std::collections::VecDeque<(Instant, usize, u32)>>,
    linger_for: Duration,
    /// A lingering close was added since the reactor last looked.
    linger_added: Cell<bool>,
    /// Turns left before the reactor parks (see [`SPINS`]).
    spins: Cell<u32>,
    scratch: RefCell<Vec<cqueue::Entry>>,
}

impl Driver {
    /// A ring polled by one thread only (a server worker).
    pub(crate) fn new(linger_for: Duration) -> io::Result<Driver> {
        Driver::build(linger_for, true)
    }

    /// A ring whose operations may be submitted from any thread (under the owner's
    /// lock): the client's, on a multi-thread runtime. Without `SINGLE_ISSUER` and
    /// cooperative task work (which bind the ring to the thread that set it up).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn new_shared(linger_for: Duration) -> io::Result<Driver> {
        Driver::build(linger_for, false)
    }

    fn build(linger_for: Duration, one_thread: bool) -> io::Result<Driver> {
        // Cooperative task work: completions are not pushed to this thread with an
        // interrupt while it runs; they run at its next system call (a sleeping thread
        // is woken). The kernel flags pending work in the submission ring; this thread
        // alone submits. (Not DEFER_TASKRUN: with it, on Linux 6.18, pending work did not
        // signal the eventfd tokio's epoll watches, and requests waited for unrelated
        // wake-ups.) Older kernels get
        // the defaults.
        let exclusive = if one_thread {
            IoUring::builder()
                .setup_cqsize(RING_ENTRIES * 4)
                .setup_single_issuer()
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .build(RING_ENTRIES)
        } else {
            Err(io::ErrorKind::Unsupported.into())
        };
        let ring = exclusive.or_else(|_| {
            IoUring::builder()
                .setup_cqsize(RING_ENTRIES * 4)
                .build(RING_ENTRIES)
        })?;
        // The wake-up descriptor: the kernel signals it when completions (or deferred
        // work) arrive; tokio's reactor watches it.
        // SAFETY: `eventfd` takes no pointers; a non-negative result is a new descriptor
        // that we own.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just created above, owned by nothing else.
        let efd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(efd) };
        ring.submitter().register_eventfd(efd.as_raw_fd())?;
        let bufs = BufRing::new(&ring, BUF_COUNT, BUF_SIZE)?;
        // (On an error below `bufs` would be leaked; nothing fails after this point.)
        Ok(Driver {
            ring: RefCell::new(ring),
            efd,
            bufs: RefCell::new(Some(bufs)),
            conns: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
            inflight: Cell::new(0),
            reactor: RefCell::new(None),
            dirty: Cell::new(false),
            next_gen: Cell::new(0),
            lingering: RefCell::new(std::collections::VecDeque::new()),
            linger_for,
            linger_added: Cell::new(false),
            spins: Cell::new(0),
            scratch: RefCell::new(Vec::with_capacity(256)),
        })
    }

    /// The descriptor that becomes readable when the ring has completions or deferred
    /// work: the registered eventfd.
    pub(crate) fn wake_fd(&self) -> RawFd {
        self.efd.as_raw_fd()
    }

    /// Completions or deferred task work wait.
    fn has_work(&self) -> bool {
        let mut ring = self.ring.borrow_mut();
        ring.submission().taskrun() || !ring.completion().is_empty()
    }

    /// Queues `sqe` (submitted at the reactor's next turn, with everything else queued
    /// meanwhile) and counts it in flight.
    ///
    /// # Safety
    ///
    /// Every buffer `sqe` points to must stay valid, and not be written by us (read, for
    /// buffers the kernel fills), until the operation's last completion.
    unsafe fn push(&self, sqe: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: the caller's contract.
            if unsafe { ring.submission().push(&sqe) }.is_ok() {
                break;
            }
            // The queue is full: submit what it holds now.
            if let Err(e) = ring.submit() {
                if e.raw_os_error() != Some(libc::EINTR) && e.raw_os_error() != Some(libc::EBUSY) {
                    tracing::warn!(error = %e, "io_uring submit failed");
                }
            }
        }
        self.inflight.set(self.inflight.get() + 1);
        if !self.dirty.replace(true) {
            if let Some(w) = &*self.reactor.borrow() {
                w.wake_by_ref();
            }
        }
    }

    // ---- listeners ----

    pub(crate) fn add_listener(&self, fd: OwnedFd) {
        let idx = {
            let mut ls = self.listeners.borrow_mut();
            ls.push(Listener {
                fd: Some(fd),
                inflight: 0,
                closing: false,
            });
            ls.len() - 1
        };
        self.arm_accept(idx);
    }

    pub(crate) fn arm_accept(&self, idx: usize) {
        let mut ls = self.listeners.borrow_mut();
        let l = &mut ls[idx];
        let Some(fd) = &l.fd else { return };
        if l.closing || l.inflight > 0 {
            return;
        }
        let sqe = opcode::AcceptMulti::new(types::Fd(fd.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
            .build()
            .user_data(ud(K_ACCEPT, idx));
        l.inflight += 1;
        drop(ls);
        // SAFETY: a multishot accept references no memory of ours.
        unsafe { self.push(sqe) };
    }

    /// Stops accepting: cancels the multishot accepts; the listeners close once they
    /// completed.
    pub(crate) fn stop_accepting(&self) {
        let mut cancels = Vec::new();
        for (idx, l) in self.listeners.borrow_mut().iter_mut().enumerate() {
            l.closing = true;
            if l.inflight > 0 {
                l.inflight += 1;
                cancels.push(idx);
            } else {
                l.fd = None;
            }
        }
        for idx in cancels {
            let sqe = opcode::AsyncCancel::new(ud(K_ACCEPT, idx))
                .build()
                .user_data(ud(K_LISTENER_CANCEL, idx));
            // SAFETY: a cancellation references no memory of ours.
            unsafe { self.push(sqe) };
        }
    }

    // ---- connections ----

    /// Registers an accepted socket and arms its multishot receive.
    pub(crate) fn add_conn(&self, fd: OwnedFd) -> (usize, u32) {
        let gen = self.next_gen.get().wrapping_add(1);
        self.next_gen.set(gen);
        let state = ConnState {
            fd,
            gen,
            inbox: Vec::new(),
            pos: 0,
            peek_mark: 0,
            eof: false,
            err: None,
            recv: Recv::Idle,
            reader: None,
            outbox: Vec::new(),
            sending: Vec::new(),
            sent: 0,
            send_busy: false,
            writer: None,
            inflight: 0,
            dropped: false,
        };
        let idx = {
            let mut conns = self.conns.borrow_mut();
            match self.free.borrow_mut().pop() {
                Some(i) => {
                    conns[i] = Some(state);
                    i
                }
                None => {
                    conns.push(Some(state));
                    conns.len() - 1
                }
            }
        };
        self.with_conn(idx, |c| self.arm_recv(idx, c));
        (idx, gen)
    }

    /// Runs `f` on connection `idx` (which must exist).
    pub(crate) fn with_conn<R>(&self, idx: usize, f: impl FnOnce(&mut ConnState) -> R) -> R {
        let mut conns = self.conns.borrow_mut();
        f(conns[idx]
            .as_mut()
            .expect("a live io_uring connection slot"))
    }

    /// Arms the multishot receive of `c` if it is idle and may receive.
    pub(crate) fn arm_recv(&self, idx: usize, c: &mut ConnState) {
        if c.recv != Recv::Idle || c.eof || c.err.is_some() || c.dropped {
            return;
        }
        if c.unread() >= INBOX_HIGH {
            return;
        }
        let sqe = opcode::RecvMulti::new(types::Fd(c.raw_fd()), BGID)
            .build()
            .user_data(ud(K_RECV, idx));
        c.recv = Recv::Armed;
        c.inflight += 1;
        // SAFETY: the receive writes only into provided buffers, which the driver owns
        // until the ring is unregistered (see `BufRing`).
        unsafe { self.push(sqe) };
    }

    /// Moves the queued bytes of `c` to a send if none is in flight.
    pub(crate) fn start_send(&self, idx: usize, c: &mut ConnState) {
        if c.send_busy || c.outbox.is_empty() || c.err.is_some() {
            return;
        }
        debug_assert!(c.sending.is_empty());
        std::mem::swap(&mut c.sending, &mut c.outbox);
        c.sent = 0;
        c.send_busy = true;
        self.push_send(idx, c);
    }

    fn push_send(&self, idx: usize, c: &mut ConnState) {
        let rest = &c.sending[c.sent..];
        let len = rest.len().min(u32::MAX as usize) as u32;
        let sqe = opcode::Send::new(types::Fd(c.raw_fd()), rest.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(ud(K_SEND, idx));
        c.inflight += 1;
        // SAFETY: `c.sending` is neither resized, cleared nor dropped while `send_busy`
        // (new bytes go to `outbox`; the slot lives until `inflight` is zero), so the
        // `len` bytes at `rest` stay valid until this send's completion.
        unsafe { self.push(sqe) };
    }

    /// The stream of connection `idx` was dropped: stop receiving; let a send in flight
    /// finish (like a kernel send buffer on `close`) up to the write timeout; close the
    /// socket once nothing runs.
    pub(crate) fn release(&self, idx: usize) {
        let mut conns = self.conns.borrow_mut();
        let c = conns[idx]
            .as_mut()
            .expect("a live io_uring connection slot");
        c.dropped = true;
        c.reader = None;
        c.writer = None;
        c.inbox = Vec::new();
        c.pos = 0;
        c.outbox.clear();
        if c.recv == Recv::Armed {
            self.cancel(idx, c, K_RECV);
            c.recv = Recv::Cancelling;
        }
        if c.send_busy {
            let deadline = Instant::now() + self.linger_for;
            self.lingering
                .borrow_mut()
                .push_back((deadline, idx, c.gen));
            self.linger_added.set(true);
            if !self.dirty.replace(true) {
                if let Some(w) = &*self.reactor.borrow() {
                    w.wake_by_ref();
                }
            }
        }
        self.reclaim(&mut conns, idx);
    }

    fn cancel(&self, idx: usize, c: &mut ConnState, kind: u64) {
        let sqe = opcode::AsyncCancel::new(ud(kind, idx))
            .build()
            .user_data(ud(K_CANCEL, idx));
        c.inflight += 1;
        // SAFETY: a cancellation references no memory of ours.
        unsafe { self.push(sqe) };
    }

    /// Frees slot `idx` (closing its socket) if its stream is gone and nothing runs.
    fn reclaim(&self, conns: &mut [Option<ConnState>], idx: usize) {
        if conns[idx]
            .as_ref()
            .is_some_and(|c| c.dropped && c.inflight == 0)
        {
            conns[idx] = None; // closes the socket
            self.free.borrow_mut().push(idx);
        }
    }

    /// Cancels the sends of dropped connections past their linger deadline; returns the
    /// next deadline.
    pub(crate) fn expire_lingering(&self, now: Instant) -> Option<Instant> {
        loop {
            let front = self.lingering.borrow().front().copied();
            let (deadline, idx, gen) = front?;
            if deadline > now {
                return Some(deadline);
            }
            self.lingering.borrow_mut().pop_front();
            let mut conns = self.conns.borrow_mut();
            if let Some(c) = conns[idx].as_mut() {
                if c.gen == gen && c.dropped && c.send_busy {
                    tracing::debug!("io_uring: cancelling the send of a closed connection");
                    self.cancel(idx, c, K_SEND);
                }
            }
        }
    }

    // ---- the reactor ----

    /// One turn of the reactor: submit what is queued (running deferred completions),
    /// dispatch completions, and wait for the ring (via its eventfd's readiness). Ready when `turn` holds work for
    /// the accept side or a lingering close was added.
    pub(crate) fn poll_turn<F: std::os::fd::AsRawFd>(
        &self,
        cx: &mut Context<'_>,
        afd: &AsyncFd<F>,
        turn: &mut Turn,
    ) -> Poll<io::Result<()>> {
        {
            let mut r = self.reactor.borrow_mut();
            if !r.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *r = Some(cx.waker().clone());
            }
        }
        let mut rounds = 0;
        // The eventfd fired: enter the ring with GETEVENTS once (runs deferred
        // completions even where the kernel does not flag them), then look again.
        let mut kick = false;
        let mut kicked = false;
        loop {
            rounds += 1;
            if rounds > 64 {
                // Fairness (and no spinning on a ring that keeps reporting work): let the
                // connections run, then come back.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.dirty.set(false);
            self.submit(std::mem::take(&mut kick));
            let reaped = self.reap(turn);
            if reaped > 0 {
                self.spins.set(SPINS);
            }
            if !turn.accepted.is_empty() || !turn.failed.is_empty() || self.linger_added.take() {
                return Poll::Ready(Ok(()));
            }
            if reaped > 0 || self.dirty.get() {
                continue;
            }
            match afd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    // The eventfd's count is never read: edge-triggered, each signal is
                    // a new event. Readiness is cleared only after an enter that ran the
                    // deferred work and once no work is left (a signal after this check
                    // is a newer event for tokio).
                    if !kicked {
                        kicked = true;
                        kick = true;
                    } else if !self.has_work() {
                        guard.clear_ready();
                        kicked = false;
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Busy: come back after the woken connections ran (their sends go
                    // out with the next turn's enter, which also collects completions
                    // the kernel flagged) instead of parking in epoll and being woken
                    // through the eventfd. A few empty turns and it parks.
                    let spins = self.spins.get();
                    if spins > 0 {
                        self.spins.set(spins - 1);
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Submits the queued entries; with `getevents` (or work the kernel flags as
    /// pending), the same system call runs the deferred completions.
    fn submit(&self, getevents: bool) {
        let mut ring = self.ring.borrow_mut();
        let (len, taskrun) = {
            let sq = ring.submission();
            (sq.len(), sq.taskrun())
        };
        // Nothing to submit and no deferred work to run: no system call.
        if len == 0 && !taskrun && !getevents {
            return;
        }
        const IORING_ENTER_GETEVENTS: u32 = 1;
        let flags = if getevents || taskrun {
            IORING_ENTER_GETEVENTS
        } else {
            0
        };
        // SAFETY: `len` entries are queued (pushed by `push`, whose callers keep their
        // buffers valid); no argument pointer is passed; waiting for 0 completions
        // never blocks.
        let r = unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(len as u32, 0, flags, None)
        };
        if let Err(e) = r {
            match e.raw_os_error() {
                // Busy (completions to reap first) or interrupted: retried next turn.
                Some(libc::EBUSY | libc::EAGAIN | libc::EINTR) => self.dirty.set(true),
                _ => tracing::warn!(error = %e, "io_uring submit failed"),
            }
        }
    }

    /// Dispatches the completions waiting in the ring; returns how many.
    fn reap(&self, turn: &mut Turn) -> usize {
        let mut batch = std::mem::take(&mut *self.scratch.borrow_mut());
        batch.clear();
        batch.extend(self.ring.borrow_mut().completion().take(256));
        let n = batch.len();
        let mut recycled = false;
        for cqe in &batch {
            recycled |= self.complete(cqe, turn);
        }
        if recycled {
            if let Some(b) = &*self.bufs.borrow() {
                b.publish();
            }
        }
        *self.scratch.borrow_mut() = batch;
        n
    }

    /// Dispatches one completion; true if it returned a provided buffer.
    fn complete(&self, cqe: &cqueue::Entry, turn: &mut Turn) -> bool {
        let data = cqe.user_data();
        let (kind, idx) = (data & 0xff, (data >> 8) as usize);
        let res = cqe.result();
        let flags = cqe.flags();
        let more = cqueue::more(flags);
        if !more {
            self.inflight.set(self.inflight.get() - 1);
        }
        let mut recycled = false;
        match kind {
            K_ACCEPT | K_LISTENER_CANCEL => {
                let mut ls = self.listeners.borrow_mut();
                let l = &mut ls[idx];
                if !more {
                    l.inflight -= 1;
                }
                if kind == K_ACCEPT {
                    if res >= 0 {
                        // SAFETY: the kernel just created this descriptor for us; nothing
                        // else owns it.
                        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(res) };
                        if l.closing {
                            drop(fd);
                        } else {
                            turn.accepted.push(fd);
                        }
                    } else if res != -libc::ECANCELED && !l.closing {
                        tracing::warn!(
                            error = %io::Error::from_raw_os_error(-res),
                            "accept failed (io_uring)"
                        );
                        if !more {
                            turn.failed.push(idx);
                        }
                    }
                    if !more && res >= 0 && !l.closing {
                        // The multishot ended (e.g. a full completion queue): re-arm.
                        drop(ls);
                        self.arm_accept(idx);
                        return false;
                    }
                }
                if l.closing && l.inflight == 0 {
                    l.fd = None;
                }
            }
            K_RECV => {
                let mut conns = self.conns.borrow_mut();
                let c = conns[idx]
                    .as_mut()
                    .expect("a recv completion for a live slot");
                if !more {
                    c.inflight -= 1;
                    c.recv = Recv::Idle;
                }
                if let Some(bid) = cqueue::buffer_select(flags) {
                    let mut bufs = self.bufs.borrow_mut();
                    let bufs = bufs.as_mut().expect("the provided-buffer ring");
                    if res > 0 && !c.dropped {
                        c.inbox.extend_from_slice(bufs.get(bid, res as usize));
                    }
                    bufs.push(bid);
                    recycled = true;
                }
                if res > 0 {
                    if more && c.recv == Recv::Armed && c.unread() >= INBOX_HIGH {
                        // Backpressure: stop receiving until the reader catches up.
                        self.cancel(idx, c, K_RECV);
                        c.recv = Recv::Cancelling;
                    }
                } else if res == 0 {
                    c.eof = true;
                } else if res != -libc::ENOBUFS && res != -libc::ECANCELED {
                    c.err = Some(-res);
                    wake(&mut c.writer);
                }
                if res != -libc::ECANCELED || !more {
                    wake(&mut c.reader);
                }
                if !more && (res > 0 || res == -libc::ENOBUFS) {
                    self.arm_recv(idx, c);
                }
                self.reclaim(&mut conns, idx);
            }
            K_SEND => {
                let mut conns = self.conns.borrow_mut();
                let c = conns[idx]
                    .as_mut()
                    .expect("a send completion for a live slot");
                c.inflight -= 1;
                if res > 0 && !(c.dropped && c.err.is_some()) {
                    c.sent += res as usize;
                    if c.sent < c.sending.len() {
                        // A short write: send the rest.
                        self.push_send(idx, c);
                    } else {
                        c.sending.clear();
                        c.sent = 0;
                        c.send_busy = false;
                        self.start_send(idx, c);
                        wake(&mut c.writer);
                    }
                } else {
                    let errno = if res < 0 { -res } else { libc::EPIPE };
                    c.err.get_or_insert(errno);
                    c.sending.clear();
                    c.sent = 0;
                    c.outbox.clear();
                    c.send_busy = false;
                    wake(&mut c.writer);
                    wake(&mut c.reader);
                }
                self.reclaim(&mut conns, idx);
            }
            K_CANCEL => {
                let mut conns = self.conns.borrow_mut();
                if let Some(c) = conns[idx].as_mut() {
                    c.inflight -= 1;
                }
                self.reclaim(&mut conns, idx);
            }
            _ => {} // K_CANCEL_ALL: counted above
        }
        recycled
    }

    // ---- the byte-stream operations of a connection (the server's and the client's
    // streams are thin wrappers) ----

    /// `AsyncRead::poll_read` of connection `idx`: copies from its inbox (filled by the
    /// multishot receive), re-arming the receive below the backpressure mark.
    pub(crate) fn poll_read(
        &self,
        idx: usize,
        cx: &Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with_conn(idx, |c| {
            let unread = c.unread();
            if unread > 0 {
                let n = unread.min(buf.remaining());
                buf.put_slice(&c.inbox[c.pos..c.pos + n]);
                c.pos += n;
                c.peek_mark = 0;
                if c.pos == c.inbox.len() {
                    c.inbox.clear();
                    c.pos = 0;
                } else if c.pos >= 64 * 1024 {
                    c.inbox.drain(..c.pos);
                    c.pos = 0;
                }
                if c.recv == Recv::Idle && c.unread() < INBOX_HIGH {
                    self.arm_recv(idx, c);
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = c.err {
                return Poll::Ready(Err(os_error(e)));
            }
            if c.eof {
                return Poll::Ready(Ok(()));
            }
            self.arm_recv(idx, c);
            register(&mut c.reader, cx);
            Poll::Pending
        })
    }

    /// `AsyncWrite::poll_write_vectored` of connection `idx`: copies into its outbox
    /// (sent with the next batched submission) up to [`WRITE_CAP`] unsent bytes.
    pub(crate) fn poll_write(
        &self,
        idx: usize,
        cx: &Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.with_conn(idx, |c| {
            if let Some(e) = c.err {
                return Poll::Ready(Err(os_error(e)));
            }
            let room = WRITE_CAP.saturating_sub(c.unsent());
            if room == 0 {
                register(&mut c.writer, cx);
                return Poll::Pending;
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(room - n);
                c.outbox.extend_from_slice(&b[..take]);
                n += take;
                if n == room {
                    break;
                }
            }
            self.start_send(idx, c);
            Poll::Ready(Ok(n))
        })
    }

    /// `AsyncWrite::poll_flush` of connection `idx`: as for a socket, queued bytes
    /// already belong to the connection's send path; reports a failed send.
    pub(crate) fn poll_flush(&self, idx: usize) -> Poll<io::Result<()>> {
        match self.with_conn(idx, |c| c.err) {
            Some(e) => Poll::Ready(Err(os_error(e))),
            None => Poll::Ready(Ok(())),
        }
    }

    /// `AsyncWrite::poll_shutdown` of connection `idx`: waits until every queued byte is
    /// sent, then shuts the write side.
    pub(crate) fn poll_shutdown(&self, idx: usize, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.with_conn(idx, |c| {
            if let Some(e) = c.err {
                return Poll::Ready(Err(os_error(e)));
            }
            if c.unsent() > 0 {
                register(&mut c.writer, cx);
                return Poll::Pending;
            }
            // SAFETY: `shutdown` on the connection's open descriptor (no memory passed).
            let rc = unsafe { libc::shutdown(c.raw_fd(), libc::SHUT_WR) };
            if rc == 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Ready(Err(io::Error::last_os_error()))
            }
        })
    }

    /// An idle connection may carry a new request: no unread bytes, no end of stream,
    /// no error (the pool's liveness check).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn idle_is_usable(&self, idx: usize) -> bool {
        self.with_conn(idx, |c| c.unread() == 0 && !c.eof && c.err.is_none())
    }

    /// Wakes every connection's reader and writer (the ring's reactor ended: their
    /// next poll fails instead of waiting).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn wake_all(&self) {
        for c in self.conns.borrow_mut().iter_mut().flatten() {
            wake(&mut c.reader);
            wake(&mut c.writer);
        }
    }

    /// Wakes the reactor task (its owner has something to look at).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn wake_reactor(&self) {
        if let Some(w) = &*self.reactor.borrow() {
            w.wake_by_ref();
        }
    }

    /// Unsent bytes and receive state, for tests.
    #[cfg(test)]
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn live_conns(&self) -> usize {
        self.conns.borrow().iter().filter(|c| c.is_some()).count()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Nothing may still write into (or read from) our memory once it is freed: cancel
        // every operation and wait for their completions (bounded); leak the memory if
        // the kernel still holds some.
        if self.inflight.get() > 0 {
            let sqe = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(ud(K_CANCEL_ALL, 0));
            let ring = self.ring.get_mut();
            // SAFETY: a cancellation references no memory of ours.
            let pushed = unsafe { ring.submission().push(&sqe) }.is_ok();
            if pushed {
                self.inflight.set(self.inflight.get() + 1);
            }
            let ts = types::Timespec::new().nsec(20_000_000);
            let args = types::SubmitArgs::new().timespec(&ts);
            for _ in 0..50 {
                if self.inflight.get() == 0 {
                    break;
                }
                let _ = self.ring.get_mut().submitter().submit_with_args(1, &args);
                let done: Vec<cqueue::Entry> = self.ring.get_mut().completion().collect();
                for cqe in done {
                    if !cqueue::more(cqe.flags()) {
                        self.inflight.set(self.inflight.get() - 1);
                    }
                }
            }
        }
        if self.inflight.get() > 0 {
            tracing::warn!(
                ops = self.inflight.get(),
                "io_uring operations outlived the worker; their buffers are leaked"
            );
            std::mem::forget(self.bufs.get_mut().take());
            std::mem::forget(std::mem::take(self.conns.get_mut()));
            return;
        }
        if let Some(mut bufs) = self.bufs.get_mut().take() {
            // Freed if unregistered, else leaked by its own drop.
            let _ = bufs.unregister(self.ring.get_mut());
        }
    }
}

/// The ring's wake-up eventfd, registered with tokio's reactor: readable when completions
/// or deferred work wait. (It holds the driver, so the descriptor outlives its
/// registration.)
pub(crate) struct RingFd(pub std::rc::Rc<Driver>);

impl std::os::fd::AsRawFd for RingFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.wake_fd()
    }
}
