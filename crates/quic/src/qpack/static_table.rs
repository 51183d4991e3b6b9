//! The QPACK static table (RFC 9204 §3.1, Appendix A) and the encoder's lookup into it.
//!
//! Generated from the table in RFC 9204 Appendix A; indices start at 0 (unlike HPACK).

/// The QPACK static table (RFC 9204 Appendix A): 99 `(name, value)` entries, indexed from 0.
pub const STATIC_TABLE: [(&[u8], &[u8]); 99] = [
    (b":authority", b""),                                    // 0
    (b":path", b"/"),                                        // 1
    (b"age", b"0"),                                          // 2
    (b"content-disposition", b""),                           // 3
    (b"content-length", b"0"),                               // 4
    (b"cookie", b""),                                        // 5
    (b"date", b""),                                          // 6
    (b"etag", b""),                                          // 7
    (b"if-modified-since", b""),                             // 8
    (b"if-none-match", b""),                                 // 9
    (b"last-modified", b""),                                 // 10
    (b"link", b""),                                          // 11
    (b"location", b""),                                      // 12
    (b"referer", b""),                                       // 13
    (b"set-cookie", b""),                                    // 14
    (b":method", b"CONNECT"),                                // 15
    (b":method", b"DELETE"),                                 // 16
    (b":method", b"GET"),                                    // 17
    (b":method", b"HEAD"),                                   // 18
    (b":method", b"OPTIONS"),                                // 19
    (b":method", b"POST"),                                   // 20
    (b":method", b"PUT"),                                    // 21
    (b":scheme", b"http"),                                   // 22
    (b":scheme", b"https"),                                  // 23
    (b":status", b"103"),                                    // 24
    (b":status", b"200"),                                    // 25
    (b":status", b"304"),                                    // 26
    (b":status", b"404"),                                    // 27
    (b":status", b"503"),                                    // 28
    (b"accept", b"*/*"),                                     // 29
    (b"accept", b"application/dns-message"),                 // 30
    (b"accept-encoding", b"gzip, deflate, br"),              // 31
    (b"accept-ranges", b"bytes"),                            // 32
    (b"access-control-allow-headers", b"cache-control"),     // 33
    (b"access-control-allow-headers", b"content-type"),      // 34
    (b"access-control-allow-origin", b"*"),                  // 35
    (b"cache-control", b"max-age=0"),                        // 36
    (b"cache-control", b"max-age=2592000"),                  // 37
    (b"cache-control", b"max-age=604800"),                   // 38
    (b"cache-control", b"no-cache"),                         // 39
    (b"cache-control", b"no-store"),                         // 40
    (b"cache-control", b"public, max-age=31536000"),         // 41
    (b"content-encoding", b"br"),                            // 42
    (b"content-encoding", b"gzip"),                          // 43
    (b"content-type", b"application/dns-message"),           // 44
    (b"content-type", b"application/javascript"),            // 45
    (b"content-type", b"application/json"),                  // 46
    (b"content-type", b"application/x-www-form-urlencoded"), // 47
    (b"content-type", b"image/gif"),                         // 48
    (b"content-type", b"image/jpeg"),                        // 49
    (b"content-type", b"image/png"),                         // 50
    (b"content-type", b"text/css"),                          // 51
    (b"content-type", b"text/html; charset=utf-8"),          // 52
    (b"content-type", b"text/plain"),                        // 53
    (b"content-type", b"text/plain;charset=utf-8"),          // 54
    (b"range", b"bytes=0-"),                                 // 55
    (b"strict-transport-security", b"max-age=31536000"),     // 56
    (
        b"strict-transport-security",
        b"max-age=31536000; includesubdomains",
    ), // 57
    (
        b"strict-transport-security",
        b"max-age=31536000; includesubdomains; preload",
    ), // 58
    (b"vary", b"accept-encoding"),                           // 59
    (b"vary", b"origin"),                                    // 60
    (b"x-content-type-options", b"nosniff"),                 // 61
    (b"x-xss-protection", b"1; mode=block"),                 // 62
    (b":status", b"100"),                                    // 63
    (b":status", b"204"),                                    // 64
    (b":status", b"206"),                                    // 65
    (b":status", b"302"),                                    // 66
    (b":status", b"400"),                                    // 67
    (b":status", b"403"),                                    // 68
    (b":status", b"421"),                                    // 69
    (b":status", b"425"),                                    // 70
    (b":status", b"500"),                                    // 71
    (b"accept-language", b""),                               // 72
    (b"access-control-allow-credentials", b"FALSE"),         // 73
    (b"access-control-allow-credentials", b"TRUE"),          // 74
    (b"access-control-allow-headers", b"*"),                 // 75
    (b"access-control-allow-methods", b"get"),               // 76
    (b"access-control-allow-methods", b"get, post, options"), // 77
    (b"access-control-allow-methods", b"options"),           // 78
    (b"access-control-expose-headers", b"content-length"),   // 79
    (b"access-control-request-headers", b"content-type"),    // 80
    (b"access-control-request-method", b"get"),              // 81
    (b"access-control-request-method", b"post"),             // 82
    (b"alt-svc", b"clear"),                                  // 83
    (b"authorization", b""),                                 // 84
    (
        b"content-security-policy",
        b"script-src 'none'; object-src 'none'; base-uri 'none'",
    ), // 85
    (b"early-data", b"1"),                                   // 86
    (b"expect-ct", b""),                                     // 87
    (b"forwarded", b""),                                     // 88
    (b"if-range", b""),                                      // 89
    (b"origin", b""),                                        // 90
    (b"purpose", b"prefetch"),                               // 91
    (b"server", b""),                                        // 92
    (b"timing-allow-origin", b"*"),                          // 93
    (b"upgrade-insecure-requests", b"1"),                    // 94
    (b"user-agent", b""),                                    // 95
    (b"x-forwarded-for", b""),                               // 96
    (b"x-frame-options", b"deny"),                           // 97
    (b"x-frame-options", b"sameorigin"),                     // 98
];

