//! The client's opt-in cookie store (feature `cookies`): [`CookieStore`] is the
//! interface the client calls ([`ClientBuilder::cookie_provider`]), [`Jar`] the
//! in-memory store that implements the storage model of RFC 6265 §5.3 and the
//! `Cookie` header of §5.4 ([`ClientBuilder::cookie_store`]).
//!
//! `Set-Cookie` fields are parsed by the `cookie` crate; the rules are here:
//!
//! * **Expiry**: `Max-Age` wins over `Expires` (§5.3 step 3); `Max-Age` of zero or
//!   less, or an `Expires` in the past, deletes the cookie. Cookies without either
//!   live as long as the jar (the client).
//! * **Domain**: without `Domain` the cookie is host-only (sent back to the same host
//!   only, §5.3 step 6); with one, the request host must domain-match it (§5.1.3: the
//!   same, or a subdomain, never an IP address), or the cookie is refused. There is no
//!   public suffix list: a `Domain` with no dot (`com`) is refused unless it is the
//!   host itself.
//! * **Path**: a `Path` that does not start with `/` is replaced by the default path
//!   (§5.1.4, the request path up to its last `/`); a cookie is sent when the request
//!   path path-matches it (§5.1.4).
//! * **Secure**: sent only over `https`, and (as RFC 6265bis §5.7 requires) only
//!   accepted from `https` responses, which alone can replace one (a cleartext response
//!   cannot overwrite or shadow a Secure cookie of the same name). **HttpOnly** is kept (this is an HTTP API: such
//!   cookies are sent like the others).
//! * **Header**: one `Cookie` field, pairs sorted by longer path first, then earlier
//!   creation (§5.4 step 2); the creation time of a replaced cookie is kept (§5.3 step
//!   11.3).
//! * **Limits** ([`CookieLimits`], RFC 6265 §6.1 minimums by default): a `Set-Cookie`
//!   over 4096 bytes is ignored; beyond 50 cookies for one domain or 3000 in all, the
//!   least recently used are evicted (expired ones first).
//!
//! [`ClientBuilder::cookie_provider`]: super::ClientBuilder::cookie_provider
//! [`ClientBuilder::cookie_store`]: super::ClientBuilder::cookie_store

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use http::HeaderValue;

/// Where the client keeps cookies: it calls [`CookieStore::set_cookies`] with the
/// `Set-Cookie` fields of every response (redirects included) and
/// [`CookieStore::cookies`] before every request of the owned API (a request that
/// already has a `Cookie` header is sent as it is). The same shape as reqwest's trait.
pub trait CookieStore: Send + Sync + 'static {
    /// Stores the cookies of the `Set-Cookie` fields of a response to `url`.
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url);

    /// The `Cookie` field value to send with a request to `url`, if any.
    fn cookies(&self, url: &url::Url) -> Option<HeaderValue>;
}

/// The limits of a [`Jar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieLimits {
    /// Most cookies kept for one domain (default 50, RFC 6265 §6.1).
    pub max_per_domain: usize,
    /// Most cookies kept in all (default 3000, RFC 6265 §6.1).
    pub max_total: usize,
    /// Largest `Set-Cookie` field value accepted, name, value and attributes together,
    /// in bytes (default 4096, RFC 6265 §6.1); a larger one is ignored.
    pub max_cookie_size: usize,
}

impl Default for CookieLimits {
    fn default() -> Self {
        CookieLimits {
            max_per_domain: 50,
            max_total: 3000,
            max_cookie_size: 4096,
        }
    }
}

/// One stored cookie (RFC 6265 §5.3's fields).
#[derive(Debug, Clone)]
struct Stored {
    name: String,
    value: String,
    /// Lowercase, no leading dot.
    domain: String,
    host_only: bool,
    path: String,
    /// `None`: lives as long as the jar.
    expires: Option<SystemTime>,
    secure: bool,
    http_only: bool,
    /// Creation order (a counter, so that equal clock readings keep their order).
    created: u64,
    last_access: u64,
}

#[derive(Debug, Default)]
struct State {
    cookies: Vec<Stored>,
    /// The next creation / access tick.
    tick: u64,
}

