//! Decimal formatting of `u64`s (content-length values, chunk-free lengths, counters)
//! without allocation: the one formatter every driver uses.

/// Formats `n` in decimal at the end of `buf` and returns the digits.
pub(crate) fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Appends the decimal digits of `n` to `dst` ([`format_u64`], pushed byte by byte: for
/// the usual 1-4 digits that is cheaper than a `memcpy` call of a variable-length slice).
#[inline]
pub(crate) fn push_decimal(dst: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    for &b in format_u64(n, &mut buf) {
        dst.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 13, 99, 100, 65_535, 1 << 40, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            let mut buf = [0u8; 20];
            assert_eq!(format_u64(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
