//! Response-field helpers shared by the multiplexed drivers (HTTP/2 and HTTP/3), which
//! encode a handler's `Response` as a field section instead of an HTTP/1.1 head.

use http::StatusCode;

/// The three ASCII digits of a status code, for the `:status` pseudo-header.
pub(crate) fn status_bytes(status: StatusCode) -> [u8; 3] {
    let s = status.as_u16();
    [
        b'0' + (s / 100 % 10) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

/// Response fields a multiplexed driver drops from the handler's response: names the
/// server manages itself (`content-length`, `date`) and connection-specific names that
/// HTTP/2 and HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2).
pub(crate) fn skipped(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"transfer-encoding",
        b"keep-alive",
        b"proxy-connection",
        b"upgrade",
        b"content-length",
        b"date",
        b"te",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

/// True when `name` is a non-empty token and `value` has no CR, LF or NUL (the
/// response-splitting guard).
pub(crate) fn field_valid(name: &[u8], value: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
        && value.iter().all(|b| *b != b'\r' && *b != b'\n' && *b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_digits() {
        assert_eq!(&status_bytes(StatusCode::OK), b"200");
        assert_eq!(&status_bytes(StatusCode::NOT_FOUND), b"404");
        assert_eq!(&status_bytes(StatusCode::CONTINUE), b"100");
    }

    #[test]
    fn skipped_and_valid_fields() {
        assert!(skipped(b"Connection"));
        assert!(skipped(b"content-length"));
        assert!(!skipped(b"content-type"));
        assert!(field_valid(b"x-ok", b"value"));
        assert!(!field_valid(b"", b"v"));
        assert!(!field_valid(b"bad name", b"v"));
        assert!(!field_valid(b"x", b"a\r\nb"));
    }
}
