//! Running `tower::Service`s (an axum `Router`, a hyper-style service) as a [`Handler`]:
//! [`from_tower`], the streaming request body [`TowerBody`], and the request extensions
//! [`RemoteAddr`] (plus axum's `ConnectInfo<SocketAddr>` with the `axum` feature).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use http_body::{Frame, SizeHint};

use super::body::{Body, BodyError};
use super::handler::Handler;
use super::request::{Headers, Request, RequestContext};
use super::response::{Response, ResponseBody};
use super::scheme::Scheme;

/// The boxed error type tower and axum use for bodies.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body whose `size_hint` is exact and at most this long is collected before
/// the head is sent, so the response carries a `content-length`; longer or unsized bodies
/// are streamed frame by frame (HTTP/1.1 chunked framing).
pub const TOWER_COLLECT_EXACT_MAX: u64 = 1024 * 1024;

/// The stand-in body of a `HEAD` response whose service declared a `content-length` (at
/// most this long; the drivers never send it).
static HEAD_ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// How many request body bytes the reader may hold for the service before it waits
/// (it reads only when the service asks for a frame).
const READ_CHUNK: usize = 16 * 1024;

/// The remote (peer) address of the connection, in the request extensions of every
/// request a [`from_tower`] service receives.
///
/// hyper and tower users read it with `req.extensions().get::<RemoteAddr>()`. For axum,
/// either turn on the `axum` feature (then axum 0.8's `ConnectInfo<SocketAddr>` is
/// inserted too and the `ConnectInfo` extractor works as is), or copy it over with a
/// middleware:
///
/// ```
/// use axum::extract::{ConnectInfo, Request};
/// use shockwave::server::RemoteAddr;
///
/// # let app: axum::Router = axum::Router::new();
/// let app = app.layer(axum::middleware::map_request(|mut req: Request| async move {
///     if let Some(RemoteAddr(addr)) = req.extensions().get::<RemoteAddr>().copied() {
///         req.extensions_mut().insert(ConnectInfo(addr));
///     }
///     req
/// }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RemoteAddr(pub SocketAddr);

/// What the request body reader and the [`TowerBody`] share.
struct Shared {
    /// Chunks read from the connection, not yet taken by the service.
    queue: VecDeque<Bytes>,
    /// The service asked for a frame the queue does not have.
    wanted: bool,
    /// How the body ended (`None` while it has not).
    end: Option<Result<(), BodyError>>,
    /// The request's trailer fields, handed out after the last data frame.
    trailers: Option<HeaderMap>,
    /// The [`TowerBody`] was dropped: nothing more is read.
    dropped: bool,
    /// The body went past the server's `max_body_size`.
    too_large: bool,
    /// Woken when a chunk or the end arrives.
    reader_waker: Option<Waker>,
    /// Woken when the service wants more (or dropped the body).
    pump_waker: Option<Waker>,
}

impl Shared {
    fn wake_reader(&mut self) {
        if let Some(w) = self.reader_waker.take() {
            w.wake();
        }
    }
    fn wake_pump(&mut self) {
        if let Some(w) = self.pump_waker.take() {
            w.wake();
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The request body a [`from_tower`] service receives: an [`http_body::Body`] streaming
/// the body from the connection frame by frame as the service polls it (data frames, then
/// the trailer fields where the protocol keeps them), `Send + 'static` as axum and hyper
/// services require.
///
/// The connection is read only while the service asks for frames: a service that never
/// reads its body never makes the server read it (nor send `100 Continue`). Bodies longer
/// than the server's `max_body_size` end with [`BodyError::TooLarge`], and the request is
/// then answered `413 Payload Too Large` whatever the service answers. When the
/// service returns its response head while still holding an unfinished body (e.g. an
/// echo that streams the body back), the rest of the body is read into memory, up to
/// `max_body_size`, before the response body starts.
pub struct TowerBody {
    shared: Option<Arc<Mutex<Shared>>>,
    hint: SizeHint,
}

impl std::fmt::Debug for TowerBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TowerBody")
            .field("size_hint", &self.hint)
            .finish_non_exhaustive()
    }
}

impl TowerBody {
    /// An empty body.
    pub fn empty() -> Self {
        TowerBody {
            shared: None,
            hint: SizeHint::with_exact(0),
        }
    }
}

impl Default for TowerBody {
    fn default() -> Self {
        TowerBody::empty()
    }
}

impl Drop for TowerBody {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            let mut s = lock(shared);
            s.dropped = true;
            s.wake_pump();
        }
    }
}

