//! Field rules shared by every server driver: status digits, the connection-specific
//! field names (one list), field validation (the response-splitting guard), the trailer
//! rules, and [`prepare_response`], which turns a handler's `Response` into the field
//! section the multiplexed drivers (HTTP/2, HTTP/3) encode.

use http::StatusCode;
use shockwave_arena::Arena;
use shockwave_http11::format_decimal as format_u64;

use crate::service::{Response, ResponseBody, Trailers};

/// Connection-specific field names (RFC 9110 §7.6.1): meaningful for one HTTP/1.1
/// connection only, forbidden in HTTP/2 (RFC 9113 §8.2.2) and HTTP/3 (RFC 9114 §4.2)
/// messages (`te` is allowed there with the value `trailers` in requests only), and
/// dropped when an HTTP/1.1 request is translated into HTTP/2 (`Upgrade: h2c`).
pub(crate) const CONNECTION_SPECIFIC: [&[u8]; 6] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
    b"te",
];

/// True when `name` is one of [`CONNECTION_SPECIFIC`] (ASCII case-insensitive).
pub(crate) fn is_connection_specific(name: &[u8]) -> bool {
    CONNECTION_SPECIFIC
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// The three ASCII digits of a status code, for the `:status` pseudo-header (the HTTP/1.1
/// codec's status digits: one formatter for every protocol).
pub(crate) use shockwave_http11::status_digits as status_bytes;

/// Response fields a multiplexed driver drops from the handler's response: names the
/// server manages itself (`content-length`, `date`) and connection-specific names that
/// HTTP/2 and HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2).
pub(crate) fn skipped(name: &[u8]) -> bool {
    is_connection_specific(name)
        || name.eq_ignore_ascii_case(b"content-length")
        || name.eq_ignore_ascii_case(b"date")
}

/// True when `name` is a non-empty token and `value` has no CR, LF or NUL (the
/// response-splitting guard; the HTTP/1.1 codec's rule, so every protocol applies the same).
pub(crate) use shockwave_http11::is_field_safe as field_valid;

/// True when a response trailer field may be sent (every driver filters with it): a valid
/// field that is neither connection-specific nor framing (`content-length`,
/// `transfer-encoding`, `te`, ...) nor `trailer`, `date` or `host` (RFC 9110 §6.5.1). The
/// HTTP/1.1 codec's rule, so trailers are filtered the same way on every protocol.
pub(crate) use shockwave_http11::is_trailer_allowed as trailer_allowed;

/// A handler's response made ready for a multiplexed driver (HTTP/2, HTTP/3): what both
/// encode the same way. Build it with [`prepare_response`].
pub(crate) struct PreparedResponse<'a> {
    /// The status sent (500 when the handler's response was invalid).
    pub(crate) status: StatusCode,
    /// The field section, in the request arena: `:status`, the handler's fields minus
    /// [`skipped`] names, lowercased (RFC 9113 §8.2.1, RFC 9114 §4.2), then
    /// `content-length` (known length, not 204/304) and `date` (when given).
    pub(crate) fields: &'a [(&'a [u8], &'a [u8])],
    /// The body; send none when `!with_body`.
    pub(crate) body: ResponseBody<'a>,
    /// The body's length when known (`Some(0)` for 204/304).
    pub(crate) length: Option<u64>,
    /// False for `HEAD` and 204/304 responses: no DATA at all.
    pub(crate) with_body: bool,
    /// The trailers to send after the body; always [`Trailers::None`] when `!with_body`
    /// (a deferred future is then never polled). Filter them with [`trailer_allowed`].
    pub(crate) trailers: Trailers<'a>,
}

impl PreparedResponse<'_> {
    /// True when the field section ends the stream (END_STREAM on HEADERS, or finish the
    /// QUIC stream after it): no body bytes and no trailers follow.
    pub(crate) fn head_only(&self) -> bool {
        !self.with_body || (self.length == Some(0) && self.trailers.is_none())
    }
}

