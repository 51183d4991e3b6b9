//! Allocation-free parsing of absolute `http://` and `https://` URLs into what a request
//! needs: scheme, host, port, the `Host` header value and the request target.

use super::error::{Error, Result};

/// The URL scheme of a request (and of a pool key): the crate's one [`Scheme`] type.
pub use crate::service::Scheme;

/// An absolute URL split into the parts a request needs, borrowing the URL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'u> {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host to connect to (IPv6 addresses without brackets).
    pub host: &'u str,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
    /// The authority as written in the URL (`host[:port]`), used as the `Host` header.
    pub authority: &'u str,
    /// Path and query (`/` when the URL has no path); the fragment is dropped.
    pub path_and_query: &'u str,
}

impl<'u> Target<'u> {
    /// Parses an absolute `http`/`https` URL without allocating (except for the error).
    ///
    /// Rejects user info (`user:pass@`), empty hosts, bad ports, and any control
    /// character, space or non-ASCII byte (which would allow request splitting; RFC 9112
    /// section 3.2 requires the request target to be plain visible ASCII).
    pub fn parse(url: &'u str) -> Result<Target<'u>> {
        // Byte searches throughout: the `str` pattern searchers (a two-way searcher for
        // "://", a char-set scan) cost more than the whole rest of the parse.
        let sep = find_scheme_separator(url.as_bytes())
            .ok_or_else(|| Error::invalid_url(url, "not an absolute URL (missing \"://\")"))?;
        let (scheme_str, rest) = (&url[..sep], &url[sep + 3..]);
        let scheme = if scheme_str.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme_str.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(Error::UnsupportedScheme(scheme_str.to_owned()));
        };
        if url.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(Error::invalid_url(
                url,
                "contains a space, control or non-ASCII character",
            ));
        }
        // Only ASCII from here on: every byte offset is a char boundary.
        let auth_end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let authority = &rest[..auth_end];
        let mut path_and_query = &rest[auth_end..];
        if let Some(hash) = path_and_query.bytes().position(|b| b == b'#') {
            path_and_query = &path_and_query[..hash];
        }
        if path_and_query.is_empty() {
            path_and_query = "/";
        } else if path_and_query.starts_with('?') {
            // "http://h?q" has an empty path; the origin-form target must start with '/'.
            // We cannot prepend without allocating, so require the caller to write "/?q".
            return Err(Error::invalid_url(
                url,
                "query without a path (write \"/?...\")",
            ));
        }
        if authority.bytes().any(|b| b == b'@') {
            return Err(Error::invalid_url(
                url,
                "user info in URLs is not supported (use an Authorization header)",
            ));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| Error::invalid_url(url, "invalid host or port"))?;
        let port = match port {
            Some(p) => p,
            None => scheme.default_port(),
        };
        Ok(Target {
            scheme,
            host,
            port,
            authority,
            path_and_query,
        })
    }

    /// True when `other` has the same scheme, host (case-insensitive) and port.
    pub fn same_origin(&self, other: &Target<'_>) -> bool {
        self.scheme == other.scheme
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(other.host)
    }
}

/// Where the first `://` of `url` starts.
fn find_scheme_separator(url: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = url[from..].iter().position(|&b| b == b':') {
        let at = from + i;
        if url[at..].starts_with(b"://") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Splits `host[:port]` / `[v6][:port]`; `None` if malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'%'))
    {
        return None;
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => {
            if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u32 = p.parse().ok()?;
            Some(u16::try_from(n).ok().filter(|&n| n != 0)?)
        }
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_urls() {
        let t = Target::parse("http://example.com").unwrap();
        assert_eq!(t.scheme, Scheme::Http);
        assert_eq!(
            (t.host, t.port, t.authority, t.path_and_query),
            ("example.com", 80, "example.com", "/")
        );
        let t = Target::parse("HTTPS://Example.com:8443/a/b?x=1#frag").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(
            (t.host, t.port, t.authority, t.path_and_query),
            ("Example.com", 8443, "Example.com:8443", "/a/b?x=1")
        );
        let t = Target::parse("http://[::1]:8080/x").unwrap();
        assert_eq!((t.host, t.port, t.authority), ("::1", 8080, "[::1]:8080"));
        let t = Target::parse("https://127.0.0.1/").unwrap();
        assert_eq!((t.host, t.port), ("127.0.0.1", 443));
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "example.com/",
            "ftp://example.com/",
            "http:///x",
            "http://a b/",
            "http://host/pa th",
            "http://host/\r\nX: y",
            "http://user:pw@host/",
            "http://host:99999/",
            "http://host:0/",
            "http://host:x/",
            "http://[::1/",
            "http://host?q",
            "http://hôst/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Target::parse("ftp://x/"),
            Err(Error::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn scheme_separator_is_the_first_one() {
        assert_eq!(find_scheme_separator(b"http://h/"), Some(4));
        assert_eq!(find_scheme_separator(b"a:b://h/"), Some(3));
        assert_eq!(find_scheme_separator(b"http:/h/"), None);
        assert_eq!(find_scheme_separator(b"http:"), None);
        assert_eq!(find_scheme_separator(b"x://a://b"), Some(1));
        // Same split as `str::split_once("://")`.
        for s in ["http://h/", "a:b://h", "::://", ":/:/", "h://://", "no"] {
            assert_eq!(
                find_scheme_separator(s.as_bytes()).map(|i| (&s[..i], &s[i + 3..])),
                s.split_once("://"),
                "{s}"
            );
        }
    }

    #[test]
    fn origin_comparison() {
        let a = Target::parse("http://Host:80/a").unwrap();
        let b = Target::parse("http://host/b").unwrap();
        let c = Target::parse("https://host/b").unwrap();
        assert!(a.same_origin(&b));
        assert!(!a.same_origin(&c));
    }
}
