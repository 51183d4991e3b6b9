//! `Client::websocket`: the WebSocket opening handshake over HTTP/1.1 (RFC 6455 §4.1),
//! with a permessage-deflate offer (RFC 7692), on a connection of its own.

use std::hash::{BuildHasher as _, Hasher as _};

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
    /// client's proxy settings and TLS configuration, within its connect timeout.
    /// A client built with `ClientBuilder::http3` (feature `http3`) opens
    /// `wss://` sockets over HTTP/3 instead (RFC 9220: an extended CONNECT on a stream of
    /// its pooled QUIC connection; [`WebSocketError::ExtendedConnectUnsupported`] when
    /// the server's SETTINGS do not enable it).
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
        self.websocket_with(url, WebSocketConfig::default(), &[])
            .await
    }

    /// [`Client::websocket`] with a [`WebSocketConfig`] and the subprotocols to offer
    /// (`Sec-WebSocket-Protocol`; the chosen one is [`WebSocket::protocol`]).
    pub async fn websocket_with(
        &self,
        url: &str,
        config: WebSocketConfig,
        protocols: &[&str],
    ) -> Result<WebSocket, WebSocketError> {
        let http_url = match url.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("ws") => format!("http://{rest}"),
            Some((s, rest)) if s.eq_ignore_ascii_case("wss") => format!("https://{rest}"),
            _ => url.to_owned(),
        };
        let target = super::target::Target::parse(&http_url).map_err(client_error)?;
        // A client built with `.http3()` speaks WebSocket over HTTP/3 (RFC 9220) to
        // `wss://` URLs, on a stream of its pooled QUIC connection.
        #[cfg(feature = "http3")]
        if self.inner.config.http3 && target.scheme == super::target::Scheme::Https {
            let timeout = self.inner.config.connect_timeout.max(config.write_timeout);
            let (authority, path) = (target.authority, target.path_and_query);
            let handshake = async {
                let conn = self
                    .http3_connection(&http_url)
                    .await
                    .map_err(client_error)?;
                super::h3::websocket(&conn, authority, path, config, protocols).await
            };
            return tokio::time::timeout(timeout, handshake)
                .await
                .map_err(|_| WebSocketError::Timeout)?;
        }
        let mut io = self.connect(&http_url).await.map_err(client_error)?;
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
        let timeout = self.inner.config.connect_timeout.max(config.write_timeout);
        let exchange = async {
            io.write_all(request.as_bytes()).await?;
            io.flush().await?;
            // Read the head; bytes after it are the first frames.
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(end) = find(&buf, b"\r\n\r\n") {
                    return Ok::<_, WebSocketError>((buf, end + 4));
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
            }
        };
        let (buf, head_len) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| WebSocketError::Timeout)??;
        let head = std::str::from_utf8(&buf[..head_len])
            .map_err(|_| WebSocketError::Handshake("response head is not UTF-8".into()))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| WebSocketError::Handshake(format!("bad status line {status_line:?}")))?;
        let fields: Vec<(&[u8], &[u8])> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().as_bytes(), v.trim().as_bytes()))
            .collect();
        let answer =
            handshake::validate_response(status, fields.iter().copied(), Some(&key), protocols)
                .map_err(|e| WebSocketError::Handshake(e.to_string()))?;
        let params = match &config.deflate {
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
        let buffered = buf[head_len..].to_vec();
        Ok(WebSocket::new(
            Box::new(io),
            buffered,
            Role::Client,
            config,
            params,
            protocol,
            None,
        ))
    }
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
