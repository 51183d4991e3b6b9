//! WebSocket handlers (RFC 6455 over an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT
//! of RFC 8441, with permessage-deflate of RFC 7692), in the style of axum:
//!
//! ```
//! use shockwave::server::ws::WebSocketUpgrade;
//! use shockwave::server::{handler_fn, Response};
//!
//! let echo = handler_fn(async |cx| match cx.path() {
//!     "/ws" => match WebSocketUpgrade::from_request(&cx) {
//!         Ok(ws) => ws.on_upgrade(|mut socket| async move {
//!             while let Some(Ok(msg)) = socket.recv().await {
//!                 if socket.send(msg).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }),
//!         // 400, or 426 with `Sec-WebSocket-Version: 13` for another version.
//!         Err(refusal) => refusal,
//!     },
//!     _ => Response::status_code(404),
//! });
//! # let _ = echo;
//! ```
//!
//! [`WebSocketUpgrade::from_request`] checks the handshake. On HTTP/1.1 (RFC 6455
//! §4.2.1): a `GET` with `Upgrade: websocket`, `Connection: upgrade`,
//! `Sec-WebSocket-Version: 13` and a valid `Sec-WebSocket-Key`. Over an extended CONNECT
//! (RFC 8441 §4–§5 on HTTP/2; any driver that offers the CONNECT upgrade): method
//! `CONNECT`, `:protocol = websocket`, `Sec-WebSocket-Version: 13`, and no key. A refusal
//! is the response to return (400, or 426 with `Sec-WebSocket-Version: 13` for another
//! version, §4.4). [`WebSocketUpgrade::on_upgrade`] answers `101 Switching Protocols`
//! with the accept key on HTTP/1.1, `200` without one over extended CONNECT (RFC 8441
//! §5), with the negotiated permessage-deflate parameters and subprotocol either way,
//! and runs the callback with the [`WebSocket`] once the head is written, on the
//! connection's worker task. The same handler serves both: match on the path and accept
//! both `GET` and `CONNECT`.
//!
//! The socket's limits and timers are in [`WebSocketConfig`] (set per route with
//! [`WebSocketUpgrade::config`]); when the server shuts down, a socket waiting in
//! [`WebSocket::recv`] sends Close 1001 ("going away") and ends.
//!
//! An HTTP/2 server accepts extended CONNECT only with
//! `Http2Config::enable_connect_protocol` (on by default); without it a `:protocol`
//! request is a stream error before any handler runs (RFC 8441 §4).

use std::future::Future;

use http::StatusCode;
use shockwave_arena::Arena;
use shockwave_websocket::{deflate, handshake, Role};

use super::request::RequestContext;
use super::response::Response;
use super::upgrade::UpgradeSlot;
pub use crate::websocket::{
    CloseCode, CloseFrame, DeflateConfig, Message, WebSocket, WebSocketConfig, WebSocketError,
};

/// A valid WebSocket handshake request, ready to be accepted with
/// [`WebSocketUpgrade::on_upgrade`]: see the [module docs](self).
pub struct WebSocketUpgrade<'a> {
    slot: &'a UpgradeSlot,
    arena: &'a Arena,
    /// `Sec-WebSocket-Accept` for an HTTP/1.1 handshake; `None` over extended CONNECT.
    accept: Option<handshake::AcceptKey>,
    protocols: Vec<&'a str>,
    extensions: Vec<handshake::Extension<'a>>,
    supported_protocols: Vec<String>,
    config: WebSocketConfig,
}

