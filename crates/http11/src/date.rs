//! A cached `Date` header value (RFC 9110 §6.6.1, IMF-fixdate).
//!
//! The codec reads no clock: the driver reads it (e.g. on a periodic tick) and passes the
//! time in ([`DateCache::new`], [`DateCache::refresh`]).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A time the driver passes in, as a 29-byte IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`), formatted at most once per second and without heap allocation. The cache never
/// reads the clock itself: the driver calls [`refresh`](Self::refresh) with its own time
/// (a server typically from a periodic tick, so no request pays for a clock read) and
/// reads [`date`](Self::date) between refreshes.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// let mut cache = shockwave_http11::DateCache::new(t);
/// assert_eq!(cache.date().as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
/// assert!(!cache.refresh(t + Duration::from_millis(500))); // same second
/// assert!(cache.refresh(t + Duration::from_secs(1)));
/// assert_eq!(cache.header_value(), b"Sun, 06 Nov 1994 08:49:38 GMT");
/// ```
#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    value: [u8; 29],
}

/// A `date` field value known to be an IMF-fixdate's 29 visible ASCII bytes (RFC 9110
/// §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`), so a response head can write it with no
/// per-head check: it cannot split the head. Build it with [`HttpDate::new`] (checked
/// bytes), [`HttpDate::from_system_time`] (formatting a time the caller read) or
/// [`DateCache`].
///
/// ```
/// use shockwave_http11::HttpDate;
/// let date = HttpDate::new(*b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
/// assert_eq!(date.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
/// assert!(HttpDate::new(*b"Sun, 06 Nov 1994\r\nX: 1 ab GMT").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpDate([u8; 29]);

impl HttpDate {
    /// The bytes as a date value, if they are all visible ASCII or spaces (the
    /// IMF-fixdate alphabet); `None` for anything else (CR, LF, controls, obs-text).
    pub fn new(bytes: [u8; 29]) -> Option<Self> {
        bytes
            .iter()
            .all(|b| (0x20..0x7f).contains(b))
            .then_some(HttpDate(bytes))
    }

    /// Formats `time` (whole seconds; the caller reads the clock). Times before 1970 are
    /// written as the epoch, after 9999 as the last second of 9999.
    pub fn from_system_time(time: SystemTime) -> Self {
        let mut cache = DateCache {
            second: u64::MAX,
            value: EPOCH,
        };
        cache.refresh(time);
        HttpDate(cache.value)
    }

    /// The 29 bytes.
    pub fn as_bytes(&self) -> &[u8; 29] {
        &self.0
    }
}

impl std::fmt::Debug for HttpDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Always ASCII (checked at construction).
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("?"))
    }
}

/// 9999-12-31 23:59:59 UTC, the last second an IMF-fixdate can hold.
const LAST_SECOND: u64 = 253_402_300_799;

const EPOCH: [u8; 29] = *b"Thu, 01 Jan 1970 00:00:00 GMT";

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
    /// A cache holding `now` (the caller reads the clock).
    pub fn new(now: SystemTime) -> Self {
        let mut cache = DateCache {
            second: u64::MAX,
            value: EPOCH,
        };
        cache.refresh(now);
        cache
    }

    /// The value as of the last [`refresh`](Self::refresh) (or [`new`](Self::new)), as
    /// bytes.
    pub fn header_value(&self) -> &[u8; 29] {
        &self.value
    }

    /// The value as of the last [`refresh`](Self::refresh), as an [`HttpDate`] for
    /// [`ResponseHead::date`](crate::ResponseHead::date).
    pub fn date(&self) -> HttpDate {
        // Only ever set by httpdate's 29-byte IMF-fixdate or the epoch constant.
        HttpDate(self.value)
    }

    /// Updates the cached value for `now` (a no-op within the same second). Returns true
    /// when the value changed, e.g. for a driver that keys cached heads by date.
    pub fn refresh(&mut self, now: SystemTime) -> bool {
        // httpdate formats years 1970..=9999 only (and panics after): clamp.
        let second = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .min(LAST_SECOND);
        if second == self.second {
            return false;
        }
        let whole = UNIX_EPOCH + Duration::from_secs(second);
        let mut buf = self.value;
        let mut out = Fixed {
            buf: &mut buf,
            len: 0,
        };
        // httpdate formats years 1970..=9999 as exactly 29 bytes.
        if write!(out, "{}", httpdate::HttpDate::from(whole)).is_ok() && out.len == 29 {
            self.second = second;
            let changed = buf != self.value;
            self.value = buf;
            return changed;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate_and_caches_per_second() {
        let mut cache = DateCache::new(UNIX_EPOCH);
        assert_eq!(&cache.value, &EPOCH);
        assert!(cache.refresh(UNIX_EPOCH + Duration::from_secs(784_111_777)));
        assert_eq!(cache.header_value().len(), 29);
        assert!(!cache.refresh(UNIX_EPOCH + Duration::from_secs(784_111_777)));
        assert_eq!(&cache.value, b"Sun, 06 Nov 1994 08:49:37 GMT");
        cache.refresh(UNIX_EPOCH + Duration::from_millis(784_111_777_999));
        assert_eq!(&cache.value, b"Sun, 06 Nov 1994 08:49:37 GMT");
        cache.refresh(UNIX_EPOCH + Duration::from_secs(784_111_778));
        assert_eq!(&cache.value, b"Sun, 06 Nov 1994 08:49:38 GMT");
        let parsed = httpdate::parse_http_date(std::str::from_utf8(cache.header_value()).unwrap());
        assert!(parsed.is_ok());
    }

    #[test]
    fn http_dates_are_checked_or_formatted() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let d = HttpDate::from_system_time(t);
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format!("{d:?}"), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(HttpDate::new(*d.as_bytes()), Some(d));
        assert_eq!(HttpDate::from_system_time(UNIX_EPOCH).as_bytes(), &EPOCH);
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(
            HttpDate::from_system_time(far).as_bytes(),
            b"Fri, 31 Dec 9999 23:59:59 GMT"
        );
        let mut bad = *d.as_bytes();
        for b in [b'\r', b'\n', 0, 0x7f, 0xff, b'\t'] {
            bad[10] = b;
            assert_eq!(HttpDate::new(bad), None);
        }
        let cache = DateCache::new(t);
        assert_eq!(cache.date(), d);
    }
}