impl http_body::Body for TowerBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let Some(shared) = &this.shared else {
            return Poll::Ready(None);
        };
        let mut s = lock(shared);
        if let Some(chunk) = s.queue.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match s.end.take() {
            None => {
                s.wanted = true;
                if !s
                    .reader_waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    s.reader_waker = Some(cx.waker().clone());
                }
                s.wake_pump();
                Poll::Pending
            }
            Some(Err(e)) => {
                s.end = Some(Ok(()));
                s.trailers = None;
                Poll::Ready(Some(Err(e)))
            }
            Some(Ok(())) => {
                s.end = Some(Ok(()));
                Poll::Ready(s.trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.shared.as_ref().is_none_or(|shared| {
            let s = lock(shared);
            s.queue.is_empty() && matches!(s.end, Some(Ok(()))) && s.trailers.is_none()
        })
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

/// Reads the request body into `shared` while the service wants it (or, with `drain`,
/// to its end), at most `limit` bytes in all (`total` carries the count across calls).
async fn pump(
    body: &mut Body<'_>,
    shared: &Mutex<Shared>,
    buf: &mut [u8],
    total: &mut u64,
    limit: u64,
    drain: bool,
) {
    loop {
        let go = poll_fn(|cx| {
            let mut s = lock(shared);
            if s.dropped || s.end.is_some() {
                Poll::Ready(false)
            } else if s.wanted || drain {
                Poll::Ready(true)
            } else {
                s.pump_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        if !go {
            return;
        }
        let read = body.read(buf).await;
        let mut s = lock(shared);
        s.wanted = false;
        match read {
            Ok(0) => {
                s.trailers = body.trailers().map(header_map);
                s.end = Some(Ok(()));
            }
            Ok(n) => {
                *total += n as u64;
                if *total > limit {
                    s.too_large = true;
                    s.end = Some(Err(BodyError::TooLarge { limit }));
                } else {
                    s.queue.push_back(Bytes::copy_from_slice(&buf[..n]));
                }
            }
            // `Body::read` enforces the limit itself (a declared length over it, or the
            // byte past it): the same 413 as the count above.
            Err(e @ BodyError::TooLarge { .. }) => {
                s.too_large = true;
                s.end = Some(Err(e));
            }
            Err(e) => s.end = Some(Err(e)),
        }
        s.wake_reader();
    }
}

/// Copies arena header fields into an `http::HeaderMap` (invalid ones are skipped: the
/// drivers validated them already).
fn header_map(fields: Headers<'_>) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields.iter() {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(n, v);
        }
    }
    map
}

/// The request URI with scheme and authority (from `:authority`, or `Host` on
/// HTTP/1.1); origin-form only when there is no valid authority.
fn request_uri(req: &Request<'_>) -> Option<http::Uri> {
    let target = req.target();
    if !target.starts_with('/') {
        // absolute-form (already has an authority), or `*`
        return target.parse().ok();
    }
    let authority = req
        .authority()
        .or_else(|| req.header("host").and_then(|v| std::str::from_utf8(v).ok()))
        .and_then(|a| http::uri::Authority::try_from(a).ok());
    match authority {
        Some(authority) => http::Uri::builder()
            .scheme(match req.scheme() {
                Scheme::Http => http::uri::Scheme::HTTP,
                Scheme::Https => http::uri::Scheme::HTTPS,
            })
            .authority(authority)
            .path_and_query(target)
            .build()
            .ok(),
        None => target.parse().ok(),
    }
}

/// A [`Handler`] running a [`tower_service::Service`]: see [`from_tower`].
pub struct TowerHandler<S> {
    /// Only locked to clone the service for a request (`Handler` is shared by the worker
    /// threads, and a service need not be `Sync`: axum's `BoxCloneService` is not).
    service: Mutex<S>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for TowerHandler<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TowerHandler").field(&self.service).finish()
    }
}

impl<S: Clone> Clone for TowerHandler<S> {
    fn clone(&self) -> Self {
        TowerHandler {
            service: Mutex::new(lock_clone(&self.service)),
        }
    }
}

fn lock_clone<S: Clone>(service: &Mutex<S>) -> S {
    service
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Serves a [`tower_service::Service`] taking `http::Request<`[`TowerBody`]`>` and
/// answering an `http::Response` with any [`http_body::Body`]: an axum `Router`, a tower
/// stack, a hyper-style service run unchanged.
///
/// - **Request**: the URI always has a scheme and an authority (from `:authority`, or
///   `Host` on HTTP/1.1), HTTP/2 and HTTP/3 requests get a `host` header when they have
///   none (as hyper does), and the extensions hold [`RemoteAddr`] (and, with the `axum`
///   feature, axum's `ConnectInfo<SocketAddr>`) and, over TLS and HTTP/3, the
///   connection's [`TlsInfo`](super::TlsInfo) (`req.extensions().get::<TlsInfo>()`,
///   or axum's `Extension<TlsInfo>` extractor). The body is a [`TowerBody`], streamed
///   from the connection as the service reads it.
/// - **Response**: the body is sent frame by frame as the service produces it (a
///   server-sent-events route delivers each event when it is produced), trailer frames
///   included. A body whose `size_hint` is exact (and at most
///   [`TOWER_COLLECT_EXACT_MAX`]) is collected first and sent with a `content-length`;
///   any other body has none (HTTP/1.1 chunked framing). A body error resets the stream
///   (HTTP/2, HTTP/3) or cuts the HTTP/1.1 response short.
/// - Each request runs on a **clone** of `service` (as hyper and axum do: make the clone
///   cheap), after `poll_ready`. The service is `Send` but need not be `Sync`; its future
///   runs on the worker and need not be `Send`. A `poll_ready` or `call` error is logged
///   and answered with an empty 500.
///
/// **Extra allocations** compared to [`Handler`]: the `http::Uri`, the `http::HeaderMap`,
/// the extensions, one `Arc` shared with the body reader per request with a body, one
/// `Bytes` per body chunk read, the boxed response stream, plus whatever the service
/// allocates.
///
/// **Upgrades** (feature `axum`): an HTTP/1.1 request with an `Upgrade` field and no body
/// carries hyper's `hyper::upgrade::OnUpgrade` in its extensions, so a service that takes
/// the connection with `hyper::upgrade::on` (axum's `WebSocketUpgrade`, a hyper-style
/// service) runs unchanged: when it answers `101 Switching Protocols`, the 101 goes out
/// with its fields and the `OnUpgrade` resolves to the connection (the bytes the client
/// sent after its request head first). The upgraded connection stays counted by the
/// server until the service drops it. Over HTTP/2 and HTTP/3 (no `OnUpgrade`), axum
/// answers its own refusal.
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{ready, Ready};
/// use std::task::{Context, Poll};
///
/// use shockwave::server::{from_tower, TowerBody};
///
/// #[derive(Clone)]
/// struct Hello;
///
/// impl tower_service::Service<http::Request<TowerBody>> for Hello {
///     type Response = http::Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<Self::Response, Infallible>>;
///
///     fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, req: http::Request<TowerBody>) -> Self::Future {
///         let body = format!("Hello, {}!", req.uri().path());
///         ready(Ok(http::Response::new(body)))
///     }
/// }
///
/// let handler = from_tower(Hello);
/// // shockwave::server::Server::builder().bind(addr).build().run(handler)
/// # let _ = handler;
/// ```
pub fn from_tower<S, ResBody>(service: S) -> TowerHandler<S>
where
    S: tower_service::Service<http::Request<TowerBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Error: std::fmt::Display,
    ResBody: http_body::Body + 'static,
    ResBody::Error: Into<BoxError>,
{
    TowerHandler {
        service: Mutex::new(service),
    }
}

impl<S, ResBody> Handler for TowerHandler<S>
where
    S: tower_service::Service<http::Request<TowerBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Error: std::fmt::Display,
    ResBody: http_body::Body + 'static,
    ResBody::Error: Into<BoxError>,
{
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let mut service = lock_clone(&self.service);
        // An HTTP/1.1 upgrade request: hyper's `OnUpgrade` for the service (see
        // `hyper_upgrade`), with the callback that hands it the connection after a 101.
        #[cfg(feature = "axum")]
        let on_upgrade = hyper_upgrade::prepare(&cx).await;
        let (req, arena, mut body) = cx.into_parts();
        let failed = |e: S::Error| {
            tracing::error!(error = %e, "tower service failed; answering 500");
            Response::new(StatusCode::INTERNAL_SERVER_ERROR)
        };

        // The request head.
        let Some(uri) = request_uri(&req) else {
            return Response::new(StatusCode::BAD_REQUEST);
        };
        let mut headers = header_map(req.headers());
        if matches!(req.version(), Version::HTTP_2 | Version::HTTP_3)
            && !headers.contains_key(http::header::HOST)
        {
            if let Some(host) = uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                headers.insert(http::header::HOST, host);
            }
        }
        let is_head = req.method() == http::Method::HEAD;
        let has_body = !(body.content_length() == Some(0) || body.is_end());
        let shared = has_body.then(|| {
            Arc::new(Mutex::new(Shared {
                queue: VecDeque::new(),
                wanted: false,
                end: None,
                trailers: None,
                dropped: false,
                too_large: false,
                reader_waker: None,
                pump_waker: None,
            }))
        });
        let tower_body = match &shared {
            None => TowerBody::empty(),
            Some(shared) => TowerBody {
                shared: Some(shared.clone()),
                hint: match body.content_length() {
                    Some(n) => SizeHint::with_exact(n),
                    None => SizeHint::default(),
                },
            },
        };
        let mut request = http::Request::new(tower_body);
        *request.method_mut() = req.method().clone();
        *request.uri_mut() = uri;
        *request.version_mut() = req.version();
        *request.headers_mut() = headers;
        if let Some(addr) = req.remote_addr() {
            request.extensions_mut().insert(RemoteAddr(addr));
            #[cfg(feature = "axum")]
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
        }
        if let Some(tls) = req.tls_info() {
            // A reference-count increment: the details are shared by the connection.
            request.extensions_mut().insert(tls.clone());
        }
        #[cfg(feature = "axum")]
        if let Some(on_upgrade) = on_upgrade {
            request.extensions_mut().insert(on_upgrade);
        }

        if let Err(e) = poll_fn(|task| service.poll_ready(task)).await {
            return failed(e);
        }
        let call = service.call(request);

        // Run the service while feeding it the request body it asks for.
        let limit = body.limit();
        let mut total = 0u64;
        let mut buf = Vec::new();
        let result = match &shared {
            None => call.await,
            Some(shared) => {
                // A buffer no longer than a declared body.
                let want = body.content_length().unwrap_or(READ_CHUNK as u64);
                buf.resize(want.clamp(1, READ_CHUNK as u64) as usize, 0);
                let mut call = pin!(call);
                let mut feed = pin!(pump(&mut body, shared, &mut buf, &mut total, limit, false));
                let mut feeding = true;
                poll_fn(|task| {
                    if let Poll::Ready(r) = call.as_mut().poll(task) {
                        return Poll::Ready(r);
                    }
                    if feeding && feed.as_mut().poll(task).is_ready() {
                        feeding = false;
                    }
                    Poll::Pending
                })
                .await
            }
        };
        let response = match result {
            Ok(r) => r,
            Err(e) => return failed(e),
        };
        if let Some(shared) = &shared {
            if lock(shared).too_large {
                // Whatever the service made of the error (axum: 400), the server's limit
                // answers 413, as the drivers do for a declared length over the limit.
                return Response::new(StatusCode::PAYLOAD_TOO_LARGE);
            }
            // The service still holds an unfinished body (e.g. streams it back): read the
            // rest now, the response stream cannot borrow the connection.
            pump(&mut body, shared, &mut buf, &mut total, limit, true).await;
        }

        // The response head.
        let (parts, res_body) = response.into_parts();
        let head_length = (is_head)
            .then(|| parts.headers.get(http::header::CONTENT_LENGTH))
            .flatten()
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let mut fields = shockwave_arena::Vec::new_in(arena.bump());
        if fields.try_reserve_exact(parts.headers.len()).is_err() {
            return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
        }
        for (name, value) in parts.headers.iter() {
            let (Ok(n), Ok(v)) = (
                arena.alloc_bytes(name.as_str().as_bytes()),
                arena.alloc_bytes(value.as_bytes()),
            ) else {
                return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
            };
            fields.push((&*n, &*v));
        }
        let out = Response::new(parts.status).headers_slice(fields.into_bump_slice());

        // The response body.
        let (body, trailers) = match response_body(res_body).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "tower response body failed; answering 500");
                return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        let body = match head_length {
            // axum answers HEAD with the GET response's `content-length` and no body; the
            // drivers send no body for HEAD but frame the head from the body's length, so
            // give them a body of that length (never written).
            Some(n) if matches!(body, ResponseBody::Empty) && n <= HEAD_ZEROS.len() as u64 => {
                ResponseBody::Slice(&HEAD_ZEROS[..n as usize])
            }
            _ => body,
        };
        let out = out.body(body);
        match trailers {
            ResponseTrailers::None => out,
            ResponseTrailers::Ready(map) => out.trailers_deferred(std::future::ready(map)),
            ResponseTrailers::Slot(slot) => {
                out.trailers_deferred(async move { slot.borrow_mut().take().unwrap_or_default() })
            }
        }
    }
}