impl std::fmt::Debug for WebSocketUpgrade<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("protocols", &self.protocols)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<'a> WebSocketUpgrade<'a> {
    /// Checks the request's WebSocket handshake: RFC 6455 §4.2.1 for a `GET`, RFC 8441
    /// §4 for a `CONNECT` (extended CONNECT with `:protocol = websocket`). `Err` is the
    /// refusal to answer with: 400 for a malformed handshake (no `Sec-WebSocket-Key` on
    /// HTTP/1.1, no `Upgrade: websocket`, another `:protocol`, ...), 426 with
    /// `Sec-WebSocket-Version: 13` for another version (§4.4), 400 when the request cannot
    /// be taken over (HTTP/1.0, a `GET` over HTTP/2 or HTTP/3, a server shutting down).
    // The refusal is the handler's answer, returned as is (no box on the error path).
    #[allow(clippy::result_large_err)]
    pub fn from_request(cx: &RequestContext<'a>) -> Result<Self, Response<'a>> {
        let method = cx.method().as_str().as_bytes();
        let headers = cx.headers();
        let connect = *cx.method() == http::Method::CONNECT;
        let checked = if connect {
            handshake::validate_extended_connect(
                method,
                cx.protocol().map(str::as_bytes),
                headers.iter(),
            )
        } else {
            handshake::validate_request(method, headers.iter())
        };
        let request = match checked {
            Ok(r) => r,
            Err(e) => {
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                let mut response = cx.response(status);
                for (name, value) in e.response_headers() {
                    response = response.header(*name, *value);
                }
                tracing::debug!(error = %e, "WebSocket handshake refused");
                return Err(response);
            }
        };
        // The driver's slot must be the kind this handshake switches with: an HTTP/1.1
        // `Upgrade` for a `GET`, a CONNECT tunnel for an extended CONNECT.
        let Some(slot) = cx
            .upgrade_slot()
            .filter(|_| cx.is_connect_upgrade() == connect)
        else {
            return Err(cx.response(StatusCode::BAD_REQUEST));
        };
        let accept = if connect {
            None
        } else {
            let Some(accept) = request.accept_key() else {
                return Err(cx.response(StatusCode::BAD_REQUEST));
            };
            Some(accept)
        };
        Ok(WebSocketUpgrade {
            slot,
            arena: cx.arena(),
            accept,
            protocols: request.protocols,
            extensions: request.extensions,
            supported_protocols: Vec::new(),
            config: WebSocketConfig::default(),
        })
    }

    /// Sets the socket's limits and timers (the defaults of [`WebSocketConfig`]
    /// otherwise). With `deflate: None`, permessage-deflate is never accepted.
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the largest message accepted (after decompression); a larger one closes the
    /// connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self.config.max_frame_size = self.config.max_frame_size.min(bytes);
        self
    }

    /// The subprotocols this route speaks, in order of preference: the first one the
    /// client offered (`Sec-WebSocket-Protocol`) is chosen.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.supported_protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The subprotocols the client offered.
    pub fn offered_protocols(&self) -> &[&'a str] {
        &self.protocols
    }

    /// True when the handshake is an extended CONNECT (RFC 8441 / RFC 9220), answered
    /// with 200 instead of 101.
    pub fn is_extended_connect(&self) -> bool {
        self.accept.is_none()
    }

    /// Accepts the handshake: returns the response to return from the handler
    /// (`101 Switching Protocols` on HTTP/1.1, `200` over extended CONNECT), and runs
    /// `callback` with the [`WebSocket`] once it is written.
    /// The callback runs on the connection's worker task (its future need not be
    /// `Send`); the connection closes when it returns.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response<'a>
    where
        F: FnOnce(WebSocket) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let params = self
            .config
            .deflate
            .as_ref()
            .and_then(|c| deflate::negotiate_server(&self.extensions, c));
        let supported: Vec<&str> = self
            .supported_protocols
            .iter()
            .map(String::as_str)
            .collect();
        let protocol = self
            .protocols
            .iter()
            .find(|p| supported.contains(p))
            .map(|p| p.to_string());
        let alloc = |s: &str| self.arena.alloc_bytes(s.as_bytes()).ok().map(|b| &*b);
        let mut response = match &self.accept {
            Some(accept) => {
                let Some(accept) = alloc(accept.as_str()) else {
                    return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
                };
                Response::new(StatusCode::SWITCHING_PROTOCOLS)
                    .with_arena(self.arena)
                    .header("upgrade", "websocket")
                    .header("connection", "upgrade")
                    .header("sec-websocket-accept", accept)
            }
            // RFC 8441 §5: a 2xx, no `Upgrade`/`Connection` (connection-specific fields
            // are malformed in HTTP/2) and no accept key.
            None => Response::new(StatusCode::OK).with_arena(self.arena),
        };
        if let Some(p) = &params {
            let Some(v) = alloc(&p.response_header()) else {
                return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
            };
            response = response.header("sec-websocket-extensions", v);
        }
        if let Some(p) = &protocol {
            let Some(v) = alloc(p) else {
                return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
            };
            response = response.header("sec-websocket-protocol", v);
        }
        let config = self.config;
        self.slot.set(Box::new(move |mut upgraded| {
            let shutdown = upgraded.take_shutdown();
            let buffered = upgraded.take_buffered();
            let socket = WebSocket::new(
                Box::new(upgraded),
                buffered,
                Role::Server,
                config,
                params,
                protocol,
                shutdown,
            );
            Box::pin(callback(socket))
        }));
        response
    }
}