/// Finds `(name, value)` in the static table: `Some((index, true))` for an exact match,
/// `Some((index, false))` when only the name matches (the first entry with that name),
/// `None` otherwise. Names must be lowercase, as HTTP/3 requires.
pub fn lookup(name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
    let candidates: &[(usize, &[u8])] = match name {
        b":authority" => &[(0, b"")],
        b":path" => &[(1, b"/")],
        b"age" => &[(2, b"0")],
        b"content-disposition" => &[(3, b"")],
        b"content-length" => &[(4, b"0")],
        b"cookie" => &[(5, b"")],
        b"date" => &[(6, b"")],
        b"etag" => &[(7, b"")],
        b"if-modified-since" => &[(8, b"")],
        b"if-none-match" => &[(9, b"")],
        b"last-modified" => &[(10, b"")],
        b"link" => &[(11, b"")],
        b"location" => &[(12, b"")],
        b"referer" => &[(13, b"")],
        b"set-cookie" => &[(14, b"")],
        b":method" => &[
            (15, b"CONNECT"),
            (16, b"DELETE"),
            (17, b"GET"),
            (18, b"HEAD"),
            (19, b"OPTIONS"),
            (20, b"POST"),
            (21, b"PUT"),
        ],
        b":scheme" => &[(22, b"http"), (23, b"https")],
        b":status" => &[
            (24, b"103"),
            (25, b"200"),
            (26, b"304"),
            (27, b"404"),
            (28, b"503"),
            (63, b"100"),
            (64, b"204"),
            (65, b"206"),
            (66, b"302"),
            (67, b"400"),
            (68, b"403"),
            (69, b"421"),
            (70, b"425"),
            (71, b"500"),
        ],
        b"accept" => &[(29, b"*/*"), (30, b"application/dns-message")],
        b"accept-encoding" => &[(31, b"gzip, deflate, br")],
        b"accept-ranges" => &[(32, b"bytes")],
        b"access-control-allow-headers" => {
            &[(33, b"cache-control"), (34, b"content-type"), (75, b"*")]
        }
        b"access-control-allow-origin" => &[(35, b"*")],
        b"cache-control" => &[
            (36, b"max-age=0"),
            (37, b"max-age=2592000"),
            (38, b"max-age=604800"),
            (39, b"no-cache"),
            (40, b"no-store"),
            (41, b"public, max-age=31536000"),
        ],
        b"content-encoding" => &[(42, b"br"), (43, b"gzip")],
        b"content-type" => &[
            (44, b"application/dns-message"),
            (45, b"application/javascript"),
            (46, b"application/json"),
            (47, b"application/x-www-form-urlencoded"),
            (48, b"image/gif"),
            (49, b"image/jpeg"),
            (50, b"image/png"),
            (51, b"text/css"),
            (52, b"text/html; charset=utf-8"),
            (53, b"text/plain"),
            (54, b"text/plain;charset=utf-8"),
        ],
        b"range" => &[(55, b"bytes=0-")],
        b"strict-transport-security" => &[
            (56, b"max-age=31536000"),
            (57, b"max-age=31536000; includesubdomains"),
            (58, b"max-age=31536000; includesubdomains; preload"),
        ],
        b"vary" => &[(59, b"accept-encoding"), (60, b"origin")],
        b"x-content-type-options" => &[(61, b"nosniff")],
        b"x-xss-protection" => &[(62, b"1; mode=block")],
        b"accept-language" => &[(72, b"")],
        b"access-control-allow-credentials" => &[(73, b"FALSE"), (74, b"TRUE")],
        b"access-control-allow-methods" => {
            &[(76, b"get"), (77, b"get, post, options"), (78, b"options")]
        }
        b"access-control-expose-headers" => &[(79, b"content-length")],
        b"access-control-request-headers" => &[(80, b"content-type")],
        b"access-control-request-method" => &[(81, b"get"), (82, b"post")],
        b"alt-svc" => &[(83, b"clear")],
        b"authorization" => &[(84, b"")],
        b"content-security-policy" => {
            &[(85, b"script-src 'none'; object-src 'none'; base-uri 'none'")]
        }
        b"early-data" => &[(86, b"1")],
        b"expect-ct" => &[(87, b"")],
        b"forwarded" => &[(88, b"")],
        b"if-range" => &[(89, b"")],
        b"origin" => &[(90, b"")],
        b"purpose" => &[(91, b"prefetch")],
        b"server" => &[(92, b"")],
        b"timing-allow-origin" => &[(93, b"*")],
        b"upgrade-insecure-requests" => &[(94, b"1")],
        b"user-agent" => &[(95, b"")],
        b"x-forwarded-for" => &[(96, b"")],
        b"x-frame-options" => &[(97, b"deny"), (98, b"sameorigin")],
        _ => return None,
    };
    for &(index, v) in candidates {
        if v == value {
            return Some((index, true));
        }
    }
    candidates.first().map(|&(index, _)| (index, false))
}

