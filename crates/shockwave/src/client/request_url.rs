//! The owned API's request URL: a `url::Url`, parsed only when one is needed.
//!
//! Most request URLs are already written the way `url::Url` serializes them
//! (`http://127.0.0.1:8080/plaintext`, `https://api.example.com/v1/items?id=7`). For
//! those the text is kept as is and the request goes out without running the WHATWG
//! parser; a `url::Url` is built the first time someone asks for one
//! ([`Response::url`](super::Response::url), the cookie store, a status error). Every
//! other URL is parsed (and normalized) up front exactly as before.

use std::sync::OnceLock;

use super::error::{Error, Result};

/// An absolute `http`/`https` request URL (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct RequestUrl {
    /// The URL text, when it is canonical and not parsed yet (empty otherwise).
    text: String,
    /// The parsed URL: set up front for a non-canonical URL, else on first use.
    parsed: OnceLock<url::Url>,
}

/// Parses and checks a URL the way every owned-API request URL is checked.
fn parse_url(s: &str) -> Result<url::Url> {
    let url = url::Url::parse(s).map_err(|_| Error::invalid_url(s, "cannot be parsed"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(Error::UnsupportedScheme(other.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid_url(s, "no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_url(
            s,
            "user info in URLs is not supported (use an Authorization header)",
        ));
    }
    Ok(url)
}

impl RequestUrl {
    /// Checks `s` as [`url::Url`] would (plus: `http`/`https` only, a host, no user
    /// info); the WHATWG parser runs now only when `s` is not already canonical.
    pub(crate) fn parse(s: &str) -> Result<RequestUrl> {
        if is_canonical(s) {
            return Ok(RequestUrl {
                text: s.to_owned(),
                parsed: OnceLock::new(),
            });
        }
        parse_url(s).map(RequestUrl::from)
    }

    /// The URL text (what `url::Url::as_str` gives).
    pub(crate) fn as_str(&self) -> &str {
        match self.parsed.get() {
            Some(url) => url.as_str(),
            None => &self.text,
        }
    }

    /// The parsed URL (parsed now if it was not yet).
    pub(crate) fn url(&self) -> &url::Url {
        self.parsed.get_or_init(|| {
            // `is_canonical` admits only URLs the parser accepts unchanged (tested
            // against the parser in this module's tests).
            url::Url::parse(&self.text).expect("a canonical http(s) URL parses")
        })
    }

    /// The parsed URL, to change it.
    #[cfg(feature = "serde")]
    pub(crate) fn url_mut(&mut self) -> &mut url::Url {
        self.url();
        self.text = String::new();
        self.parsed.get_mut().expect("parsed just above")
    }
}

impl From<url::Url> for RequestUrl {
    fn from(url: url::Url) -> RequestUrl {
        RequestUrl {
            text: String::new(),
            parsed: OnceLock::from(url),
        }
    }
}

/// True when `s` is an absolute `http`/`https` URL that `url::Url::parse` accepts and
/// serializes back to exactly `s`, and that passes the client's URL checks (a host, no
/// user info). Conservative: a `false` only means "let the parser decide".
///
/// Admitted: a lowercase scheme; a host that is a lowercase ASCII domain (labels of
/// `a-z 0-9 -`, none empty or IDNA-encoded `xn--`, the last one starting with a
/// letter: WHATWG URL treats a numeric last label as IPv4) or a dotted-quad IPv4
/// address in its shortest form; an optional port (digits, no leading zero, not the
/// scheme's default, at most 65535); a path of RFC 3986 `pchar`s without `%` and
/// without `.`/`..` segments; an optional non-empty query of `pchar`s, `/`, `?` and `%`.
/// No fragment.
pub(crate) fn is_canonical(s: &str) -> bool {
    let b = s.as_bytes();
    let (rest, default_port): (&[u8], &[u8]) = if let Some(r) = b.strip_prefix(b"http://") {
        (r, b"80")
    } else if let Some(r) = b.strip_prefix(b"https://") {
        (r, b"443")
    } else {
        return false;
    };
    let Some(slash) = rest.iter().position(|&c| c == b'/') else {
        return false;
    };
    let (authority, path_query) = rest.split_at(slash);
    let (host, port) = match authority.iter().position(|&c| c == b':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    if !canonical_host(host) {
        return false;
    }
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || p[0] == b'0' || p == default_port {
            return false;
        }
        if !p.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let n = p.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
        if n > 65535 {
            return false;
        }
    }
    let (path, query) = match path_query.iter().position(|&c| c == b'?') {
        Some(i) => (&path_query[..i], Some(&path_query[i + 1..])),
        None => (path_query, None),
    };
    // `/.` also refuses harmless names such as `/.well-known`: they take the parser.
    if !path.iter().all(|&c| pchar(c) || c == b'/') || path.windows(2).any(|w| w == b"/.") {
        return false;
    }
    match query {
        None => true,
        Some(q) => {
            !q.is_empty()
                && q.iter()
                    .all(|&c| pchar(c) || matches!(c, b'/' | b'?' | b'%'))
        }
    }
}

/// RFC 3986 `pchar` without percent-encodings: unreserved, sub-delims, `:` and `@`.
/// None of these is changed by WHATWG URL's path or special-query percent-encode sets
/// except `'` in a query, which is left out here.
fn pchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// A lowercase ASCII domain whose last label starts with a letter, or a dotted-quad
/// IPv4 address written the way WHATWG URL serializes it.
fn canonical_host(host: &[u8]) -> bool {
    if host.is_empty() {
        return false;
    }
    let last = host.rsplit(|&c| c == b'.').next().unwrap_or_default();
    if last.first().is_some_and(u8::is_ascii_lowercase) {
        return host.split(|&c| c == b'.').all(|label| {
            !label.is_empty()
                && !label.starts_with(b"xn--")
                && label
                    .iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        });
    }
    host.split(|&c| c == b'.').count() == 4
        && host.split(|&c| c == b'.').all(|part| match part {
            [b'0'] => true,
            [b'1'..=b'9', rest @ ..] if rest.len() <= 2 && rest.iter().all(u8::is_ascii_digit) => {
                part.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 255
            }
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every URL `is_canonical` admits parses to itself, passes the client's checks,
    /// and gives the same request target.
    fn check(s: &str) {
        if is_canonical(s) {
            let url = url::Url::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(url.as_str(), s, "{s:?} is not canonical");
            assert!(parse_url(s).is_ok(), "{s:?} fails the client's checks");
            let lazy = RequestUrl::parse(s).unwrap();
            assert_eq!(lazy.as_str(), s);
            assert_eq!(lazy.url().as_str(), s);
        }
        // Both ways agree on acceptance and on the text.
        match (RequestUrl::parse(s), parse_url(s)) {
            (Ok(a), Ok(b)) => assert_eq!(a.as_str(), b.as_str(), "{s:?}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{s:?}: {a:?} vs {b:?}"),
        }
    }

    #[test]
    fn common_urls_skip_the_parser() {
        for s in [
            "http://127.0.0.1:8080/plaintext",
            "http://localhost:3000/",
            "https://api.example.com/v1/items?id=7&sort=name",
            "http://example.com/a/b.json",
            "https://my-host.internal:8443/x?q=a%20b",
        ] {
            assert!(is_canonical(s), "{s}");
            check(s);
        }
    }

    #[test]
    fn non_canonical_urls_take_the_parser() {
        for s in [
            "HTTP://example.com/",
            "http://Example.com/",
            "http://example.com",
            "http://example.com:80/",
            "https://example.com:443/",
            "http://example.com:08080/",
            "http://example.com:/",
            "http://example.com:99999/",
            "http://1.2.3/",
            "http://1.2.3.04/",
            "http://0x7f.0.0.1/",
            "http://256.0.0.1/",
            "http://a.1/",
            "http://xn--nxasmq6b.com/",
            "http://a..b/",
            "http://a./",
            "http://[::1]:8080/",
            "http://user@host/",
            "http://host/a/../b",
            "http://host/./b",
            "http://host/a b",
            "http://host/a%2e",
            "http://host/a\\b",
            "http://host/?",
            "http://host/?a'b",
            "http://host/#frag",
            " http://host/",
            "http://host/\t",
            "ftp://host/",
        ] {
            assert!(!is_canonical(s), "{s}");
            check(s);
        }
    }

    /// Every ASCII byte in every part of a URL: what `is_canonical` admits, the parser
    /// serializes unchanged.
    #[test]
    fn every_byte_in_every_position() {
        for c in 0u8..0x80 {
            let c = char::from(c);
            for s in [
                format!("http://ho{c}st/"),
                format!("http://host{c}/"),
                format!("http://{c}host/"),
                format!("http://1.2.3.{c}/"),
                format!("http://host:8{c}/"),
                format!("http://host/a{c}b"),
                format!("http://host/{c}"),
                format!("http://host/{c}{c}/x"),
                format!("https://host/x?{c}"),
                format!("https://host/x?a{c}b"),
                format!("https://host/x{c}?a"),
                format!("http{c}://host/"),
            ] {
                check(&s);
            }
        }
        for n in [0, 1, 9, 10, 99, 100, 255, 256, 999] {
            check(&format!("http://10.{n}.0.1:{n}/"));
        }
    }
}
