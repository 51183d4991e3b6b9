//! The server response pipeline, the same for HTTP/1.1, HTTP/2 and HTTP/3: what happens
//! between "a request head was parsed" and "the response's bytes are handed to the
//! protocol". Drivers call, in order:
//!
//! 1. [`request_scheme`]: the request's [`Scheme`] — the `:scheme` pseudo-header when it
//!    is `http` or `https`, otherwise (absent or unknown) the connection's transport: TLS
//!    or QUIC → `Https`, cleartext → `Http`. HTTP/1.1 has no `:scheme` and always uses the
//!    transport.
//! 2. [`call_handler`] (or [`poll_guarded`] for the HTTP/1.1 hot path, which keeps the
//!    response in its own slot): the handler runs under ONE panic guard — a panic is
//!    counted in `handler_panics` and answered `500`; the connection survives.
//! 3. [`prepare_response`](crate::common::fields::prepare_response) (multiplexed drivers)
//!    or the HTTP/1.1 head writer: the field rules of [`crate::common::fields`].
//! 4. The body pump (protocol-specific: frames and flow control differ), then the
//!    trailers: [`resolve_trailers`] awaits a deferred trailer future under the same
//!    panic guard (a panic counts in `handler_panics` and aborts the response: HTTP/1.1
//!    closes the connection before the last chunk, HTTP/2 resets the stream with
//!    `INTERNAL_ERROR`, HTTP/3 resets it with `H3_INTERNAL_ERROR` — each protocol's way
//!    of saying "this response is incomplete"), and [`trailer_section`] filters
//!    ([`trailer_allowed`]) and lowercases the fields.
//! 5. [`count_response`] once the response head is queued; status-only answers (errors
//!    before the handler ran) use [`simple_fields`] and are counted the same way.
//!
//! Nothing here allocates on the heap: zero allocations per request holds on every
//! protocol.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use http::StatusCode;
use shockwave_arena::{Arena, ArenaError};

use crate::common::counters::{inc, WorkerCounters};
use crate::common::fields::trailer_allowed;
use crate::service::{Handler, RequestContext, Response, Scheme};

/// The request's scheme: the `:scheme` pseudo-header when it is `http` or `https`,
/// otherwise `transport` (`Https` for TLS and QUIC connections, `Http` for cleartext).
/// The same rule on every protocol.
pub(crate) fn request_scheme(pseudo: Option<&[u8]>, transport: Scheme) -> Scheme {
    match pseudo {
        Some(b"https") => Scheme::Https,
        Some(b"http") => Scheme::Http,
        _ => transport,
    }
}

/// Polls a handler's future to completion, catching a panic, and stores the response
/// in `slot`. Returns true when the handler panicked (`slot` is then `None`).
///
/// The caller creates and pins the future (`handler.call(cx)`), so the context is moved
/// once, into the handler's future, not through another async layer first; the response
/// is written straight from the future's output into `slot`: a `Response` is ~150 bytes,
/// and `FutureExt::catch_unwind` plus the `Result` and `Poll` wrappers would copy it
/// several times per request.
///
/// A plain future (no `async fn` state machine around it): awaiting it costs one poll
/// call per wake-up.
pub(crate) fn poll_guarded<'s, 'a, F>(
    fut: Pin<&'s mut F>,
    slot: &'s mut Option<Response<'a>>,
) -> Guarded<'s, 'a, F>
where
    F: Future<Output = Response<'a>>,
{
    Guarded { fut, slot }
}

/// The future of [`poll_guarded`]: `true` when the handler panicked.
pub(crate) struct Guarded<'s, 'a, F> {
    fut: Pin<&'s mut F>,
    slot: &'s mut Option<Response<'a>>,
}

impl<'a, F> Future for Guarded<'_, 'a, F>
where
    F: Future<Output = Response<'a>>,
{
    type Output = bool;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<bool> {
        // `Guarded` is `Unpin`: it holds only references.
        let this = self.get_mut();
        let fut = this.fut.as_mut();
        let slot = &mut *this.slot;
        // AssertUnwindSafe: after a panic the future is dropped unpolled and the slot
        // stays empty, so no broken state is observed.
        match std::panic::catch_unwind(AssertUnwindSafe(move || match fut.poll(task) {
            Poll::Ready(response) => {
                *slot = Some(response);
                true
            }
            Poll::Pending => false,
        })) {
            Ok(true) => Poll::Ready(false),
            Ok(false) => Poll::Pending,
            Err(_) => Poll::Ready(true),
        }
    }
}

/// Counts and logs a handler panic (the caller answers `500`).
pub(crate) fn handler_panicked(counters: Option<&WorkerCounters>, stream: u64) {
    if let Some(c) = counters {
        inc(&c.handler_panics);
    }
    tracing::error!(stream, "handler panicked; answering 500");
}

