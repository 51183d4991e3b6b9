//! The embedded routes of `shockwave serve`, usable as a library handler.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::future::Either;
use http::{Method, StatusCode};

use super::files::StaticFiles;
use super::handler::Handler;
use super::request::RequestContext;
use super::response::Response;
use super::StatsSource;

/// `GET /` → `Hello, World!`, `GET /json` → `{"message":"Hello, World!"}`,
/// `POST /echo` → the request body, `GET /stats` → the server's counters as JSON,
/// `GET /ws` → a WebSocket echo (text and binary messages sent back as they came, over
/// an HTTP/1.1 upgrade), `GET /ws.html` → a page that opens `/ws` in a browser, and
/// (with [`DefaultRoutes::with_static`]) files under `/static/`.
#[derive(Debug, Clone, Default)]
pub struct DefaultRoutes {
    stats: Arc<OnceLock<StatsSource>>,
    files: Option<StaticFiles>,
}

impl DefaultRoutes {
    /// The routes without static files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also serve the files below `files` under `/static/`.
    pub fn with_static(mut self, files: StaticFiles) -> Self {
        self.files = Some(files);
        self
    }

    /// Where `/stats` reads counters from: set it once the server started (see
    /// [`crate::server::ServerHandle::stats_source`]).
    pub fn stats_slot(&self) -> Arc<OnceLock<StatsSource>> {
        self.stats.clone()
    }
}

const HELLO: &str = "Hello, World!";
const JSON: &str = "{\"message\":\"Hello, World!\"}";

impl Handler for DefaultRoutes {
    fn call<'a>(
        &'a self,
        cx: RequestContext<'a>,
    ) -> impl std::future::Future<Output = Response<'a>> + 'a {
        // The fixed answers are ready at once: no future holding the request context is
        // built (and no context is copied into one) for them.
        let fixed = match (cx.method(), cx.path()) {
            (&Method::GET | &Method::HEAD, "/" | "/plaintext") => Some(Fixed::TEXT),
            (&Method::GET | &Method::HEAD, "/json") => Some(Fixed::JSON),
            _ => None,
        };
        match fixed {
            Some(fixed) => Either::Left(fixed),
            None => Either::Right(self.route(cx)),
        }
    }
}

/// A fixed answer, built when polled: the `Response` is written once, into the poll's
/// output, instead of being stored in the future and moved out again.
struct Fixed<'a> {
    json: bool,
    _response: std::marker::PhantomData<Response<'a>>,
}

impl Fixed<'_> {
    const TEXT: Self = Fixed {
        json: false,
        _response: std::marker::PhantomData,
    };
    const JSON: Self = Fixed {
        json: true,
        _response: std::marker::PhantomData,
    };
}

impl<'a> std::future::Future for Fixed<'a> {
    type Output = Response<'a>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Response<'a>> {
        std::task::Poll::Ready(if self.json {
            Response::json(JSON)
        } else {
            Response::text(HELLO)
        })
    }
}

impl DefaultRoutes {
    async fn route<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
        let method = cx.method().clone();
        let path = cx.path();
        match (method, path) {
            (Method::GET | Method::HEAD, "/") | (Method::GET | Method::HEAD, "/plaintext") => {
                Response::text(HELLO)
            }
            (Method::GET | Method::HEAD, "/json") => Response::json(JSON),
            (Method::POST | Method::PUT, "/echo") => {
                let ctype = cx.headers().get("content-type");
                match cx.body().to_arena().await {
                    Ok(body) => {
                        let r = Response::ok().body(body);
                        match ctype {
                            Some(t) => r.header("content-type", t),
                            None => r.header("content-type", "application/octet-stream"),
                        }
                    }
                    Err(e) => Response::new(e.status()),
                }
            }
            (Method::GET | Method::HEAD, "/stats") => match self.stats.get() {
                Some(src) => Response::ok()
                    .header("content-type", "application/json")
                    .header("cache-control", "no-store")
                    .body(Bytes::from(src.to_json())),
                None => Response::new(StatusCode::SERVICE_UNAVAILABLE),
            },
            // RFC 6455 over HTTP/1.1 (GET), RFC 8441 over HTTP/2 (extended CONNECT).
            (Method::GET | Method::CONNECT, "/ws") => {
                match super::ws::WebSocketUpgrade::from_request(&cx) {
                    Ok(ws) => ws.on_upgrade(|mut socket| async move {
                        while let Some(Ok(message)) = socket.recv().await {
                            // Pings are answered by the socket itself; echo the data.
                            let echo = matches!(
                                message,
                                super::ws::Message::Text(_) | super::ws::Message::Binary(_)
                            );
                            if echo && socket.send(message).await.is_err() {
                                break;
                            }
                        }
                    }),
                    Err(refusal) => refusal,
                }
            }
            (Method::GET | Method::HEAD, "/ws.html") => Response::ok()
                .header("content-type", "text/html; charset=utf-8")
                .header("cache-control", "no-store")
                .body(WS_PAGE),
            (_, p) if p.starts_with("/static/") => match &self.files {
                Some(files) => files.serve(cx.request(), cx.arena(), &p["/static/".len()..]),
                None => Response::new(StatusCode::NOT_FOUND),
            },
            // No tunnels here (RFC 9110 §9.3.6): a CONNECT is not implemented (an
            // extended CONNECT elsewhere than `/ws` is not found).
            (Method::CONNECT, _) if cx.protocol().is_none() => {
                Response::new(StatusCode::NOT_IMPLEMENTED)
            }
            (_, "/" | "/plaintext" | "/json" | "/stats" | "/echo" | "/ws" | "/ws.html") => {
                Response::new(StatusCode::METHOD_NOT_ALLOWED)
            }
            _ => Response::new(StatusCode::NOT_FOUND),
        }
    }
}

/// The page of `GET /ws.html`: opens `ws(s)://<host>/ws`, sends what is typed, shows
/// the echoes.
const WS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>shockwave WebSocket echo</title>
<style>
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
#log { border: 1px solid #ccc; padding: .5em; height: 20em; overflow-y: auto; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>WebSocket echo</h1>
<p>Status: <span id="status">connecting</span></p>
<form id="form"><input id="input" autocomplete="off" size="50" autofocus> <button>Send</button></form>
<div id="log"></div>
<script>
"use strict";
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
const log = document.getElementById("log");
const status = document.getElementById("status");
function line(text) {
  const div = document.createElement("div");
  div.textContent = text;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}
const socket = new WebSocket(url);
socket.onopen = () => { status.textContent = "open (" + url + ")"; };
socket.onmessage = (event) => { line("< " + event.data); };
socket.onclose = (event) => { status.textContent = "closed (" + event.code + ")"; };
socket.onerror = () => { status.textContent = "error"; };
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById("input");
  if (socket.readyState === WebSocket.OPEN && input.value !== "") {
    socket.send(input.value);
    line("> " + input.value);
    input.value = "";
  }
};
</script>
</body>
</html>
"#;
