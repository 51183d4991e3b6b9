//! The handler's view of a request: [`RequestContext<'a>`], [`Request<'a>`], [`Headers<'a>`].
//!
//! These types are protocol-neutral: the HTTP/1.1 driver builds them from
//! `shockwave-http11`'s parsed request; HTTP/2 and HTTP/3 drivers build the same types from
//! HPACK/QPACK-decoded fields in the request arena.

use std::net::SocketAddr;

use http::{Method, Version};
use shockwave_arena::{Arena, HeaderList};

use super::body::Body;
use super::tls_info::TlsInfo;
use super::upgrade::{UpgradeSlot, Upgraded};

/// The request's URI scheme (defined in [`crate::service::scheme`], shared with the client).
pub use super::scheme::Scheme;

/// A read-only view of the request's header fields (names compared case-insensitively).
#[derive(Clone, Copy)]
pub struct Headers<'a> {
    repr: HeadersRepr<'a>,
}

#[derive(Clone, Copy)]
enum HeadersRepr<'a> {
    List(&'a HeaderList<'a>),
    Pairs(&'a [(&'a [u8], &'a [u8])]),
    H1(shockwave_http11::Headers<'a, 'a>),
}

impl std::fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

impl<'a> Headers<'a> {
    /// A view of an arena header list (what HTTP/2 and HTTP/3 drivers build).
    pub fn from_list(list: &'a HeaderList<'a>) -> Self {
        Headers {
            repr: HeadersRepr::List(list),
        }
    }

    /// A view of `(name, value)` pairs.
    pub fn from_pairs(pairs: &'a [(&'a [u8], &'a [u8])]) -> Self {
        Headers {
            repr: HeadersRepr::Pairs(pairs),
        }
    }

    pub(crate) fn from_h1(h: shockwave_http11::Headers<'a, 'a>) -> Self {
        Headers {
            repr: HeadersRepr::H1(h),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self.repr {
            HeadersRepr::List(l) => l.len(),
            HeadersRepr::Pairs(p) => p.len(),
            HeadersRepr::H1(h) => h.len(),
        }
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field at `index`, in arrival order.
    pub fn get_index(&self, index: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self.repr {
            HeadersRepr::List(l) => l.get_index(index),
            HeadersRepr::Pairs(p) => p.get(index).copied(),
            HeadersRepr::H1(h) => h.get_index(index),
        }
    }

    /// The first value of the field `name` (case-insensitive).
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        let name = name.as_ref();
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first value of `name` as a string, if it is valid UTF-8.
    pub fn get_str(&self, name: impl AsRef<[u8]>) -> Option<&'a str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// True if a field `name` is present.
    pub fn contains(&self, name: impl AsRef<[u8]>) -> bool {
        self.get(name).is_some()
    }

    /// Every value of the field `name`, in order.
    pub fn get_all<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'a [u8]> + 's {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every field in arrival order.
    pub fn iter(&self) -> HeadersIter<'a> {
        HeadersIter {
            headers: *self,
            index: 0,
        }
    }
}

/// Iterator over [`Headers`].
#[derive(Clone)]
pub struct HeadersIter<'a> {
    headers: Headers<'a>,
    index: usize,
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.headers.get_index(self.index)?;
        self.index += 1;
        Some(item)
    }
}

/// A parsed request head, borrowing the request's buffers and arena for `'a`.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    method: Method,
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    /// Kept as bytes and checked for UTF-8 only when asked for (most handlers never
    /// look at it).
    authority: Option<&'a [u8]>,
    scheme: Scheme,
    version: Version,
    headers: Headers<'a>,
    remote_addr: Option<SocketAddr>,
    tls_info: Option<&'a TlsInfo>,
    /// The `:protocol` pseudo-header of an extended CONNECT (RFC 8441 §4, RFC 9220 §3).
    protocol: Option<&'a str>,
}

/// The parts of a [`Request`], for protocol drivers building one.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    /// The method.
    pub method: Method,
    /// The request target as sent (origin form `/path?query`, or absolute form).
    pub target: &'a str,
    /// The authority (`host[:port]`): the `Host` field on HTTP/1.1, `:authority` on HTTP/2+.
    pub authority: Option<&'a str>,
    /// The scheme of the connection.
    pub scheme: Scheme,
    /// The protocol version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers<'a>,
    /// The peer's address, when known.
    pub remote_addr: Option<SocketAddr>,
}