/// An in-memory cookie store following RFC 6265 §5 (see the [module docs](self)).
/// Clients share one with
/// [`ClientBuilder::cookie_provider`](super::ClientBuilder::cookie_provider);
/// [`Jar::set_cookie_at`] and [`Jar::cookie_header_at`] take the current time as a
/// parameter.
///
/// ```
/// use std::time::SystemTime;
/// use shockwave::client::Jar;
///
/// let jar = Jar::default();
/// let url = url::Url::parse("https://example.com/account/login").unwrap();
/// let now = SystemTime::now();
/// assert!(jar.set_cookie_at(&url, "session=abc; Path=/; Secure; HttpOnly", now));
/// assert!(jar.set_cookie_at(&url, "theme=dark", now)); // default path /account
/// let settings = url::Url::parse("https://example.com/account/settings").unwrap();
/// assert_eq!(jar.cookie_header_at(&settings, now).as_deref(), Some("theme=dark; session=abc"));
/// let http = url::Url::parse("http://example.com/").unwrap();
/// assert_eq!(jar.cookie_header_at(&http, now), None); // Secure: https only
/// ```
#[derive(Debug, Default)]
pub struct Jar {
    state: Mutex<State>,
    limits: CookieLimits,
}

impl Jar {
    /// An empty jar with these limits.
    pub fn with_limits(limits: CookieLimits) -> Jar {
        Jar {
            state: Mutex::default(),
            limits,
        }
    }

    /// Stores one `Set-Cookie` field value received from `url` at time `now` (RFC 6265
    /// §5.3). Returns whether it was accepted (a deletion counts as accepted); a field
    /// that cannot be parsed, is too large, or breaks the domain or `Secure` rules is
    /// ignored.
    pub fn set_cookie_at(&self, url: &url::Url, set_cookie: &str, now: SystemTime) -> bool {
        if set_cookie.len() > self.limits.max_cookie_size {
            return false;
        }
        let Ok(parsed) = cookie::Cookie::parse(set_cookie) else {
            return false;
        };
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let https = url.scheme() == "https";
        let name = parsed.name();
        let control = |s: &str| s.bytes().any(|b| b < 0x20 || b == 0x7f);
        if name.is_empty() || control(name) || control(parsed.value()) {
            return false;
        }
        // §5.3 step 3: Max-Age wins over Expires.
        let expires = match (parsed.max_age(), parsed.expires_datetime()) {
            (Some(age), _) => match u64::try_from(age.whole_seconds()) {
                Ok(0) | Err(_) => Some(SystemTime::UNIX_EPOCH),
                Ok(secs) => now.checked_add(Duration::from_secs(secs)),
            },
            (None, Some(at)) => Some(SystemTime::from(at)),
            (None, None) => None,
        };
        // §5.3 steps 5 and 6: the domain attribute, or host-only.
        let (domain, host_only) = match parsed.domain() {
            None | Some("") => (host.clone(), true),
            Some(d) => {
                let d = d.to_ascii_lowercase();
                if !domain_match(&host, &d) {
                    return false;
                }
                // No public suffix list: at least refuse a single-label domain.
                if !d.contains('.') && d != host {
                    return false;
                }
                let ip_host = d == host && is_ip(&host);
                (d, ip_host)
            }
        };
        // §5.3 step 7: the path attribute if it is absolute, else the default path.
        let path = match parsed.path() {
            Some(p) if p.starts_with('/') => p.to_owned(),
            _ => default_path(url.path()).to_owned(),
        };
        let secure = parsed.secure().unwrap_or(false);
        if secure && !https {
            // RFC 6265bis §5.7 step 14: Secure cookies only from secure origins.
            return false;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        if !https
            && state.cookies.iter().any(|c| {
                c.secure
                    && c.name == name
                    && (domain_match(&domain, &c.domain) || domain_match(&c.domain, &domain))
                    && path_match(&path, &c.path)
            })
        {
            // RFC 6265bis §5.7 step 16: a cleartext response cannot shadow or replace a
            // Secure cookie of the same name.
            return false;
        }
        state.tick += 1;
        let tick = state.tick;
        // §5.3 step 11: the same name, domain and path replace the old cookie, keeping
        // its creation time.
        let old = state
            .cookies
            .iter()
            .position(|c| c.name == name && c.domain == domain && c.path == path);
        let created = old.map_or(tick, |i| state.cookies[i].created);
        if let Some(i) = old {
            state.cookies.swap_remove(i);
        }
        if expires.is_some_and(|at| at <= now) {
            // Expired on arrival: a deletion.
            return true;
        }
        state.cookies.push(Stored {
            name: name.to_owned(),
            value: parsed.value().to_owned(),
            domain,
            host_only,
            path,
            expires,
            secure,
            http_only: parsed.http_only().unwrap_or(false),
            created,
            last_access: tick,
        });
        self.evict(state, now);
        true
    }

    /// The `Cookie` field value for a request to `url` at time `now` (RFC 6265 §5.4),
    /// or `None` when no cookie applies.
    pub fn cookie_header_at(&self, url: &url::Url, now: SystemTime) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let https = url.scheme() == "https";
        let path = url.path();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        state.cookies.retain(|c| !c.expired(now));
        state.tick += 1;
        let tick = state.tick;
        let mut matching: Vec<&mut Stored> = state
            .cookies
            .iter_mut()
            .filter(|c| {
                let domain_ok = if c.host_only {
                    host == c.domain
                } else {
                    domain_match(&host, &c.domain)
                };
                domain_ok && path_match(path, &c.path) && (https || !c.secure)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        // §5.4 step 2: longer paths first, then earlier creation.
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        let mut header = String::new();
        for c in matching {
            c.last_access = tick;
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(&c.name);
            header.push('=');
            header.push_str(&c.value);
        }
        Some(header)
    }

    /// How many cookies the jar holds (expired ones included until the next request
    /// or store removes them).
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cookies
            .len()
    }

    /// True when the jar holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a stored cookie `name` for `domain` has the HttpOnly flag (`None` when
    /// there is no such cookie).
    pub fn is_http_only(&self, domain: &str, name: &str) -> Option<bool> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .cookies
            .iter()
            .find(|c| c.name == name && c.domain.eq_ignore_ascii_case(domain))
            .map(|c| c.http_only)
    }

