//! A cached `Date` header value (RFC 9110 §6.6.1, IMF-fixdate).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time as a 29-byte IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once per second and without heap allocation.
///
/// ```
/// let mut cache = shockwave_http11::DateCache::new();
/// let value = cache.header_value();
/// assert_eq!(value.len(), 29);
/// assert!(value.ends_with(b" GMT"));
/// ```
#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    value: [u8; 29],
}

/// A fixed buffer that `fmt::Write` fills without allocating.
struct Fixed<'b> {
    buf: &'b mut [u8; 29],
    len: usize,
}

impl std::fmt::Write for Fixed<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl DateCache {
    /// A cache holding the current time.
    pub fn new() -> Self {
        let mut cache = DateCache {
            second: u64::MAX,
            value: *b"Thu, 01 Jan 1970 00:00:00 GMT",
        };
        cache.refresh(SystemTime::now());
        cache
    }

    /// The current `Date` value; reformatted only when the second has changed.
    pub fn header_value(&mut self) -> &[u8] {
        self.refresh(SystemTime::now());
        &self.value
    }

    /// Updates the cached value for `now` (a no-op within the same second).
    pub fn refresh(&mut self, now: SystemTime) {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second == self.second {
            return;
        }
        let whole = UNIX_EPOCH + Duration::from_secs(second);
        let mut out = Fixed {
            buf: &mut self.value,
            len: 0,
        };
        // httpdate formats years 1970..=9999 as exactly 29 bytes.
        if write!(out, "{}", httpdate::HttpDate::from(whole)).is_ok() && out.len == 29 {
            self.second = second;
        }
    }
}

impl Default for DateCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate_and_caches_per_second() {
        let mut cache = DateCache::new();
        cache.refresh(UNIX_EPOCH + Duration::from_secs(784_111_777));
        assert_eq!(cache.header_value().len(), 29);
        cache.refresh(UNIX_EPOCH + Duration::from_secs(784_111_777));
        assert_eq!(&cache.value, b"Sun, 06 Nov 1994 08:49:37 GMT");
        cache.refresh(UNIX_EPOCH + Duration::from_millis(784_111_777_999));
        assert_eq!(&cache.value, b"Sun, 06 Nov 1994 08:49:37 GMT");
        cache.refresh(UNIX_EPOCH + Duration::from_secs(784_111_778));
        assert_eq!(&cache.value, b"Sun, 06 Nov 1994 08:49:38 GMT");
        let parsed = httpdate::parse_http_date(std::str::from_utf8(cache.header_value()).unwrap());
        assert!(parsed.is_ok());
    }
}
