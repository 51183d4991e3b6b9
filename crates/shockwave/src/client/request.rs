//! The owned request builder: `client.get(url).header(..).body(..).send().await`.

use std::time::Duration;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};

use super::error::{Error, Result};
use super::redirect::{self, Follow};
use super::request_url::RequestUrl;
use super::response::{parse_owned_head, Response};
use super::target::Target;
use super::{with_deadline, Body, Client, Exchange, OutBody, Outgoing};

/// A request being built; finish it with [`RequestBuilder::send`] (owned response) or
/// [`RequestBuilder::send_in`] (arena response).
#[derive(Debug)]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: Result<RequestUrl>,
    headers: HeaderMap,
    body: Body,
    timeout: Option<Duration>,
    version: Option<Version>,
    error: Option<Error>,
}

/// Drains at most this much of a redirect response's body to keep its connection.
const REDIRECT_DRAIN: u64 = 64 * 1024;

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            client,
            method,
            url: RequestUrl::parse(url),
            headers: HeaderMap::new(),
            body: Body::empty(),
            timeout: None,
            version: None,
            error: None,
        }
    }

    /// Adds a header (appended: repeated names are kept). An invalid name or value makes
    /// [`RequestBuilder::send`] fail with [`Error::InvalidHeader`].
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match name.try_into() {
            Ok(n) => match value.try_into() {
                Ok(v) => {
                    self.headers.append(n, v);
                }
                Err(_) => {
                    self.error.get_or_insert(Error::InvalidHeader {
                        name: n.as_str().to_owned(),
                    });
                }
            },
            Err(_) => {
                self.error.get_or_insert(Error::InvalidHeader {
                    name: "(invalid name)".to_owned(),
                });
            }
        }
        self
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        let mut last = None;
        for (name, value) in headers {
            if let Some(n) = name {
                last = Some(n);
            }
            if let Some(n) = &last {
                self.headers.append(n.clone(), value);
            }
        }
        self
    }

    /// Sets the body (bytes, a string, or a [`Body`] stream).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets an `Authorization: Basic` header (RFC 7617) from a user name and an optional
    /// password, replacing one set before. The value is marked sensitive
    /// (`HeaderValue::set_sensitive`: hidden from `Debug` output); over HTTP/2 the HPACK
    /// encoder sends `Authorization` as a never-indexed literal (RFC 7541 §7.1.3), and
    /// the header is dropped on a redirect to another origin.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// let client = shockwave::client::Client::new();
    /// let resp = client
    ///     .get("http://127.0.0.1:8080/private")
    ///     .basic_auth("aladdin", Some("opensesame"))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn basic_auth(
        self,
        user: impl std::fmt::Display,
        password: Option<impl std::fmt::Display>,
    ) -> Self {
        let plain = match password {
            Some(p) => format!("{user}:{p}"),
            None => format!("{user}:"),
        };
        let value = format!("Basic {}", base64(plain.as_bytes()));
        self.sensitive_header(http::header::AUTHORIZATION, value)
    }

    /// Sets an `Authorization: Bearer` header (RFC 6750 §2.1), replacing one set
    /// before; marked sensitive like [`RequestBuilder::basic_auth`]'s.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// let client = shockwave::client::Client::new();
    /// let resp = client
    ///     .get("http://127.0.0.1:8080/api")
    ///     .bearer_auth("my-token")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn bearer_auth(self, token: impl std::fmt::Display) -> Self {
        self.sensitive_header(http::header::AUTHORIZATION, format!("Bearer {token}"))
    }

    fn sensitive_header(mut self, name: HeaderName, value: String) -> Self {
        match HeaderValue::try_from(value) {
            Ok(mut v) => {
                v.set_sensitive(true);
                self.headers.insert(name, v);
            }
            Err(_) => {
                self.error.get_or_insert(Error::InvalidHeader {
                    name: name.as_str().to_owned(),
                });
            }
        }
        self
    }

    /// Appends `query`, serialized as `application/x-www-form-urlencoded` pairs, to the
    /// URL's query string (pairs already in the URL are kept). `query` is anything serde
    /// can serialize as a sequence of pairs: a struct, a map, `&[("k", "v")]`. Needs the
    /// `serde` feature.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// let client = shockwave::client::Client::new();
    /// // GET /search?lang=en&q=arena+allocators&page=2
    /// let resp = client
    ///     .get("http://127.0.0.1:8080/search?lang=en")
    ///     .query(&[("q", "arena allocators"), ("page", "2")])
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        if let Ok(url) = &mut self.url {
            let url = url.url_mut();
            let result = {
                let mut pairs = url.query_pairs_mut();
                query
                    .serialize(serde_urlencoded::Serializer::new(&mut pairs))
                    .map(|_| ())
            };
            if url.query() == Some("") {
                url.set_query(None);
            }
            if let Err(e) = result {
                self.error
                    .get_or_insert(Error::Serialize("query string", Box::new(e)));
            }
        }
        self
    }

    /// Sets the body to `form` serialized as `application/x-www-form-urlencoded`, and
    /// the `Content-Type` to that (replacing one set before). Needs the `serde` feature.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// let client = shockwave::client::Client::new();
    /// let resp = client
    ///     .post("http://127.0.0.1:8080/login")
    ///     .form(&[("user", "ada"), ("remember", "yes")])
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn form<T: serde::Serialize + ?Sized>(mut self, form: &T) -> Self {
        match serde_urlencoded::to_string(form) {
            Ok(body) => {
                self.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                self.body = body.into();
            }
            Err(e) => {
                self.error
                    .get_or_insert(Error::Serialize("form", Box::new(e)));
            }
        }
        self
    }

    /// Sets the body to `json` serialized as JSON, and the `Content-Type` to
    /// `application/json` (replacing one set before). Needs the `json` feature.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// #[derive(serde::Serialize)]
    /// struct NewUser<'a> {
    ///     name: &'a str,
    ///     admin: bool,
    /// }
    /// let client = shockwave::client::Client::new();
    /// let resp = client
    ///     .post("http://127.0.0.1:8080/users")
    ///     .json(&NewUser { name: "ada", admin: false })
    ///     .send()
    ///     .await?
    ///     .error_for_status()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, json: &T) -> Self {
        match serde_json::to_vec(json) {
            Ok(body) => {
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.body = body.into();
            }
            Err(e) => {
                self.error
                    .get_or_insert(Error::Serialize("JSON body", Box::new(e)));
            }
        }
        self
    }

    /// Overrides the client's request timeout for this request.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Asks for an HTTP version for this request: `Version::HTTP_3` (QUIC; `https`
    /// only), `Version::HTTP_2` (ALPN `h2` over TLS, prior knowledge for `http://`), or
    /// `Version::HTTP_11` (HTTP/1.1 only). Without it the client's configuration
    /// decides.
    pub fn version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    /// Sends the request and returns once the response head has arrived; the body is
    /// read from the returned [`Response`].
    pub async fn send(self) -> Result<Response> {
        let RequestBuilder {
            client,
            method,
            url,
            headers,
            body,
            timeout,
            version,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        let url = url?;
        let deadline = client.deadline(timeout);
        // Boxed once here: the exchange's future is several KiB, and unboxed it would be
        // copied at every await above it (the caller's `join_all`, `spawn`, ...).
        with_deadline(
            deadline,
            Box::pin(send_owned(
                client.clone(),
                method,
                url,
                headers,
                body,
                deadline,
                version,
            )),
        )
        .await
    }

    /// Sends the request and reads the whole response into `arena` (see
    /// [`Client::send_in`]).
    pub async fn send_in<'a>(
        self,
        arena: &'a shockwave_arena::Arena,
    ) -> Result<super::ArenaResponse<'a>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let url = self.url?;
        let pairs = header_pairs(&self.headers, None);
        let body = self
            .body
            .as_bytes()
            .ok_or(Error::BodyStream(std::io::Error::other(
                "the arena API takes in-memory bodies only",
            )))?;
        let req = super::ArenaRequest {
            method: self.method.clone(),
            url: url.as_str(),
            headers: &pairs,
            body,
            timeout: self.timeout,
            version: self.version,
        };
        self.client.send_in(arena, req).await
    }
}