impl<'a> Request<'a> {
    /// Builds a request from its parts; the path and query are split off the target.
    pub fn from_parts(parts: RequestParts<'a>) -> Self {
        let (path, query) = split_target(parts.target);
        Request {
            method: parts.method,
            target: parts.target,
            path,
            query,
            authority: parts.authority.map(str::as_bytes),
            scheme: parts.scheme,
            version: parts.version,
            headers: parts.headers,
            remote_addr: parts.remote_addr,
            tls_info: None,
            protocol: None,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
    /// The request target as sent (e.g. `/search?q=x`).
    pub fn target(&self) -> &'a str {
        self.target
    }
    /// The path (without the query).
    pub fn path(&self) -> &'a str {
        self.path
    }
    /// The query string without `?`, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }
    /// The authority (`Host` on HTTP/1.1).
    pub fn authority(&self) -> Option<&'a str> {
        self.authority.and_then(|a| std::str::from_utf8(a).ok())
    }

    /// A request whose target the HTTP/1.1 parser already split into `path` and `query`
    /// (same rules as [`Request::from_parts`]); `authority` is the raw `Host` field,
    /// validated lazily by [`Request::authority`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_h1(
        method: Method,
        target: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        authority: Option<&'a [u8]>,
        scheme: Scheme,
        version: Version,
        headers: Headers<'a>,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        Request {
            method,
            target,
            path,
            query,
            authority,
            scheme,
            version,
            headers,
            remote_addr,
            tls_info: None,
            protocol: None,
        }
    }
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }
    /// The header fields.
    pub fn headers(&self) -> Headers<'a> {
        self.headers
    }
    /// The first value of one header field.
    pub fn header(&self, name: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        self.headers.get(name)
    }
    /// The peer's address; `None` over a Unix domain socket (which has no peer address).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
    /// What the TLS handshake of the connection negotiated; `None` on cleartext.
    pub fn tls_info(&self) -> Option<&'a TlsInfo> {
        self.tls_info
    }
    /// The request with the TLS details of its connection (set by protocol drivers,
    /// shared by every request of the connection).
    pub fn with_tls_info(mut self, tls_info: Option<&'a TlsInfo>) -> Self {
        self.tls_info = tls_info;
        self
    }
    /// The `:protocol` pseudo-header of an extended CONNECT request (RFC 8441 §4 on
    /// HTTP/2, RFC 9220 §3 on HTTP/3), e.g. `websocket`; `None` for every other request
    /// and always on HTTP/1.1.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }
    /// The request with its `:protocol` pseudo-header (set by the HTTP/2 and HTTP/3
    /// drivers for an extended CONNECT).
    pub fn with_protocol(mut self, protocol: Option<&'a str>) -> Self {
        self.protocol = protocol;
        self
    }
}

