//! The [`Handler`] trait, [`handler_fn`] for closures, and the owned-types API
//! ([`service_fn`]).

use std::future::Future;

use bytes::Bytes;
use http::StatusCode;

use super::request::RequestContext;
use super::response::{Response, ResponseBody};

/// Answers requests. Arena first: the handler gets a [`RequestContext<'a>`] (request head,
/// the request's arena, the streamed body) and returns a [`Response<'a>`] that may borrow
/// any of them.
///
/// The handler object is shared by all worker threads (`Send + Sync`), but the future it
/// returns runs on one worker's current-thread runtime and need **not** be `Send`: it may
/// hold the `&Arena` (which is `!Sync`) across `.await`s.
///
/// Implement it with `async fn`:
///
/// ```
/// use shockwave::server::{Handler, RequestContext, Response};
///
/// struct Hello;
///
/// impl Handler for Hello {
///     async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
///         match cx.path() {
///             "/" => Response::text("Hello, World!"),
///             _ => Response::status_code(404),
///         }
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn call<'a>(&'a self, cx: RequestContext<'a>) -> impl Future<Output = Response<'a>> + 'a;
}

/// A [`Handler`] made from an async closure: see [`handler_fn`].
#[derive(Debug, Clone)]
pub struct HandlerFn<F>(F);

/// Turns an async closure `async |cx| -> Response` into a [`Handler`]; the simple case is
/// one line:
///
/// ```
/// use shockwave::server::{handler_fn, Response};
///
/// let hello = handler_fn(async |_cx| Response::text("Hello, World!"));
/// ```
///
/// Use `async |cx| ...` (an async closure), not `|cx| async move { ... }`: only async
/// closures can return a future borrowing the context.
pub fn handler_fn<F>(f: F) -> HandlerFn<F>
where
    F: for<'a> AsyncFn(RequestContext<'a>) -> Response<'a> + Send + Sync + 'static,
{
    HandlerFn(f)
}

impl<F> Handler for HandlerFn<F>
where
    F: for<'a> AsyncFn(RequestContext<'a>) -> Response<'a> + Send + Sync + 'static,
{
    fn call<'a>(&'a self, cx: RequestContext<'a>) -> impl Future<Output = Response<'a>> + 'a {
        (self.0)(cx)
    }
}

/// A [`Handler`] over owned `http` types: see [`service_fn`].
#[derive(Debug, Clone)]
pub struct ServiceFn<F>(F);

/// The owned-types convenience API, for code that does not want lifetimes: a closure
/// from `http::Request<Bytes>` to `http::Response<Bytes>`.
///
/// ```
/// use bytes::Bytes;
/// use shockwave::server::service_fn;
///
/// let echo = service_fn(|req: http::Request<Bytes>| async move {
///     http::Response::new(req.into_body())
/// });
/// ```
///
/// **Extra allocations** compared to [`Handler`]: per request, the whole body is read into
/// a `Bytes` (one allocation when non-empty), the URI is parsed into an `http::Uri`
/// (allocates for non-trivial targets), every header goes into an `http::HeaderMap`
/// (a table plus one allocation per non-standard name/value), and the response's header
/// map is copied into the request arena (no heap). Expect a handful of heap allocations
/// per request instead of zero.
pub fn service_fn<F, Fut>(f: F) -> ServiceFn<F>
where
    F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = http::Response<Bytes>> + 'static,
{
    ServiceFn(f)
}

impl<F, Fut> Handler for ServiceFn<F>
where
    F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = http::Response<Bytes>> + 'static,
{
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        owned_call(cx, |request| (self.0)(request)).await
    }
}

/// Runs an owned-types handler `f`: reads the whole body, builds the `http::Request`,
/// and copies the `http::Response`'s fields into the request arena.
async fn owned_call<'a, Fut>(
    mut cx: RequestContext<'a>,
    f: impl FnOnce(http::Request<Bytes>) -> Fut,
) -> Response<'a>
where
    Fut: Future<Output = http::Response<Bytes>>,
{
    let body = match cx.body().to_bytes().await {
        Ok(b) => b,
        Err(e) => return Response::new(e.status()),
    };
    let arena = cx.arena();
    let req = cx.request();
    let mut builder = http::Request::builder()
        .method(req.method().clone())
        .uri(req.target())
        .version(req.version());
    for (name, value) in req.headers().iter() {
        builder = builder.header(name, value);
    }
    let Ok(request) = builder.body(body) else {
        return Response::new(StatusCode::BAD_REQUEST);
    };
    let response = f(request).await;
    let (parts, body) = response.into_parts();
    let out = Response::new(parts.status).body(ResponseBody::Bytes(body));
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
    out.headers_slice(fields.into_bump_slice())
}
