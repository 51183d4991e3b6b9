//! The reqwest-style conveniences of the owned client API against the Shockwave server
//! (in-process, 127.0.0.1): `json`, `query`, `form`, `basic_auth`, `bearer_auth`,
//! `Response::json`, `error_for_status`; and the cookie store (`cookie_store`,
//! `cookie_provider`) with a handler that sets and echoes cookies.

#![cfg(all(feature = "json", feature = "cookies"))]

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shockwave::client::{Client, ErrorKind, Jar, RedirectPolicy};
use shockwave::server::{handler_fn, Response, Server, ServerHandle};

/// What `/inspect` saw of the request.
#[derive(Debug, Deserialize, PartialEq)]
struct Seen {
    method: String,
    query: Option<String>,
    content_type: Option<String>,
    authorization: Option<String>,
    cookie: Option<String>,
    body: String,
}

fn start() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |mut cx| {
            let header = |name: &str| {
                cx.headers()
                    .get_str(name)
                    .map(str::to_owned)
                    .map(serde_json::Value::String)
                    .unwrap_or(serde_json::Value::Null)
            };
            let (content_type, authorization) = (header("content-type"), header("authorization"));
            let cookies: Vec<&str> = cx
                .headers()
                .get_all(b"cookie")
                .map(|v| std::str::from_utf8(v).unwrap())
                .collect();
            let cookie = if cookies.is_empty() {
                serde_json::Value::Null
            } else {
                cookies.join("; ").into()
            };
            let (method, path, query) = (cx.method().to_string(), cx.path(), cx.query());
            match path {
                "/inspect" => {
                    let body = cx.body().to_arena().await.unwrap_or(b"");
                    let json = serde_json::json!({
                        "method": method,
                        "query": query,
                        "content_type": content_type,
                        "authorization": authorization,
                        "cookie": cookie,
                        "body": String::from_utf8_lossy(body),
                    })
                    .to_string();
                    Response::json(cx.arena().alloc_str(&json).unwrap())
                }
                "/status/404" => Response::status_code(404).body("no such thing"),
                "/status/503" => Response::status_code(503),
                "/not-json" => Response::text("<html>"),
                "/login" => Response::text("welcome")
                    .header("set-cookie", "session=abc123; Path=/; HttpOnly")
                    .header("set-cookie", "scoped=1; Path=/account")
                    .header("set-cookie", "secure=1; Secure")
                    .header("set-cookie", "foreign=1; Domain=example.com")
                    .header("set-cookie", "short=1; Max-Age=0"),
                "/logout" => {
                    Response::text("bye").header("set-cookie", "session=; Path=/; Max-Age=0")
                }
                "/hop" => Response::status_code(302)
                    .header("location", "/inspect")
                    .header("set-cookie", "hop=1; Path=/"),
                _ => Response::status_code(404),
            }
        }))
        .unwrap()
}

fn url(h: &ServerHandle, path: &str) -> String {
    format!("http://{}{}", h.local_addr(), path)
}

#[derive(Serialize)]
struct NewUser<'a> {
    name: &'a str,
    tags: Vec<&'a str>,
}

#[tokio::test]
async fn json_request_and_response_bodies() {
    let server = start();
    let client = Client::new();
    let seen: Seen = client
        .post(url(&server, "/inspect"))
        .header("content-type", "text/plain")
        .json(&NewUser {
            name: "ada",
            tags: vec!["a", "b"],
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    assert_eq!(seen.body, r#"{"name":"ada","tags":["a","b"]}"#);

    // A body that is not JSON for the type is a decode error, with serde_json's as
    // the source.
    let err = client
        .get(url(&server, "/not-json"))
        .send()
        .await
        .unwrap()
        .json::<Seen>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.is_decode());
    assert!(std::error::Error::source(&err).is_some());

    // A value serde_json refuses (a map with non-string keys) fails the send, before
    // anything is sent.
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), "v");
    let before = server.stats().requests;
    let err = client
        .post(url(&server, "/inspect"))
        .json(&bad)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request(), "{err}");
    assert_eq!(server.stats().requests, before);
    server.stop().unwrap();
}