/// The trailer fields of a service's response body.
enum ResponseTrailers {
    None,
    /// Seen while the body was collected.
    Ready(HeaderMap),
    /// Filled by the response stream when a trailer frame comes by.
    Slot(std::rc::Rc<std::cell::RefCell<Option<HeaderMap>>>),
}

/// Turns a service's response body into ours: collected when its size is exact and small
/// (so it gets a `content-length`), streamed frame by frame otherwise.
async fn response_body<B>(body: B) -> Result<(ResponseBody<'static>, ResponseTrailers), BoxError>
where
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
    if body.is_end_stream() {
        return Ok((ResponseBody::Empty, ResponseTrailers::None));
    }
    if let Some(len) = body
        .size_hint()
        .exact()
        .filter(|&n| n <= TOWER_COLLECT_EXACT_MAX)
    {
        // Pinned in place: no allocation beyond the data.
        let mut body = pin!(body);
        let mut first: Option<Bytes> = None;
        let mut rest: Vec<u8> = Vec::new();
        let mut trailers = None;
        while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            let frame = frame.map_err(Into::into)?;
            match frame.into_data() {
                Ok(mut data) => {
                    let chunk = data.copy_to_bytes(data.remaining());
                    match &first {
                        None if rest.is_empty() => first = Some(chunk),
                        _ => {
                            if let Some(f) = first.take() {
                                rest.reserve(len as usize);
                                rest.extend_from_slice(&f);
                            }
                            rest.extend_from_slice(&chunk);
                        }
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = Some(t);
                    }
                }
            }
        }
        let data = match first {
            Some(f) => f,
            None => Bytes::from(rest),
        };
        let trailers = match trailers {
            Some(t) => ResponseTrailers::Ready(t),
            None => ResponseTrailers::None,
        };
        return Ok((ResponseBody::Bytes(data), trailers));
    }
    // Streamed: data frames go out as they come; a trailer frame is handed to the
    // driver's deferred trailers, which it awaits after the last data chunk.
    let mut body = Box::pin(body);
    let slot: std::rc::Rc<std::cell::RefCell<Option<HeaderMap>>> = Default::default();
    let seen = slot.clone();
    let stream = futures_util::stream::poll_fn(move |cx| loop {
        match body.as_mut().poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                let e: BoxError = e.into();
                return Poll::Ready(Some(Err(std::io::Error::other(e))));
            }
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let chunk = data.copy_to_bytes(data.remaining());
                    if !chunk.is_empty() {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        *seen.borrow_mut() = Some(t);
                    }
                }
            },
        }
    });
    Ok((
        ResponseBody::Stream(Box::pin(stream)),
        ResponseTrailers::Slot(slot),
    ))
}

