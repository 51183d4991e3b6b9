//! `Client::websocket`: the WebSocket opening handshake over HTTP/1.1 (RFC 6455 §4.1)
//! on a connection of its own, or over HTTP/2 extended CONNECT (RFC 8441) on a stream
//! of a shared connection, with a permessage-deflate offer (RFC 7692).
//! [`WebSocketRequest`] chooses the version; each transport is one function below that
//! returns the stream and the server's answer, and the checks after it are shared.

use std::hash::{BuildHasher as _, Hasher as _};

use http::Version;
use shockwave_websocket::{deflate, handshake, Role};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::Client;
use crate::websocket::{WebSocket, WebSocketConfig, WebSocketError};

/// The largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

impl Client {
    /// Opens a WebSocket to a `ws://` or `wss://` URL (`http://` and `https://` are
    /// accepted too) over HTTP/1.1 with the default [`WebSocketConfig`] (which offers
    /// permessage-deflate). The connection is a new one (never pooled), through the
    /// client's proxy settings and TLS configuration, within its connect timeout. See
    /// [`Client::websocket_request`] for HTTP/2 and HTTP/3.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use shockwave::client::Client;
    /// use shockwave::websocket::Message;
    ///
    /// let mut ws = Client::new().websocket("ws://127.0.0.1:8080/ws").await?;
    /// ws.send(Message::text("hello")).await?;
    /// if let Some(Ok(Message::Text(echo))) = ws.recv().await {
    ///     println!("{echo}");
    /// }
    /// ws.close(shockwave::websocket::CloseCode::NORMAL, "").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn websocket(&self, url: &str) -> Result<WebSocket, WebSocketError> {
        self.websocket_request(url).open().await
    }

    /// [`Client::websocket`] with a [`WebSocketConfig`] and the subprotocols to offer
    /// (`Sec-WebSocket-Protocol`; the chosen one is [`WebSocket::protocol`]).
    pub async fn websocket_with(
        &self,
        url: &str,
        config: WebSocketConfig,
        protocols: &[&str],
    ) -> Result<WebSocket, WebSocketError> {
        self.websocket_request(url)
            .config(config)
            .protocols(protocols.iter().copied())
            .open()
            .await
    }

    /// A WebSocket handshake to configure, then [`open`](WebSocketRequest::open): the
    /// limits, the subprotocols and the HTTP version that carries it.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use shockwave::client::Client;
    ///
    /// // RFC 8441: a stream of an HTTP/2 connection (h2c here; ALPN for wss://).
    /// let mut ws = Client::new()
    ///     .websocket_request("ws://127.0.0.1:8080/ws")
    ///     .version(http::Version::HTTP_2)
    ///     .open()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn websocket_request(&self, url: &str) -> WebSocketRequest<'_> {
        WebSocketRequest {
            client: self,
            url: url.to_owned(),
            config: WebSocketConfig::default(),
            protocols: Vec::new(),
            version: Version::HTTP_11,
        }
    }
}

/// A WebSocket opening handshake, built by [`Client::websocket_request`].
#[must_use = "a WebSocketRequest does nothing until `open` is awaited"]
#[derive(Debug)]
pub struct WebSocketRequest<'c> {
    client: &'c Client,
    url: String,
    config: WebSocketConfig,
    protocols: Vec<String>,
    version: Version,
}