/// Calls the handler under the panic guard ([`poll_guarded`]): a panic is counted and
/// becomes an empty `500`. `stream` only labels the log line.
pub(crate) async fn call_handler<'a, H: Handler>(
    handler: &'a H,
    cx: RequestContext<'a>,
    counters: Option<&WorkerCounters>,
    stream: u64,
) -> Response<'a> {
    let mut slot = None;
    if poll_guarded(pin!(handler.call(cx)), &mut slot).await {
        handler_panicked(counters, stream);
    }
    slot.unwrap_or_else(|| Response::new(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A deferred trailer future ([`Trailers::Deferred`](crate::service::Trailers)).
pub(crate) type TrailerFuture = Pin<Box<dyn Future<Output = http::HeaderMap> + 'static>>;

/// Polls a deferred trailer future once under the panic guard. `Ready(None)` when it
/// panicked: the panic is counted in `handler_panics`, the future must not be polled
/// again, and the caller aborts the response (see the module docs for how each protocol
/// does that).
pub(crate) fn poll_trailers(
    fut: &mut TrailerFuture,
    task: &mut Context<'_>,
    counters: Option<&WorkerCounters>,
    stream: u64,
) -> Poll<Option<http::HeaderMap>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(task))) {
        Ok(Poll::Ready(map)) => Poll::Ready(Some(map)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(_) => {
            if let Some(c) = counters {
                inc(&c.handler_panics);
            }
            tracing::error!(stream, "trailer future panicked; aborting the response");
            Poll::Ready(None)
        }
    }
}

/// Awaits a deferred trailer future with [`poll_trailers`]: `None` when it panicked.
pub(crate) async fn resolve_trailers(
    fut: &mut TrailerFuture,
    counters: Option<&WorkerCounters>,
    stream: u64,
) -> Option<http::HeaderMap> {
    std::future::poll_fn(|task| poll_trailers(fut, task, counters, stream)).await
}

/// A field section in an arena: `(name, value)` pairs.
pub(crate) type FieldSection<'a> = &'a [(&'a [u8], &'a [u8])];

/// The trailer fields to send, in `arena`: those [`trailer_allowed`] accepts, with names
/// lowercased (HTTP/2 and HTTP/3 require it; HTTP/1.1 does not care). Empty when none is
/// left.
pub(crate) fn trailer_section<'a>(
    arena: &'a Arena,
    fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<FieldSection<'a>, ArenaError> {
    let oom = |n: usize| ArenaError::OutOfMemory {
        requested: n * std::mem::size_of::<(&[u8], &[u8])>(),
    };
    let mut list = shockwave_arena::Vec::new_in(arena.bump());
    let hint = fields.size_hint().0;
    list.try_reserve_exact(hint).map_err(|_| oom(hint))?;
    for (name, value) in fields {
        if !trailer_allowed(name, value) {
            continue;
        }
        let name: &'a [u8] = if name.iter().any(u8::is_ascii_uppercase) {
            let lower = arena.alloc_bytes(name)?;
            lower.make_ascii_lowercase();
            lower
        } else {
            name
        };
        list.try_reserve(1).map_err(|_| oom(1))?;
        list.push((name, value));
    }
    Ok(list.into_bump_slice())
}

/// The field section of a status-only answer (`:status` and `content-length: 0`); `code`
/// holds the status digits.
pub(crate) fn simple_fields(code: &[u8; 3]) -> [(&[u8], &[u8]); 2] {
    [(b":status", code), (b"content-length", b"0")]
}

/// Counts a response whose head was queued (a response never sent — the stream was reset
/// first — is not counted: the request counts as cancelled).
pub(crate) fn count_response(counters: Option<&WorkerCounters>, status: StatusCode) {
    if let Some(c) = counters {
        c.response(status.as_u16());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_rule() {
        assert_eq!(request_scheme(Some(b"https"), Scheme::Http), Scheme::Https);
        assert_eq!(request_scheme(Some(b"http"), Scheme::Https), Scheme::Http);
        assert_eq!(request_scheme(Some(b"foo"), Scheme::Http), Scheme::Http);
        assert_eq!(request_scheme(Some(b"foo"), Scheme::Https), Scheme::Https);
        assert_eq!(request_scheme(None, Scheme::Https), Scheme::Https);
    }

    #[test]
    fn trailer_sections_are_filtered_and_lowercased() {
        let arena = Arena::new();
        let fields: [(&[u8], &[u8]); 3] = [
            (b"X-Sum", b"1"),
            (b"content-length", b"3"),
            (b"grpc-status", b"0"),
        ];
        let s = trailer_section(&arena, fields.iter().copied()).unwrap();
        assert_eq!(s, [(&b"x-sum"[..], &b"1"[..]), (b"grpc-status", b"0")]);
    }

    #[test]
    fn a_panicking_trailer_future_is_counted() {
        let counters = WorkerCounters::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut fut: TrailerFuture = Box::pin(async { panic!("trailers") });
        let r = rt.block_on(resolve_trailers(&mut fut, Some(&counters), 1));
        assert!(r.is_none());
        assert_eq!(
            counters
                .handler_panics
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}