/// HTTP/1.1 upgrades for services that take the connection with `hyper::upgrade::on`
/// (axum's `WebSocketUpgrade`).
///
/// hyper has no public constructor for `hyper::upgrade::OnUpgrade`: only its own
/// connections make one, for a request with an `Upgrade` field, and fulfil it when the
/// service answers 101. So each upgrade request gets a hyper HTTP/1.1 server connection of
/// its own over a [`HandOver`] stream: the stream feeds hyper a fixed upgrade request
/// head, hyper's service (`capture`) sends the `OnUpgrade` it got out to the real
/// request's extensions and waits. If the real service answers 101, the server writes that
/// 101 and runs the upgrade callback, which puts the real connection ([`Upgraded`]) into
/// the stream and lets hyper's service answer 101 too: hyper writes its own 101 head into
/// the stream (swallowed there) and fulfils the `OnUpgrade` with the stream, which from
/// then on reads and writes the real connection. Any other answer drops hyper's
/// connection: its `OnUpgrade` then resolves to an error.
#[cfg(feature = "axum")]
mod hyper_upgrade {
    use std::future::{poll_fn, Future};
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::sync::oneshot;

    use crate::service::request::RequestContext;
    use crate::service::upgrade::Upgraded;

    /// The request hyper's connection reads: it only needs an `Upgrade` field to hand out
    /// an `OnUpgrade`. The real request goes to the real service.
    const HEAD: &[u8] =
        b"GET / HTTP/1.1\r\nhost: shockwave\r\nconnection: upgrade\r\nupgrade: shockwave\r\n\r\n";