/// The entry at `index`, or `None` past the end (an invalid static index is
/// `QPACK_DECOMPRESSION_FAILED`, or `QPACK_ENCODER_STREAM_ERROR` on the encoder stream).
#[inline]
pub fn get(index: u64) -> Option<(&'static [u8], &'static [u8])> {
    STATIC_TABLE.get(usize::try_from(index).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shape() {
        assert_eq!(STATIC_TABLE.len(), 99);
        assert_eq!(get(0), Some((&b":authority"[..], &b""[..])));
        assert_eq!(get(17), Some((&b":method"[..], &b"GET"[..])));
        assert_eq!(get(25), Some((&b":status"[..], &b"200"[..])));
        assert_eq!(get(98), Some((&b"x-frame-options"[..], &b"sameorigin"[..])));
        assert_eq!(get(99), None);
        assert_eq!(get(u64::MAX), None);
        for (name, _) in STATIC_TABLE {
            assert!(!name.iter().any(u8::is_ascii_uppercase));
        }
    }

    #[test]
    fn lookup_finds_every_entry() {
        for (i, (name, value)) in STATIC_TABLE.iter().enumerate() {
            assert_eq!(lookup(name, value), Some((i, true)), "{i}");
            let (first, exact) = lookup(name, b"\x00no such value").unwrap();
            assert!(!exact);
            assert_eq!(STATIC_TABLE[first].0, *name);
            assert!(first <= i);
        }
        assert_eq!(lookup(b"x-custom", b"1"), None);
        assert_eq!(lookup(b":status", b"418"), Some((24, false)));
    }
}