    /// Removes every cookie.
    pub fn clear(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cookies
            .clear();
    }

    /// §5.3's end: expired cookies go first, then the least recently used of a domain
    /// over its limit, then the least recently used overall.
    fn evict(&self, state: &mut State, now: SystemTime) {
        let per_domain = self.limits.max_per_domain.max(1);
        let total = self.limits.max_total.max(1);
        let Some(newest) = state.cookies.last().map(|c| c.domain.clone()) else {
            return;
        };
        let count = |cookies: &[Stored]| cookies.iter().filter(|c| c.domain == newest).count();
        if count(&state.cookies) > per_domain || state.cookies.len() > total {
            state.cookies.retain(|c| !c.expired(now));
        }
        while count(&state.cookies) > per_domain {
            remove_lru(&mut state.cookies, |c| c.domain == newest);
        }
        while state.cookies.len() > total {
            remove_lru(&mut state.cookies, |_| true);
        }
    }
}

/// Removes the least recently used cookie among those `pick` selects.
fn remove_lru(cookies: &mut Vec<Stored>, pick: impl Fn(&Stored) -> bool) {
    let lru = cookies
        .iter()
        .enumerate()
        .filter(|(_, c)| pick(c))
        .min_by_key(|(_, c)| (c.last_access, c.created))
        .map(|(i, _)| i);
    if let Some(i) = lru {
        cookies.remove(i);
    }
}

impl Stored {
    fn expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

impl CookieStore for Jar {
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url) {
        let now = SystemTime::now();
        for h in cookie_headers {
            if let Ok(s) = h.to_str() {
                self.set_cookie_at(url, s, now);
            }
        }
    }

    fn cookies(&self, url: &url::Url) -> Option<HeaderValue> {
        let header = self.cookie_header_at(url, SystemTime::now())?;
        HeaderValue::try_from(header).ok()
    }
}

/// RFC 6265 §5.1.3: `host` domain-matches `domain` (both lowercase) when they are the
/// same, or `host` ends with `.domain` and is not an IP address.
fn domain_match(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && !is_ip(host)
}

/// An IPv4 or IPv6 address (as `url` prints it: IPv6 in brackets).
fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// RFC 6265 §5.1.4: the default path of a request path.
fn default_path(uri_path: &str) -> &str {
    if !uri_path.starts_with('/') {
        return "/";
    }
    match uri_path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &uri_path[..i],
    }
}