    /// The end of hyper's 101 head.
    const HEAD_END: &[u8; 4] = b"\r\n\r\n";

    /// hyper's side of the connection: [`HEAD`] to read, hyper's 101 head to swallow, then
    /// the real connection once the upgrade callback sent it.
    struct HandOver {
        /// How much of [`HEAD`] hyper has read.
        head_read: usize,
        /// How much of [`HEAD_END`] ends what hyper wrote so far (4: its head is done).
        head_end: usize,
        /// The real connection, on its way from the upgrade callback.
        rx: Option<oneshot::Receiver<Upgraded>>,
        io: Option<Upgraded>,
        /// Dropped with the stream: tells the upgrade callback the service is done.
        _done: oneshot::Sender<()>,
    }

    impl HandOver {
        /// The real connection, once sent (`None`: it never will be).
        fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Option<&mut Upgraded>> {
            if let Some(rx) = &mut self.rx {
                match Pin::new(rx).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(io) => {
                        self.io = io.ok();
                        self.rx = None;
                    }
                }
            }
            Poll::Ready(self.io.as_mut())
        }
    }

    fn gone() -> io::Error {
        io::Error::new(
            io::ErrorKind::NotConnected,
            "the connection was not upgraded",
        )
    }

    impl AsyncRead for HandOver {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = &mut *self;
            if this.head_read < HEAD.len() {
                let n = (HEAD.len() - this.head_read).min(buf.remaining());
                buf.put_slice(&HEAD[this.head_read..this.head_read + n]);
                this.head_read += n;
                return Poll::Ready(Ok(()));
            }
            match this.poll_io(cx) {
                Poll::Ready(Some(io)) => Pin::new(io).poll_read(cx, buf),
                // End of stream.
                Poll::Ready(None) => Poll::Ready(Ok(())),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    impl AsyncWrite for HandOver {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = &mut *self;
            if this.head_end < HEAD_END.len() {
                // hyper's 101 head: the server already wrote the service's.
                for (i, &b) in buf.iter().enumerate() {
                    this.head_end = if b == HEAD_END[this.head_end] {
                        this.head_end + 1
                    } else {
                        usize::from(b == b'\r')
                    };
                    if this.head_end == HEAD_END.len() {
                        return Poll::Ready(Ok(i + 1));
                    }
                }
                return Poll::Ready(Ok(buf.len()));
            }
            match this.poll_io(cx) {
                Poll::Ready(Some(io)) => Pin::new(io).poll_write(cx, buf),
                Poll::Ready(None) => Poll::Ready(Err(gone())),
                Poll::Pending => Poll::Pending,
            }
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = &mut *self;
            if this.head_end < HEAD_END.len() {
                return Poll::Ready(Ok(()));
            }
            match this.poll_io(cx) {
                Poll::Ready(Some(io)) => Pin::new(io).poll_flush(cx),
                Poll::Ready(None) => Poll::Ready(Ok(())),
                Poll::Pending => Poll::Pending,
            }
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.poll_io(cx) {
                Poll::Ready(Some(io)) => Pin::new(io).poll_shutdown(cx),
                Poll::Ready(None) => Poll::Ready(Ok(())),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    /// A stand-in and the sender of its connection, for unit tests.
    #[cfg(test)]
    pub(super) fn hand_over_for_tests() -> (
        impl AsyncRead + AsyncWrite + Unpin,
        oneshot::Sender<Upgraded>,
    ) {
        let (io_tx, io_rx) = oneshot::channel();
        let (done_tx, _) = oneshot::channel();
        let stream = HandOver {
            head_read: 0,
            head_end: 0,
            rx: Some(io_rx),
            io: None,
            _done: done_tx,
        };
        (stream, io_tx)
    }

    /// For an HTTP/1.1 request with an `Upgrade` field that the connection can hand over:
    /// the `OnUpgrade` for the service's request, with the upgrade callback registered.
    pub(super) async fn prepare(cx: &RequestContext<'_>) -> Option<hyper::upgrade::OnUpgrade> {
        let req = cx.request();
        if !cx.can_upgrade()
            || req.version() != http::Version::HTTP_11
            || req.method() == http::Method::CONNECT
            || req.headers().get("upgrade").is_none()
        {
            return None;
        }
        let (on_tx, on_rx) = oneshot::channel::<hyper::upgrade::OnUpgrade>();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (io_tx, io_rx) = oneshot::channel::<Upgraded>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let stream = HandOver {
            head_read: 0,
            head_end: 0,
            rx: Some(io_rx),
            io: None,
            _done: done_tx,
        };
        // hyper's `service_fn` takes an `Fn`: the one-shot ends sit behind a lock.
        let once = std::sync::Mutex::new(Some((on_tx, go_rx)));
        let capture =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let taken = once
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                let go = taken.map(|(on_tx, go_rx)| {
                    let _ = on_tx.send(hyper::upgrade::on(&mut req));
                    go_rx
                });
                async move {
                    match go {
                        Some(go) => {
                            go.await.map_err(|_| gone())?;
                            let mut res = hyper::Response::new(String::new());
                            *res.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
                            Ok(res)
                        }
                        None => Err(gone()),
                    }
                }
            });
        let mut conn = Box::pin(
            hyper::server::conn::http1::Builder::new()
                .header_read_timeout(None)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), capture)
                .with_upgrades(),
        );
        // hyper reads the head from memory and calls `capture` at once; `capture` then
        // waits for `go`, so the connection cannot end before (if it does, it failed:
        // no `OnUpgrade`, and it is not polled again).
        let mut on_rx = on_rx;
        let on = poll_fn(|task| {
            if conn.as_mut().poll(task).is_ready() {
                return Poll::Ready(None);
            }
            Pin::new(&mut on_rx).poll(task).map(Result::ok)
        })
        .await?;
        let registered = cx.on_upgrade(move |io| async move {
            // The server wrote the service's 101: hand over the connection.
            if io_tx.send(io).is_err() || go_tx.send(()).is_err() {
                return;
            }
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "hyper upgrade hand-over failed");
                return;
            }
            // Keep the connection counted by the server until the service drops it.
            let _ = done_rx.await;
        });
        registered.then_some(on)
    }
}

