//! Redirect policy (opt-in) and the rules for following one (RFC 9110 section 15.4).

use http::{Method, StatusCode};

/// Whether and how far the client follows redirects (`301`, `302`, `303`, `307`, `308`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectPolicy {
    max: usize,
}

impl RedirectPolicy {
    /// Never follow: a redirect response is returned to the caller (the default).
    pub fn none() -> Self {
        RedirectPolicy { max: 0 }
    }

    /// Follow up to `max` redirects per request; one more is
    /// [`Error::TooManyRedirects`](super::Error::TooManyRedirects).
    pub fn limited(max: usize) -> Self {
        RedirectPolicy { max }
    }

    /// The most redirects followed per request (0: none).
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy::none()
    }
}

/// What a redirect does to the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Not a redirect we follow.
    No,
    /// Resend with the same method and body (307, 308).
    SameMethod,
    /// Switch to GET without a body (303 for anything but HEAD; 301/302 for POST, as
    /// browsers do and RFC 9110 section 15.4.2/15.4.3 allow).
    ToGet,
}

pub(crate) fn follow(status: StatusCode, method: &Method) -> Follow {
    match status.as_u16() {
        301 | 302 if *method == Method::POST => Follow::ToGet,
        301 | 302 => Follow::SameMethod,
        303 if *method == Method::HEAD => Follow::SameMethod,
        303 => Follow::ToGet,
        307 | 308 => Follow::SameMethod,
        _ => Follow::No,
    }
}

/// Headers that must not leak to another origin (RFC 9110 section 15.4: a user agent
/// should not forward credentials across origins).
pub(crate) fn is_sensitive(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"authorization")
        || name.eq_ignore_ascii_case(b"cookie")
        || name.eq_ignore_ascii_case(b"proxy-authorization")
}

/// Resolves a `Location` value against the current URL.
pub(crate) fn resolve(base: &str, location: &[u8]) -> Option<url::Url> {
    let loc = std::str::from_utf8(location).ok()?.trim();
    if loc.is_empty() {
        return None;
    }
    let base = url::Url::parse(base).ok()?;
    let next = base.join(loc).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_rules() {
        assert_eq!(follow(StatusCode::FOUND, &Method::POST), Follow::ToGet);
        assert_eq!(follow(StatusCode::FOUND, &Method::GET), Follow::SameMethod);
        assert_eq!(follow(StatusCode::SEE_OTHER, &Method::PUT), Follow::ToGet);
        assert_eq!(
            follow(StatusCode::TEMPORARY_REDIRECT, &Method::POST),
            Follow::SameMethod
        );
        assert_eq!(follow(StatusCode::OK, &Method::GET), Follow::No);
        assert_eq!(follow(StatusCode::NOT_MODIFIED, &Method::GET), Follow::No);
    }

    #[test]
    fn resolves_locations() {
        let r = resolve("http://a.com/x/y", b"/z?q=1").unwrap();
        assert_eq!(r.as_str(), "http://a.com/z?q=1");
        let r = resolve("http://a.com/x/y", b"w").unwrap();
        assert_eq!(r.as_str(), "http://a.com/x/w");
        let r = resolve("http://a.com/", b"https://b.org:8443/").unwrap();
        assert_eq!(r.as_str(), "https://b.org:8443/");
        assert!(resolve("http://a.com/", b"ftp://b/").is_none());
        assert!(resolve("http://a.com/", b"").is_none());
    }
}
