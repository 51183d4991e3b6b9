//! The embedded routes of `shockwave serve`, usable as a library handler.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, StatusCode};

use super::files::StaticFiles;
use super::handler::Handler;
use super::request::RequestContext;
use super::response::Response;
use super::StatsSource;

/// `GET /` → `Hello, World!`, `GET /json` → `{"message":"Hello, World!"}`,
/// `POST /echo` → the request body, `GET /stats` → the server's counters as JSON, and
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
    async fn call<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
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
            (_, p) if p.starts_with("/static/") => match &self.files {
                Some(files) => files.serve(cx.request(), cx.arena(), &p["/static/".len()..]),
                None => Response::new(StatusCode::NOT_FOUND),
            },
            (_, "/" | "/plaintext" | "/json" | "/stats" | "/echo") => {
                Response::new(StatusCode::METHOD_NOT_ALLOWED)
            }
            _ => Response::new(StatusCode::NOT_FOUND),
        }
    }
}