#[cfg(all(test, feature = "axum"))]
mod hand_over_tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::super::upgrade::Upgraded;
    use super::hyper_upgrade::hand_over_for_tests;

    /// The stand-in gives hyper the fixed head, swallows hyper's 101 head even when its
    /// end is split across writes, then reads and writes the real connection (its
    /// already-read bytes first).
    #[tokio::test]
    async fn the_stand_in_swallows_hyper_head_then_is_the_connection() {
        let (ours, mut peer) = tokio::io::duplex(1024);
        let (mut stream, tx) = hand_over_for_tests();
        let mut head = vec![0u8; 256];
        let n = stream.read(&mut head).await.unwrap();
        assert!(head[..n].starts_with(b"GET / HTTP/1.1\r\n"));
        assert!(head[..n].ends_with(b"upgrade: shockwave\r\n\r\n"));
        // hyper's head, its end split over two writes, the second carrying more bytes.
        assert_eq!(
            stream
                .write(b"HTTP/1.1 101 Switching Protocols\r\n\r")
                .await
                .unwrap(),
            35
        );
        tx.send(Upgraded::new(Box::new(ours), b"early".to_vec(), None))
            .unwrap();
        assert_eq!(
            stream.write(b"\nframe").await.unwrap(),
            1,
            "up to the head's end"
        );
        stream.write_all(b"frame").await.unwrap();
        stream.flush().await.unwrap();
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"frame", "nothing of hyper's head reaches the peer");
        let mut first = [0u8; 5];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"early");
        peer.write_all(b"later").await.unwrap();
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"later");
    }

    /// Without a connection (the service did not answer 101) the stand-in ends.
    #[tokio::test]
    async fn without_a_connection_the_stand_in_ends() {
        let (mut stream, tx) = hand_over_for_tests();
        let mut head = vec![0u8; 256];
        let _ = stream.read(&mut head).await.unwrap();
        stream.write_all(b"HTTP/1.1 101 OK\r\n\r\n").await.unwrap();
        drop(tx);
        assert_eq!(stream.read(&mut head).await.unwrap(), 0);
        assert!(stream.write(b"x").await.is_err());
    }
}