/// RFC 6265 §5.1.4: `request_path` path-matches `cookie_path`.
fn path_match(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn default_path_and_path_match_follow_rfc_6265_5_1_4() {
        assert_eq!(default_path(""), "/");
        assert_eq!(default_path("/"), "/");
        assert_eq!(default_path("/login"), "/");
        assert_eq!(default_path("/account/login"), "/account");
        assert_eq!(default_path("/a/b/"), "/a/b");
        assert!(path_match("/account", "/account"));
        assert!(path_match("/account/x", "/account"));
        assert!(path_match("/account/x", "/account/"));
        assert!(path_match("/anything", "/"));
        assert!(!path_match("/accounts", "/account"));
        assert!(!path_match("/acc", "/account"));
    }

    #[test]
    fn domain_match_follows_rfc_6265_5_1_3() {
        assert!(domain_match("example.com", "example.com"));
        assert!(domain_match("www.example.com", "example.com"));
        assert!(!domain_match("wwwexample.com", "example.com"));
        assert!(!domain_match("example.com", "www.example.com"));
        assert!(!domain_match("1.2.3.4", "2.3.4"));
    }

    #[test]
    fn host_only_and_domain_cookies() {
        let jar = Jar::default();
        let now = t0();
        let u = url("http://www.example.com/");
        assert!(jar.set_cookie_at(&u, "host=1", now));
        assert!(jar.set_cookie_at(&u, "dom=2; Domain=.Example.COM", now));
        // Domain attributes that do not domain-match the request host are refused.
        assert!(!jar.set_cookie_at(&u, "evil=1; Domain=other.com", now));
        assert!(!jar.set_cookie_at(&u, "sub=1; Domain=api.www.example.com", now));
        // Single-label domains (a stand-in for public suffixes) are refused.
        assert!(!jar.set_cookie_at(&u, "tld=1; Domain=com", now));
        assert_eq!(jar.len(), 2);
        assert_eq!(
            jar.cookie_header_at(&u, now).as_deref(),
            Some("host=1; dom=2")
        );
        // A subdomain gets the domain cookie only; the parent too.
        let api = url("http://api.www.example.com/");
        assert_eq!(jar.cookie_header_at(&api, now).as_deref(), Some("dom=2"));
        let parent = url("http://example.com/");
        assert_eq!(jar.cookie_header_at(&parent, now).as_deref(), Some("dom=2"));
        assert_eq!(jar.cookie_header_at(&url("http://other.com/"), now), None);
        // IP hosts: host-only cookies only.
        let ip = url("http://127.0.0.1:8080/");
        assert!(jar.set_cookie_at(&ip, "ip=1", now));
        assert!(jar.set_cookie_at(&ip, "ip2=1; Domain=127.0.0.1", now));
        assert!(!jar.set_cookie_at(&ip, "ip3=1; Domain=0.0.1", now));
        assert_eq!(
            jar.cookie_header_at(&ip, now).as_deref(),
            Some("ip=1; ip2=1")
        );
    }

    #[test]
    fn max_age_wins_over_expires_and_cookies_expire() {
        let jar = Jar::default();
        let now = t0();
        let u = url("http://example.com/");
        // Expires in the past but Max-Age in the future: kept (§5.3 step 3).
        assert!(jar.set_cookie_at(
            &u,
            "a=1; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            now
        ));
        // Expires in the future, Max-Age 0: a deletion.
        assert!(jar.set_cookie_at(
            &u,
            "b=1; Max-Age=0; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
            now
        ));
        // Expires only, in the future (2037) and in the past (2015).
        assert!(jar.set_cookie_at(&u, "c=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT", now));
        assert!(jar.set_cookie_at(&u, "d=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", now));
        assert_eq!(jar.cookie_header_at(&u, now).as_deref(), Some("a=1; c=1"));
        // 61 s later `a` has expired; `c` lives on.
        let later = now + Duration::from_secs(61);
        assert_eq!(jar.cookie_header_at(&u, later).as_deref(), Some("c=1"));
        assert_eq!(jar.len(), 1, "expired cookies are removed");
        // A negative Max-Age deletes an existing cookie.
        assert!(jar.set_cookie_at(&u, "c=gone; Max-Age=-1", later));
        assert_eq!(jar.cookie_header_at(&u, later), None);
    }

    #[test]
    fn secure_cookies_need_https_and_http_only_is_kept() {
        let jar = Jar::default();
        let now = t0();
        let https = url("https://example.com/");
        let http = url("http://example.com/");
        assert!(
            !jar.set_cookie_at(&http, "s=1; Secure", now),
            "Secure over http"
        );
        assert!(jar.set_cookie_at(&https, "s=1; Secure; HttpOnly", now));
        assert!(jar.set_cookie_at(&https, "p=2", now));
        assert_eq!(
            jar.cookie_header_at(&https, now).as_deref(),
            Some("s=1; p=2")
        );
        assert_eq!(jar.cookie_header_at(&http, now).as_deref(), Some("p=2"));
        // A cleartext response cannot overwrite (or shadow) the Secure cookie.
        assert!(!jar.set_cookie_at(&http, "s=evil", now));
        assert!(!jar.set_cookie_at(&http, "s=evil; Path=/deeper", now));
        assert!(jar.set_cookie_at(&https, "s=2; Secure; HttpOnly", now));
        assert_eq!(
            jar.cookie_header_at(&https, now).as_deref(),
            Some("s=2; p=2")
        );
        assert_eq!(jar.is_http_only("example.com", "s"), Some(true));
        assert_eq!(jar.is_http_only("example.com", "p"), Some(false));
    }

    #[test]
    fn header_order_is_path_length_then_creation_and_replacement_keeps_creation() {
        let jar = Jar::default();
        let now = t0();
        let u = url("http://example.com/a/b/c");
        assert!(jar.set_cookie_at(&u, "first=1; Path=/", now));
        assert!(jar.set_cookie_at(&u, "deep=1; Path=/a/b", now));
        assert!(jar.set_cookie_at(&u, "second=1; Path=/", now));
        assert!(jar.set_cookie_at(&u, "mid=1; Path=/a", now));
        // A relative Path falls back to the default path (/a/b).
        assert!(jar.set_cookie_at(&u, "rel=1; Path=relative", now));
        assert_eq!(
            jar.cookie_header_at(&u, now).as_deref(),
            Some("deep=1; rel=1; mid=1; first=1; second=1")
        );
        // Replacing `first` keeps its creation time (and so its place).
        assert!(jar.set_cookie_at(&u, "first=2; Path=/", now));
        assert_eq!(
            jar.cookie_header_at(&u, now).as_deref(),
            Some("deep=1; rel=1; mid=1; first=2; second=1")
        );
        // Other paths see only what path-matches.
        let other = url("http://example.com/ab");
        assert_eq!(
            jar.cookie_header_at(&other, now).as_deref(),
            Some("first=2; second=1")
        );
    }

    #[test]
    fn limits_bound_the_jar() {
        let jar = Jar::with_limits(CookieLimits {
            max_per_domain: 3,
            max_total: 5,
            max_cookie_size: 4096,
        });
        let now = t0();
        let a = url("http://a.example/");
        for i in 0..10 {
            assert!(jar.set_cookie_at(&a, &format!("c{i}=v"), now));
        }
        // The three most recent survive.
        assert_eq!(
            jar.cookie_header_at(&a, now).as_deref(),
            Some("c7=v; c8=v; c9=v")
        );
        let b = url("http://b.example/");
        for i in 0..3 {
            assert!(jar.set_cookie_at(&b, &format!("b{i}=v"), now));
        }
        assert_eq!(jar.len(), 5, "the total limit holds");
        // Control characters cannot go back into a Cookie header: refused.
        assert!(!jar.set_cookie_at(&a, "ctl=a\u{1}b", now));
        // Over the 4096-byte cookie size: ignored.
        let jar = Jar::default();
        let big = format!("big={}", "x".repeat(4093));
        assert!(!jar.set_cookie_at(&a, &big, now));
        assert!(jar.set_cookie_at(&a, &big[..4096], now));
        assert!(jar.is_empty() || jar.len() == 1);
        assert_eq!(jar.len(), 1);
        // 10,000 distinct cookies from one host: bounded by the default limits.
        let jar = Jar::default();
        for i in 0..10_000 {
            jar.set_cookie_at(&a, &format!("n{i}=v"), now);
        }
        assert_eq!(jar.len(), 50);
    }
}