/// Prepares `response` for a multiplexed driver: an invalid one (fields overflowing the
/// inline storage, a status below 200, a field name that is not a token or a value with
/// CR/LF/NUL) becomes an empty 500; the field section is built in `arena`. `None` when the
/// arena refuses the allocation (answer a plain 500 then). Makes no heap allocation.
pub(crate) fn prepare_response<'a>(
    arena: &'a Arena,
    mut response: Response<'a>,
    is_head: bool,
    date: Option<&[u8]>,
) -> Option<PreparedResponse<'a>> {
    if response.overflow
        || response.status().as_u16() < 200
        || !response.header_fields().all(|(n, v)| field_valid(n, v))
    {
        tracing::error!("invalid response from handler (header fields or status); answering 500");
        response = Response::new(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let status = response.status();
    let body = response.take_body();
    let no_content = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let with_body = !is_head && !no_content;
    let trailers = if with_body {
        response.take_trailers()
    } else {
        Trailers::None
    };
    let length = if no_content { Some(0) } else { body.len() };
    let mut fields = shockwave_arena::Vec::new_in(arena.bump());
    fields
        .try_reserve_exact(response.header_fields().count() + 3)
        .ok()?;
    let code: &'a [u8] = arena.alloc_bytes(&status_bytes(status)).ok()?;
    fields.push((&b":status"[..], code));
    for (name, value) in response.header_fields() {
        if skipped(name) {
            continue;
        }
        let name: &'a [u8] = if name.iter().any(u8::is_ascii_uppercase) {
            let lower = arena.alloc_bytes(name).ok()?;
            lower.make_ascii_lowercase();
            lower
        } else {
            name
        };
        fields.push((name, value));
    }
    if let (Some(n), false) = (length, no_content) {
        let mut buf = [0u8; 20];
        let digits: &'a [u8] = arena.alloc_bytes(format_u64(n, &mut buf)).ok()?;
        fields.push((&b"content-length"[..], digits));
    }
    if let Some(d) = date {
        let d: &'a [u8] = arena.alloc_bytes(d).ok()?;
        fields.push((&b"date"[..], d));
    }
    Some(PreparedResponse {
        status,
        fields: fields.into_bump_slice(),
        body,
        length,
        with_body,
        trailers,
    })
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

    #[test]
    fn responses_are_prepared_in_the_arena() {
        let arena = Arena::new();
        let r = Response::text("hi")
            .header("X-Upper", "1")
            .header("connection", "close")
            .trailers(&[(b"x-t", b"v")]);
        let p = prepare_response(&arena, r, false, Some(b"Wed, 25 Nov 2026 20:00:00 GMT")).unwrap();
        assert_eq!(p.status, StatusCode::OK);
        let names: Vec<&[u8]> = p.fields.iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [
                &b":status"[..],
                b"content-type",
                b"x-upper",
                b"content-length",
                b"date"
            ]
        );
        assert_eq!(p.fields[0].1, b"200");
        assert_eq!(p.fields[3].1, b"2");
        assert!(p.with_body && !p.head_only());
        assert!(!p.trailers.is_none());

        // HEAD: fields as for GET, no body, trailers dropped.
        let r = Response::text("hi").trailers(&[(b"x-t", b"v")]);
        let p = prepare_response(&arena, r, true, None).unwrap();
        assert!(p.head_only() && p.trailers.is_none());
        assert_eq!(
            p.fields.last().unwrap(),
            &(&b"content-length"[..], &b"2"[..])
        );

        // 204: no content-length; an empty body ends with the head.
        let p = prepare_response(&arena, Response::status_code(204), false, None).unwrap();
        assert_eq!(p.fields.len(), 1);
        assert!(p.head_only());

        // Invalid responses become 500.
        let p =
            prepare_response(&arena, Response::ok().header("bad name", "v"), false, None).unwrap();
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
        let p =
            prepare_response(&arena, Response::ok().header("x", "a\r\nb"), false, None).unwrap();
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
        let p = prepare_response(&arena, Response::status_code(101), false, None).unwrap();
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn trailer_fields() {
        assert!(trailer_allowed(b"grpc-status", b"0"));
        assert!(trailer_allowed(b"X-Checksum", b"abc"));
        for name in [
            &b":status"[..],
            b"content-length",
            b"Transfer-Encoding",
            b"connection",
            b"te",
            b"trailer",
            b"host",
        ] {
            assert!(!trailer_allowed(name, b"1"), "{name:?}");
        }
        assert!(!trailer_allowed(b"x", b"a\nb"));
    }
}