#[tokio::test]
async fn query_and_form() {
    let server = start();
    let client = Client::new();
    // Appended to the query already in the URL, percent-encoded.
    let seen: Seen = client
        .get(url(&server, "/inspect?lang=en"))
        .query(&[("q", "arena allocators"), ("page", "2")])
        .query(&[("x", "a&b=c")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen.query.as_deref(),
        Some("lang=en&q=arena+allocators&page=2&x=a%26b%3Dc")
    );
    // A struct works too; an empty one leaves no dangling `?`.
    #[derive(Serialize)]
    struct Page {
        page: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        sort: Option<&'static str>,
    }
    let seen: Seen = client
        .get(url(&server, "/inspect"))
        .query(&Page {
            page: 3,
            sort: None,
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.query.as_deref(), Some("page=3"));
    let seen: Seen = client
        .get(url(&server, "/inspect"))
        .query(&[] as &[(&str, &str)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.query, None);

    let seen: Seen = client
        .post(url(&server, "/inspect"))
        .form(&[("user", "ada lovelace"), ("note", "1+1=2")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body, "user=ada+lovelace&note=1%2B1%3D2");
    // A value that is not a sequence of pairs cannot be a form.
    let err = client
        .post(url(&server, "/inspect"))
        .form(&42)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request(), "{err}");
    server.stop().unwrap();
}

#[tokio::test]
async fn basic_and_bearer_auth() {
    let server = start();
    let client = Client::new();
    let seen: Seen = client
        .get(url(&server, "/inspect"))
        .basic_auth("Aladdin", Some("open sesame"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // RFC 7617 §2's example.
    assert_eq!(
        seen.authorization.as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    let seen: Seen = client
        .get(url(&server, "/inspect"))
        .basic_auth("user", None::<&str>)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.authorization.as_deref(), Some("Basic dXNlcjo="));
    // The last one wins (one Authorization field).
    let seen: Seen = client
        .get(url(&server, "/inspect"))
        .basic_auth("user", None::<&str>)
        .bearer_auth("tok3n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.authorization.as_deref(), Some("Bearer tok3n"));
    // A token that cannot be a header value is an invalid request.
    let err = client
        .get(url(&server, "/inspect"))
        .bearer_auth("bad\ntoken")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request(), "{err}");
    server.stop().unwrap();
}

#[tokio::test]
async fn error_for_status() {
    let server = start();
    let client = Client::new();
    let ok = client.get(url(&server, "/inspect")).send().await.unwrap();
    let ok = ok.error_for_status().unwrap();
    assert_eq!(ok.status(), 200);

    let resp = client
        .get(url(&server, "/status/404"))
        .send()
        .await
        .unwrap();
    let err = resp.error_for_status_ref().unwrap_err();
    assert!(err.is_status());
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(err.url().map(|u| u.path()), Some("/status/404"));
    assert_eq!(
        err.to_string(),
        format!(
            "HTTP status client error (404 Not Found) for {}",
            url(&server, "/status/404")
        )
    );
    // The borrowed form leaves the body readable.
    assert_eq!(resp.text().await.unwrap(), "no such thing");

    let err = client
        .get(url(&server, "/status/503"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert!(err.to_string().contains("server error (503"), "{err}");
    // Other errors have no status.
    let refused = client.get("http://127.0.0.1:1/").send().await.unwrap_err();
    assert_eq!(refused.status(), None);
    server.stop().unwrap();
}

#[tokio::test]
async fn cookie_store_sets_sends_and_deletes_cookies() {
    let server = start();
    let client = Client::builder().cookie_store(true).build().unwrap();
    let inspect = |client: &Client, path: &str| {
        let req = client.get(url(&server, path));
        async move {
            req.send()
                .await
                .unwrap()
                .json::<Seen>()
                .await
                .unwrap()
                .cookie
        }
    };
    assert_eq!(inspect(&client, "/inspect").await, None);
    client.get(url(&server, "/login")).send().await.unwrap();
    // Kept: session (HttpOnly, Path=/). Scoped to /account: not sent here. Refused:
    // Secure over http, a Domain the host does not match, Max-Age=0.
    assert_eq!(
        inspect(&client, "/inspect").await.as_deref(),
        Some("session=abc123")
    );
    // The caller's own Cookie header wins over the store.
    let seen: Seen = client
        .get(url(&server, "/inspect"))
        .header("cookie", "mine=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.cookie.as_deref(), Some("mine=1"));
    client.get(url(&server, "/logout")).send().await.unwrap();
    assert_eq!(inspect(&client, "/inspect").await, None);

    // A client without a store sends nothing.
    let plain = Client::new();
    plain.get(url(&server, "/login")).send().await.unwrap();
    assert_eq!(inspect(&plain, "/inspect").await, None);
    server.stop().unwrap();
}

#[tokio::test]
async fn cookie_provider_is_shared_and_applies_across_redirects() {
    let server = start();
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(RedirectPolicy::limited(3))
        .build()
        .unwrap();
    // The 302 sets `hop`; the redirected request already carries it.
    let seen: Seen = client
        .get(url(&server, "/hop"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.cookie.as_deref(), Some("hop=1"));
    client.get(url(&server, "/login")).send().await.unwrap();
    assert_eq!(jar.len(), 3, "hop, session, scoped");
    assert_eq!(jar.is_http_only("127.0.0.1", "session"), Some(true));
    // Another client on the same jar sees them; /account/x also gets the scoped one,
    // first (the longer path, RFC 6265 §5.4).
    let other = Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let seen: Seen = other
        .get(url(&server, "/inspect"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.cookie.as_deref(), Some("hop=1; session=abc123"));
    let url = url(&server, "/account/x");
    let cookie = jar.cookie_header_at(
        &url::Url::parse(&url).unwrap(),
        std::time::SystemTime::now(),
    );
    assert_eq!(cookie.as_deref(), Some("scoped=1; hop=1; session=abc123"));
    server.stop().unwrap();
}