impl WebSocketRequest<'_> {
    /// The socket's limits and timers, and whether permessage-deflate is offered
    /// (default: [`WebSocketConfig::default`]).
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The subprotocols to offer (`Sec-WebSocket-Protocol`), in order of preference.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The HTTP version that carries the WebSocket:
    ///
    /// - `Version::HTTP_11` (the default): a new connection, `GET` with
    ///   `Upgrade: websocket`, answered 101 (RFC 6455 §4).
    /// - `Version::HTTP_2`: extended CONNECT (RFC 8441) on a stream of a shared HTTP/2
    ///   connection to the origin (h2c for `ws://`, TLS with ALPN `h2` for `wss://`),
    ///   answered 200. The server must announce SETTINGS_ENABLE_CONNECT_PROTOCOL, else
    ///   [`WebSocketError::ExtendedConnectUnsupported`]. Needs the `http2` feature.
    /// - `Version::HTTP_3`: extended CONNECT (RFC 9220) on a stream of the client's pooled
    ///   QUIC connection to the origin (`wss://` only), answered 200; the server must
    ///   announce SETTINGS_ENABLE_CONNECT_PROTOCOL, else
    ///   [`WebSocketError::ExtendedConnectUnsupported`]. Needs the `http3` feature.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// Sends the handshake and checks the answer (status, `Sec-WebSocket-Accept` on
    /// HTTP/1.1, the extension and the subprotocol), within the client's connect timeout
    /// or the config's write timeout, whichever is longer.
    pub async fn open(self) -> Result<WebSocket, WebSocketError> {
        let http_url = match self.url.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("ws") => format!("http://{rest}"),
            Some((s, rest)) if s.eq_ignore_ascii_case("wss") => format!("https://{rest}"),
            _ => self.url.clone(),
        };
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let timeout = self
            .client
            .inner
            .config
            .connect_timeout
            .max(self.config.write_timeout);
        let opened = match self.version {
            Version::HTTP_11 | Version::HTTP_10 => {
                tokio::time::timeout(
                    timeout,
                    open_h1(self.client, &http_url, &self.config, &protocols),
                )
                .await
            }
            #[cfg(feature = "http2")]
            Version::HTTP_2 => {
                tokio::time::timeout(
                    timeout,
                    open_h2(self.client, &http_url, &self.config, &protocols, timeout),
                )
                .await
            }
            #[cfg(feature = "http3")]
            Version::HTTP_3 => {
                tokio::time::timeout(
                    timeout,
                    open_h3(self.client, &http_url, &self.config, &protocols),
                )
                .await
            }
            v => {
                return Err(WebSocketError::Handshake(format!(
                    "WebSocket over {v:?} is not supported by this build"
                )))
            }
        };
        let opened = opened.map_err(|_| WebSocketError::Timeout)??;
        let fields: Vec<(&[u8], &[u8])> = opened
            .fields
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect();
        let answer = handshake::validate_response(
            opened.status,
            fields.iter().copied(),
            opened.key.as_deref(),
            &protocols,
        )
        .map_err(|e| WebSocketError::Handshake(e.to_string()))?;
        let params = match &self.config.deflate {
            Some(d) => deflate::negotiate_client(&answer.extensions, d)
                .map_err(|e| WebSocketError::Handshake(e.to_string()))?,
            None if answer.extensions.is_empty() => None,
            None => {
                return Err(WebSocketError::Handshake(
                    "the server accepted an extension that was not offered".into(),
                ))
            }
        };
        let protocol = answer.protocol.map(str::to_owned);
        Ok(WebSocket::new(
            opened.io,
            opened.buffered,
            Role::Client,
            self.config,
            params,
            protocol,
            None,
        ))
    }
}

/// A transport's result: the stream, the bytes read past the answer's head, and the
/// answer to check.
struct Opened {
    io: Box<dyn crate::websocket::Io + Send + 'static>,
    buffered: Vec<u8>,
    status: u16,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// `Sec-WebSocket-Key` sent (HTTP/1.1 only).
    key: Option<String>,
}

/// RFC 9220 §3: extended CONNECT on a stream of the pooled HTTP/3 connection.
#[cfg(feature = "http3")]
async fn open_h3(
    client: &Client,
    http_url: &str,
    config: &WebSocketConfig,
    protocols: &[&str],
) -> Result<Opened, WebSocketError> {
    let tunnel = super::h3::websocket_tunnel(client, http_url, config, protocols).await?;
    let fields = tunnel
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    Ok(Opened {
        status: tunnel.status.as_u16(),
        fields,
        key: None,
        buffered: Vec::new(),
        io: Box::new(tunnel),
    })
}

