//! Byte-class lookup tables and word-at-a-time (SWAR) scanners.

/// `tchar` (RFC 9110 §5.6.2): the characters of methods, field names and codings.
pub(crate) static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

/// Request-target bytes: visible ASCII (0x21..=0x7E). Stricter than RFC 3986's
/// unreserved/pct-encoded grammar only in not checking structure; it rules out spaces,
/// controls and non-ASCII, so the target is always valid UTF-8.
pub(crate) static TARGET: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x21;
    while i < 0x7f {
        t[i] = true;
        i += 1;
    }
    t
};

/// Host header bytes (RFC 3986 §3.2.2 reg-name / IP-literal, plus `:` port).
pub(crate) static HOST: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'%'
            );
        i += 1;
    }
    t
};

/// `reg-name` / IPv4 bytes of a Host value (RFC 3986 §3.2.2): [`HOST`] without the
/// port separator `:` and the IP-literal brackets `[` `]`.
pub(crate) static REG_NAME: [bool; 256] = {
    let mut t = HOST;
    t[b':' as usize] = false;
    t[b'[' as usize] = false;
    t[b']' as usize] = false;
    t
};

/// Advances from `i` over [`REG_NAME`] bytes up to `end` (as [`skip_token_bytes`]);
/// returns the index of the first other byte, or `end`.
#[inline(always)]
pub(crate) fn skip_reg_name_bytes(buf: &[u8], i: usize, end: usize) -> usize {
    skip_table_bytes(&REG_NAME, buf, i, end)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn word(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// A mask with bit 7 set in the bytes of `x` below 0x20 or equal to DEL (0x7F): bytes
/// a field value cannot hold as-is (HTAB aside), and line ends. Only the lowest set
/// bit is exact (a borrow can flag bytes above a flagged one), which is all the
/// scanners use.
#[inline(always)]
fn ctl_mask(x: u64) -> u64 {
    let below = x.wrapping_sub(LO * 0x20) & !x & HI;
    let d = x ^ (LO * 0x7f);
    let del = d.wrapping_sub(LO) & !d & HI;
    below | del
}

/// Like [`ctl_mask`] for bytes that are not visible ASCII (<= 0x20, 0x7F or >= 0x80).
#[inline(always)]
fn non_vchar_mask(x: u64) -> u64 {
    let below = x.wrapping_sub(LO * 0x21) & !x & HI;
    let d = x ^ (LO * 0x7f);
    let del = d.wrapping_sub(LO) & !d & HI;
    below | del | (x & HI)
}

/// The index of the lowest flagged byte of a non-zero mask.
#[inline(always)]
fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Advances from `i` over field-value bytes (VCHAR, SP, obs-text; not HTAB) up to
/// `end`, 8 bytes at a time; returns the index of the first control byte or `end`.
#[inline(always)]
pub(crate) fn skip_value_bytes(buf: &[u8], mut i: usize, end: usize) -> usize {
    // Two words per iteration on long values (User-Agent, Cookie, Accept).
    while i + 16 <= end {
        let m0 = ctl_mask(word(buf, i));
        let m1 = ctl_mask(word(buf, i + 8));
        if m0 | m1 != 0 {
            return if m0 != 0 {
                i + first(m0)
            } else {
                i + 8 + first(m1)
            };
        }
        i += 16;
    }
    while i + 8 <= end {
        let m = ctl_mask(word(buf, i));
        if m != 0 {
            return i + first(m);
        }
        i += 8;
    }
    while i < end {
        let c = buf[i];
        if c < 0x20 || c == 0x7f {
            break;
        }
        i += 1;
    }
    i
}

/// The index of the first `needle` in `s`, 8 bytes at a time (for the `?` of a
/// request-target: shorter than memchr's call overhead on typical targets).
#[inline(always)]
pub(crate) fn find_byte(s: &[u8], needle: u8) -> Option<usize> {
    let pat = LO * u64::from(needle);
    let mut i = 0;
    while i + 8 <= s.len() {
        let x = word(s, i) ^ pat;
        // Zero bytes of `x`; the lowest flagged one is exact.
        let m = x.wrapping_sub(LO) & !x & HI;
        if m != 0 {
            return Some(i + first(m));
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == needle).map(|p| i + p)
}

/// Advances from `i` over request-target bytes up to `end`; returns the index of the
/// first byte that is not visible ASCII, or `end`.
#[inline(always)]
pub(crate) fn skip_target_bytes(buf: &[u8], mut i: usize, end: usize) -> usize {
    while i + 8 <= end {
        let m = non_vchar_mask(word(buf, i));
        if m != 0 {
            return i + first(m);
        }
        i += 8;
    }
    while i < end && TARGET[buf[i] as usize] {
        i += 1;
    }
    i
}

/// Advances from `i` over token bytes up to `end`; returns the index of the first
/// other byte, or `end`.
#[inline(always)]
pub(crate) fn skip_token_bytes(buf: &[u8], i: usize, end: usize) -> usize {
    skip_table_bytes(&TOKEN, buf, i, end)
}

/// Advances from `i` over bytes `table` accepts, up to `end`: 8 table lookups combined
/// with one branch per block, then byte by byte. (Building a per-word mask of rejected
/// bytes to avoid the byte loop measured slower, and so did a branch-free 8-lookup bit
/// mask counted with `trailing_ones`.) Always inlined, so each caller's loop indexes
/// its own static table.
#[inline(always)]
fn skip_table_bytes(table: &[bool; 256], buf: &[u8], mut i: usize, end: usize) -> usize {
    while i + 8 <= end {
        let w = &buf[i..i + 8];
        let all = table[w[0] as usize]
            & table[w[1] as usize]
            & table[w[2] as usize]
            & table[w[3] as usize]
            & table[w[4] as usize]
            & table[w[5] as usize]
            & table[w[6] as usize]
            & table[w[7] as usize];
        if !all {
            break;
        }
        i += 8;
    }
    while i < end && table[buf[i] as usize] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_matches_the_byte_classes() {
        for b in 0..=255u8 {
            let mut w = [b'a'; 8];
            for pos in 0..8 {
                w[pos] = b;
                let x = u64::from_le_bytes(w);
                let ctl = b < 0x20 || b == 0x7f;
                assert_eq!(ctl_mask(x) != 0, ctl, "ctl {b:#x} at {pos}");
                if ctl {
                    assert_eq!(first(ctl_mask(x)), pos);
                }
                let bad = !TARGET[b as usize];
                assert_eq!(non_vchar_mask(x) != 0, bad, "vchar {b:#x} at {pos}");
                if bad {
                    assert_eq!(first(non_vchar_mask(x)), pos);
                }
                w[pos] = b'a';
            }
        }
    }

    #[test]
    fn first_flagged_byte_is_exact_with_several_bad_bytes() {
        // Every pair of bad bytes at every pair of positions: the lowest is reported.
        let bad = [0u8, 0x01, 0x0d, 0x0a, 0x1f, 0x7f, 0x20, 0x80, 0xff, b'\t'];
        for &b1 in &bad {
            for &b2 in &bad {
                for p1 in 0..8 {
                    for p2 in p1..8 {
                        let mut w = [b'x'; 8];
                        w[p2] = b2;
                        w[p1] = b1;
                        let x = u64::from_le_bytes(w);
                        let want_ctl = w.iter().position(|&c| c < 0x20 || c == 0x7f);
                        let got_ctl = Some(ctl_mask(x)).filter(|&m| m != 0).map(first);
                        assert_eq!(got_ctl, want_ctl, "{w:?}");
                        let want_v = w.iter().position(|&c| !TARGET[c as usize]);
                        let got_v = Some(non_vchar_mask(x)).filter(|&m| m != 0).map(first);
                        assert_eq!(got_v, want_v, "{w:?}");
                    }
                }
            }
        }
        let buf = b"Content-Type: x";
        for start in 0..buf.len() {
            for end in start..=buf.len() {
                let want = (start..end)
                    .find(|&i| !TOKEN[buf[i] as usize])
                    .unwrap_or(end);
                assert_eq!(skip_token_bytes(buf, start, end), want);
            }
        }
    }

    #[test]
    fn find_byte_finds_the_first_match() {
        let hay: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..hay.len() {
            for at in 0..=len {
                let mut s = hay[..len].to_vec();
                if at < len {
                    s[at] = b'?';
                    // A second match later must not win.
                    if at + 3 < len {
                        s[at + 3] = b'?';
                    }
                }
                let want = s.iter().position(|&b| b == b'?');
                assert_eq!(find_byte(&s, b'?'), want, "{s:?}");
            }
        }
        // Bytes that differ from the needle by a borrow-prone amount.
        for b in 0..=255u8 {
            let mut s = [b; 11];
            s[9] = b'?';
            let want = s.iter().position(|&c| c == b'?');
            assert_eq!(find_byte(&s, b'?'), want, "{b:#x}");
        }
    }

    #[test]
    fn token_table() {
        assert!(TOKEN[b'a' as usize] && TOKEN[b'Z' as usize] && TOKEN[b'~' as usize]);
        for c in b"()<>@,;:\\\"/[]?={} \t\x7f\x00\x80" {
            assert!(!TOKEN[*c as usize], "{c}");
        }
    }

    #[test]
    fn scanners_stop_at_the_first_bad_byte() {
        let buf = b"abcdefghijklmnop\x01rest";
        assert_eq!(skip_value_bytes(buf, 0, buf.len()), 16);
        assert_eq!(skip_value_bytes(buf, 3, 10), 10);
        let buf = b"/a/b/c/d/e/f/g/h?x=1 HTTP/1.1";
        assert_eq!(skip_target_bytes(buf, 0, buf.len()), 20);
        assert_eq!(skip_token_bytes(b"Content-Length: 5", 0, 17), 14);
    }
}