/// Splits `path?query` (an absolute-form target keeps only its path).
fn split_target(target: &str) -> (&str, Option<&str>) {
    // Origin form (`/path?query`, nearly every request) needs no search for "://".
    let rest = if target.starts_with('/') {
        target
    } else {
        match target.find("://") {
            Some(i) => {
                let after = &target[i + 3..];
                match after.find('/') {
                    Some(j) => &after[j..],
                    None => "/",
                }
            }
            None => target,
        }
    };
    match memchr::memchr(b'?', rest.as_bytes()) {
        // `?` is ASCII, so both halves are on char boundaries.
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

/// Everything a handler gets for one request: the request head, the request's arena,
/// and the streamed body. `'a` is the life of the request: everything borrowed from the
/// context (including arena allocations) is gone when the response has been written.
pub struct RequestContext<'a> {
    request: Request<'a>,
    arena: &'a Arena,
    body: Body<'a>,
    /// Set by the driver for requests that may be upgraded (HTTP/1.1 `Upgrade`, CONNECT
    /// on every protocol).
    upgrade: Option<&'a UpgradeSlot>,
}

impl std::fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("request", &self.request)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestContext<'a> {
    /// Assembles a context (used by protocol drivers and tests).
    pub fn new(request: Request<'a>, arena: &'a Arena, body: Body<'a>) -> Self {
        RequestContext {
            request,
            arena,
            body,
            upgrade: None,
        }
    }

    /// Lets the handler take the connection (or stream) over: after a 101 for an HTTP/1.1
    /// `Upgrade` slot, after a 2xx for a CONNECT slot ([`UpgradeSlot::connect`]).
    pub(crate) fn with_upgrade(mut self, slot: &'a UpgradeSlot) -> Self {
        self.upgrade = Some(slot);
        self
    }

    /// The driver's upgrade slot, if the connection can be taken over.
    pub(crate) fn upgrade_slot(&self) -> Option<&'a UpgradeSlot> {
        self.upgrade
    }

    /// True when this request's connection (or stream) can be taken over with
    /// [`RequestContext::on_upgrade`]: an HTTP/1.1 request without a body carrying an
    /// `Upgrade` field, an HTTP/1.1 `CONNECT host:port`, an HTTP/2 CONNECT or extended
    /// CONNECT (see [`super::upgrade`]).
    pub fn can_upgrade(&self) -> bool {
        self.upgrade.is_some()
    }

    /// True when the upgrade this request offers is a CONNECT tunnel (accepted with a
    /// 2xx), false for an HTTP/1.1 `Upgrade` (accepted with 101) or no upgrade.
    pub fn is_connect_upgrade(&self) -> bool {
        self.upgrade
            .is_some_and(|s| s.kind() == super::upgrade::UpgradeKind::Connect)
    }

    /// The `:protocol` pseudo-header of an extended CONNECT (RFC 8441 §4, RFC 9220 §3),
    /// e.g. `websocket`; `None` otherwise (always on HTTP/1.1).
    pub fn protocol(&self) -> Option<&'a str> {
        self.request.protocol
    }

    /// Registers what runs on the connection after the switching answer (see
    /// [`super::upgrade`]): `101 Switching Protocols` with an `Upgrade` field for an
    /// HTTP/1.1 `Upgrade` (RFC 9110 §7.8), any 2xx for a CONNECT or extended CONNECT
    /// (RFC 9110 §9.3.6, RFC 9113 §8.5, RFC 8441). Returns `false`, registering nothing,
    /// when the request cannot be upgraded (HTTP/1.0, an HTTP/1.1 request with a body or
    /// without an `Upgrade` field that is not a CONNECT, an HTTP/2 or HTTP/3 request that
    /// is not a CONNECT). Any other status drops the callback unrun. A later call
    /// replaces an earlier one.
    pub fn on_upgrade<F, Fut>(&self, f: F) -> bool
    where
        F: FnOnce(Upgraded) -> Fut + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        match self.upgrade {
            Some(slot) => {
                slot.set(Box::new(move |io| Box::pin(f(io))));
                true
            }
            None => false,
        }
    }

    /// The request head.
    pub fn request(&self) -> &Request<'a> {
        &self.request
    }

    /// An empty response with this status, bound to the request arena so that header
    /// fields past [`RESPONSE_INLINE_HEADERS`](super::RESPONSE_INLINE_HEADERS) are stored
    /// there (no heap allocation).
    ///
    /// ```
    /// use shockwave::server::{handler_fn, Response};
    ///
    /// let h = handler_fn(async |cx| {
    ///     cx.response(http::StatusCode::OK)
    ///         .header("content-type", "text/plain")
    ///         .header("cache-control", "no-store")
    ///         .header("x-frame-options", "DENY")
    ///         .body("many headers, no heap")
    /// });
    /// ```
    pub fn response(&self, status: http::StatusCode) -> super::Response<'a> {
        super::Response::new(status).with_arena(self.arena)
    }
    /// The method.
    pub fn method(&self) -> &Method {
        &self.request.method
    }
    /// The path (without the query).
    pub fn path(&self) -> &'a str {
        self.request.path
    }
    /// The query string, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.request.query
    }
    /// The header fields.
    pub fn headers(&self) -> Headers<'a> {
        self.request.headers
    }
    /// What the TLS handshake of the connection negotiated (ALPN protocol, SNI name,
    /// TLS version, cipher suite, client certificate); `None` on cleartext. Captured
    /// once per connection: reading it costs no allocation. See [`TlsInfo`] for what
    /// HTTP/3 provides.
    pub fn tls_info(&self) -> Option<&'a TlsInfo> {
        self.request.tls_info
    }
    /// The request's arena, for the handler's own allocations (reset after the response).
    pub fn arena(&self) -> &'a Arena {
        self.arena
    }
    /// The request body.
    pub fn body(&mut self) -> &mut Body<'a> {
        &mut self.body
    }
    /// Lowers the body limit of this request (a per-route limit, clamped to the server's
    /// `max_body_size`): shorthand for [`Body::set_limit`], which says how the 413 that
    /// follows reaches the client.
    pub fn set_body_limit(&mut self, limit: u64) {
        self.body.set_limit(limit);
    }
    /// Splits the context into its parts.
    pub fn into_parts(self) -> (Request<'a>, &'a Arena, Body<'a>) {
        (self.request, self.arena, self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::split_target;

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a/b?x=1&y"), ("/a/b", Some("x=1&y")));
        assert_eq!(split_target("/"), ("/", None));
        assert_eq!(split_target("http://h:1/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("http://h"), ("/", None));
        assert_eq!(split_target("*"), ("*", None));
    }
}
