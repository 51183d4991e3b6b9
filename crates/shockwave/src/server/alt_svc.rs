//! [`AltSvc`]: a handler wrapper advertising the server's HTTP/3 endpoint (RFC 7838) on
//! the HTTP/1.1 and HTTP/2 responses it gives over TLS.

use std::sync::Arc;

use http::Version;

use crate::service::{Handler, RequestContext, Response, Scheme};

/// Wraps a handler so the HTTP/1.1 and HTTP/2 responses
/// it gives over TLS advertise HTTP/3: `alt-svc: h3=":PORT"; ma=86400` (RFC 7838,
/// RFC 9114 §3.1.1). Responses that already have an `alt-svc` field are left alone.
///
/// ```
/// use std::sync::Arc;
/// use shockwave::server::AltSvc;
/// use shockwave::server::{handler_fn, Response};
///
/// let handler = Arc::new(handler_fn(async |_cx| Response::text("hi")));
/// let advertised = AltSvc::new(handler.clone(), 8443);
/// assert_eq!(advertised.value(), "h3=\":8443\"; ma=86400");
/// ```
#[derive(Debug)]
pub struct AltSvc<H> {
    inner: Arc<H>,
    value: String,
}

impl<H> AltSvc<H> {
    /// Advertises HTTP/3 on UDP `port` in front of `inner`.
    pub fn new(inner: Arc<H>, port: u16) -> Self {
        AltSvc {
            inner,
            value: format!("h3=\":{port}\"; ma=86400"),
        }
    }

    /// The `alt-svc` value sent.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl<H: Handler> Handler for AltSvc<H> {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let req = cx.request();
        let advertise = req.scheme() == Scheme::Https && req.version() != Version::HTTP_3;
        let mut response = self.inner.call(cx).await;
        if advertise
            && !response
                .header_fields()
                .any(|(n, _)| n.eq_ignore_ascii_case(b"alt-svc"))
        {
            response.push_header(b"alt-svc", self.value.as_bytes());
        }
        response
    }
}