/// The header pairs to put on the wire: the framing headers (`Host`,
/// `Content-Length`, `Transfer-Encoding`) are the codec's job and are dropped here.
fn header_pairs<'h>(
    headers: &'h HeaderMap,
    ua: Option<&'h HeaderValue>,
) -> Vec<(&'h [u8], &'h [u8])> {
    let mut pairs = Vec::with_capacity(headers.len() + usize::from(ua.is_some()));
    for (n, v) in headers {
        if n == HOST || n == CONTENT_LENGTH || n == TRANSFER_ENCODING {
            continue;
        }
        pairs.push((n.as_str().as_bytes(), v.as_bytes()));
    }
    if let Some(ua) = ua {
        if !headers.contains_key(USER_AGENT) {
            pairs.push((b"user-agent".as_slice(), ua.as_bytes()));
        }
    }
    pairs
}

async fn send_owned(
    client: Client,
    mut method: Method,
    url: RequestUrl,
    mut headers: HeaderMap,
    mut body: Body,
    deadline: Option<(std::time::Instant, Duration)>,
    version: Option<Version>,
) -> Result<Response> {
    let max_hops = client.config().redirect.max();
    let mut hops = 0;
    let mut next_url = url;
    loop {
        let url = next_url;
        // The cookie store's `Cookie` field, unless the caller set one.
        #[cfg(feature = "cookies")]
        let cookie = match &client.config().cookies {
            Some(store) if !headers.contains_key(http::header::COOKIE) => {
                store.0.cookies(url.url())
            }
            _ => None,
        };
        let decode;
        let mut response = {
            let mut pairs = header_pairs(&headers, client.config().user_agent.as_ref());
            #[cfg(feature = "cookies")]
            if let Some(c) = &cookie {
                pairs.push((b"cookie".as_slice(), c.as_bytes()));
            }
            decode = super::decompress::offer(&mut pairs, &headers, &client.config().decompress);
            let mut out = Outgoing {
                method: &method,
                target: Target::parse(url.as_str())?,
                headers: &pairs,
                body: OutBody::from_body(&mut body),
                version,
            };
            match client.begin(&mut out).await? {
                Exchange::H1 {
                    slot,
                    mut conn,
                    head_len,
                } => {
                    let config = client.config();
                    let head = parse_owned_head(
                        &mut conn,
                        head_len,
                        &method,
                        &config.limits,
                        config.alloc,
                    )?;
                    Response::new(&client, slot, conn, head, url, deadline)
                }
                #[cfg(feature = "http2")]
                Exchange::H2 { stream, head } => {
                    Response::h2(&client, stream, head, &method, url, deadline)
                }
                #[cfg(feature = "http3")]
                Exchange::H3(conn) => {
                    let OutBody::Full(body) = out.body else {
                        return Err(Error::BodyStream(std::io::Error::other(
                            "streamed request bodies are not supported over HTTP/3",
                        )));
                    };
                    let mut lowered = Vec::new();
                    let fields = super::multiplexed_fields(out.headers, &mut lowered);
                    // Boxed: kept out of the (HTTP/1.1 and HTTP/2) request future.
                    let resp = Box::pin(conn.send(super::h3::Http3Request {
                        method: out.method,
                        authority: out.target.authority,
                        path: out.target.path_and_query,
                        headers: &fields,
                        body,
                    }))
                    .await?;
                    Response::buffered(&client, resp, url)
                }
            }
        };
        if decode {
            response.decode_content(&client.config().decompress);
        }
        #[cfg(feature = "cookies")]
        if let Some(store) = &client.config().cookies {
            let mut set = response.headers().get_all(http::header::SET_COOKIE).iter();
            store.0.set_cookies(&mut set, response.url());
        }
        let follow = if max_hops > 0 {
            redirect::follow(response.status(), &method)
        } else {
            Follow::No
        };
        let location = match follow {
            Follow::No => None,
            _ => response.headers().get(http::header::LOCATION).cloned(),
        };
        let Some(location) = location else {
            return Ok(response);
        };
        let next_body = match follow {
            Follow::ToGet => Some(Body::empty()),
            _ => body.try_clone(),
        };
        let Some(next_body) = next_body else {
            // A streamed body cannot be resent: hand the redirect to the caller.
            return Ok(response);
        };
        // The response owns the URL it answers (moved there, not cloned); the
        // connection is drained and the URL taken back.
        let url = drain(response).await;
        if hops >= max_hops {
            return Err(Error::TooManyRedirects { max: max_hops });
        }
        let next =
            redirect::resolve(url.as_str(), location.as_bytes()).ok_or(Error::InvalidRedirect)?;
        if follow == Follow::ToGet {
            method = if method == Method::HEAD {
                Method::HEAD
            } else {
                Method::GET
            };
            headers.remove(CONTENT_TYPE);
            headers.remove(CONTENT_LENGTH);
        }
        let (old, new) = (Target::parse(url.as_str())?, Target::parse(next.as_str())?);
        if !old.same_origin(&new) {
            let sensitive: Vec<HeaderName> = headers
                .keys()
                .filter(|n| redirect::is_sensitive(n.as_str().as_bytes()))
                .cloned()
                .collect();
            for n in sensitive {
                headers.remove(n);
            }
        }
        body = next_body;
        next_url = RequestUrl::from(next);
        hops += 1;
    }
}

/// Reads and discards a small redirect body so its connection can be reused; a large
/// one is abandoned (the connection closes). Returns the response's URL.
async fn drain(mut response: Response) -> RequestUrl {
    let mut total = 0u64;
    while let Ok(Some(piece)) = response.chunk().await {
        total += piece.len() as u64;
        if total > REDIRECT_DRAIN {
            break;
        }
    }
    response.into_url()
}

/// Standard base64 with padding (RFC 4648 §4), for `Authorization: Basic`.
pub(crate) fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        // RFC 4648 §10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
        // RFC 7617 §2's example.
        assert_eq!(
            super::base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