/// RFC 6455 §4.1 on a new HTTP/1.1 connection.
async fn open_h1(
    client: &Client,
    http_url: &str,
    config: &WebSocketConfig,
    protocols: &[&str],
) -> Result<Opened, WebSocketError> {
    let target = super::target::Target::parse(http_url).map_err(client_error)?;
    let mut io = client.connect(http_url).await.map_err(client_error)?;
    let key = handshake::generate_key(random_16());
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
        target.path_and_query, target.authority
    );
    if let Some(d) = &config.deflate {
        request.push_str(&format!("Sec-WebSocket-Extensions: {}\r\n", d.offer()));
    }
    if !protocols.is_empty() {
        request.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            protocols.join(", ")
        ));
    }
    request.push_str("\r\n");
    io.write_all(request.as_bytes()).await?;
    io.flush().await?;
    // Read the head; bytes after it are the first frames.
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(WebSocketError::Handshake("response head too large".into()));
        }
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(WebSocketError::Handshake(
                "connection closed during the handshake".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| WebSocketError::Handshake("response head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| WebSocketError::Handshake(format!("bad status line {status_line:?}")))?;
    let fields = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().as_bytes().to_vec(), v.trim().as_bytes().to_vec()))
        .collect();
    Ok(Opened {
        io: Box::new(io),
        buffered: buf[head_len..].to_vec(),
        status,
        fields,
        key: Some(key),
    })
}

/// RFC 8441 §4–§5: extended CONNECT on a stream of a shared HTTP/2 connection, once the
/// server's SETTINGS allowed it.
#[cfg(feature = "http2")]
async fn open_h2(
    client: &Client,
    http_url: &str,
    config: &WebSocketConfig,
    protocols: &[&str],
    timeout: std::time::Duration,
) -> Result<Opened, WebSocketError> {
    let target = super::target::Target::parse(http_url).map_err(client_error)?;
    let Some(conn) = client.h2_connection(&target).await.map_err(client_error)? else {
        return Err(WebSocketError::Handshake(
            "the server did not choose HTTP/2 in ALPN".into(),
        ));
    };
    if !conn
        .extended_connect_allowed(timeout)
        .await
        .map_err(client_error)?
    {
        return Err(WebSocketError::ExtendedConnectUnsupported(Version::HTTP_2));
    }
    let offer = config.deflate.as_ref().map(|d| d.offer());
    let joined = protocols.join(", ");
    let mut fields: Vec<(&[u8], &[u8])> = vec![
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", target.scheme.as_str().as_bytes()),
        (b":authority", target.authority.as_bytes()),
        (b":path", target.path_and_query.as_bytes()),
        (b"sec-websocket-version", b"13"),
    ];
    if let Some(o) = &offer {
        fields.push((b"sec-websocket-extensions", o.as_bytes()));
    }
    if !protocols.is_empty() {
        fields.push((b"sec-websocket-protocol", joined.as_bytes()));
    }
    let mut stream = conn
        .open_stream(fields.iter().copied(), false)
        .await
        .map_err(client_error)?;
    let head = stream.response().await.map_err(client_error)?;
    let status = head.status().unwrap_or(0);
    let fields = head
        .regular()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    stream.recycle(head);
    Ok(Opened {
        io: Box::new(super::tunnel::Tunnel::h2(stream)),
        buffered: Vec::new(),
        status,
        fields,
        key: None,
    })
}

fn client_error(e: super::Error) -> WebSocketError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    WebSocketError::Handshake(text)
}

/// 16 unpredictable bytes for `Sec-WebSocket-Key` (a nonce, §4.1; the masking keys
/// come from the codec's OS random source): two randomly keyed SipHash outputs.
fn random_16() -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, half) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
