//! Decimal and hexadecimal digits for heads and chunk sizes, written without allocating.

/// Appends the decimal digits of `n` (no sign, no leading zeros): `Content-Length`
/// values (RFC 9110 §8.6).
#[inline]
pub fn write_decimal(dst: &mut Vec<u8>, n: u64) {
    // Formatted with constant divisions (multiplications), then pushed byte by byte: for
    // the usual 1-4 digits that is cheaper than a memcpy call of a variable-length slice,
    // and far cheaper than dividing by a variable power of ten.
    let mut buf = [0u8; 20];
    for &b in format_decimal(n, &mut buf) {
        dst.push(b);
    }
}

/// The decimal digits of `n`, formatted into `buf` (for callers that need the digits as a
/// field value, e.g. an HTTP/2 `content-length`).
///
/// ```
/// let mut buf = [0u8; 20];
/// assert_eq!(shockwave_http11::format_decimal(1234, &mut buf), b"1234");
/// ```
#[inline]
pub fn format_decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The three ASCII digits of a status code (RFC 9110 §15).
#[inline]
pub fn status_digits(status: http::StatusCode) -> [u8; 3] {
    let s = status.as_u16();
    [
        b'0' + (s / 100 % 10) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

/// Appends the lowercase hexadecimal digits of `n` (a chunk size, RFC 9112 §7.1).
#[inline]
pub fn write_hex(dst: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut n = n;
    loop {
        i -= 1;
        tmp[i] = HEX[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 13, 99, 100, 65_535, 1 << 40, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            let mut buf = [0u8; 20];
            assert_eq!(format_decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn hex_and_status() {
        for n in [0u64, 9, 10, 15, 16, 300, 0xdead_beef, u64::MAX] {
            let mut out = Vec::new();
            write_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}").as_bytes());
        }
        assert_eq!(&status_digits(http::StatusCode::OK), b"200");
        assert_eq!(
            &status_digits(http::StatusCode::from_u16(599).unwrap()),
            b"599"
        );
        assert_eq!(&status_digits(http::StatusCode::CONTINUE), b"100");
    }
}
