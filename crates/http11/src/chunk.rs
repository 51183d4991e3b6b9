//! Chunked framing (RFC 9112 §7.1): writing chunks, the last chunk and the trailer
//! section, and reading a received trailer section back; plus [`find_head_end`].

use crate::body::parse_chunk_line;
use crate::digits::write_hex;
use crate::parse::{parse_fields, Discard, FieldBounds, Status};
use crate::write::is_field_safe;
use crate::{Error, Limits};

/// The last-chunk line (`0 CRLF`, RFC 9112 §7.1) that starts the end of a chunked body;
/// the trailer field lines and a final CRLF follow it.
pub const LAST_CHUNK: &[u8] = b"0\r\n";

/// Appends a chunk-size line: `len` in lowercase hex and CRLF. The caller then appends
/// exactly `len` data bytes and a CRLF (this split lets a driver send a large body
/// straight from its own buffer). `len` must not be 0 (that is the last chunk).
#[inline]
pub fn write_chunk_header(dst: &mut Vec<u8>, len: usize) {
    write_hex(dst, len as u64);
    dst.extend_from_slice(b"\r\n");
}

/// Appends one chunk (`size-in-hex CRLF data CRLF`). An empty `data` writes nothing,
/// since a zero-size chunk would end the body.
#[inline]
pub fn write_chunk(dst: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    write_chunk_header(dst, data.len());
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// Names never sent in a trailer section: framing, connection-specific fields (RFC 9110
/// §6.5.1, §7.6.1), fields the server manages (`date`), `trailer` and `host`.
const NOT_IN_TRAILERS: [&[u8]; 10] = [
    b"connection",
    b"transfer-encoding",
    b"keep-alive",
    b"proxy-connection",
    b"upgrade",
    b"content-length",
    b"date",
    b"te",
    b"trailer",
    b"host",
];

/// True when a trailer field may be sent (RFC 9110 §6.5.1): a safe field line
/// ([`is_field_safe`]) whose name is none of `connection`, `transfer-encoding`,
/// `keep-alive`, `proxy-connection`, `upgrade`, `content-length`, `date`, `te`,
/// `trailer`, `host`. Pseudo-fields fail (`:` is not a token character). The same rule
/// filters the names announced in a head's `trailer` field.
pub fn is_trailer_allowed(name: &[u8], value: &[u8]) -> bool {
    is_field_safe(name, value) && !NOT_IN_TRAILERS.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Appends the allowed trailer field lines (`name: value CRLF`, RFC 9112 §7.1.2),
/// dropping the others ([`is_trailer_allowed`]). Returns how many were dropped (a driver
/// that logs each dropped name filters with [`is_trailer_allowed`] itself first).
///
/// This writes the field lines only: a whole ending is [`LAST_CHUNK`], these lines, then
/// `CRLF` (or [`write_last_chunk`] for all three). Serializing only the lines lets a
/// driver keep them aside while a deferred body is still being sent.
pub fn write_trailer_fields<'f>(
    dst: &mut Vec<u8>,
    fields: impl IntoIterator<Item = (&'f [u8], &'f [u8])>,
) -> usize {
    let mut dropped = 0;
    for (name, value) in fields {
        if !is_trailer_allowed(name, value) {
            dropped += 1;
            continue;
        }
        dst.extend_from_slice(name);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value);
        dst.extend_from_slice(b"\r\n");
    }
    dropped
}

/// Appends the end of a chunked body: the last chunk, the allowed trailer fields
/// ([`write_trailer_fields`]) and the final CRLF.
pub fn write_last_chunk(dst: &mut Vec<u8>, trailers: &[(&[u8], &[u8])]) {
    dst.extend_from_slice(LAST_CHUNK);
    write_trailer_fields(dst, trailers.iter().copied());
    dst.extend_from_slice(b"\r\n");
}

/// Finds the end of a message head (its empty line), accepting CRLF and bare LF line
/// ends (the parser then decides whether bare LF is allowed). `from` is where the
/// previous scan of the same, grown buffer stopped (0 the first time; `len - 3` is safe
/// after a miss). Returns the head's length including the empty line.
///
/// ```
/// use shockwave_http11::find_head_end;
/// assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
/// assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n", 0), None);
/// ```
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = memchr::memchr(b'\n', buf.get(i..)?) {
        let lf = i + off;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            Some(_) => i = lf + 1,
            None => return None,
        }
    }
    None
}

/// The fields of a received trailer section, in order, borrowing the framing bytes
/// (see [`parse_trailer_section`]). Values are trimmed of surrounding whitespace.
#[derive(Debug, Clone)]
pub struct TrailerFields<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for TrailerFields<'b> {
    type Item = (&'b [u8], &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The section was validated: every line is `name ":" OWS value OWS` ending in
        // CRLF or LF, up to the empty line.
        let lf = memchr::memchr(b'\n', self.rest)?;
        let line = &self.rest[..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.rest = &[];
            return None;
        }
        self.rest = &self.rest[lf + 1..];
        let colon = memchr::memchr(b':', line)?;
        let value = line[colon + 1..].trim_ascii();
        Some((&line[..colon], value))
    }
}

impl<'b> TrailerFields<'b> {
    /// No fields.
    pub fn empty() -> Self {
        TrailerFields { rest: &[] }
    }

    /// Only the fields a recipient may use as trailers ([`is_trailer_allowed`]): framing,
    /// routing and connection fields are meaningless after the content (RFC 9110
    /// §6.5.1) and must never be merged into the header section (RFC 9112 §7.1.2).
    pub fn allowed(self) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + Clone {
        self.filter(|(n, v)| is_trailer_allowed(n, v))
    }
}

/// Parses the end of a received chunked body: `framing` is what follows the last chunk
/// data (an optional CRLF ending that data, the last-chunk line `0[;ext]`, the trailer
/// field lines and the empty line), exactly as [`crate::BodyDecoder`] consumed it. An
/// empty `framing` has no fields.
///
/// The section is checked with the same rules as a head (RFC 9112 §7.1.2, §5: token
/// names, no whitespace before the colon, no obs-fold, no bare CR, no control bytes in
/// values, bare LF only if `limits.allow_bare_lf`) and bounded by
/// `limits.max_trailer_bytes` / `limits.max_headers`. The fields are returned as they
/// came: keep them apart from the header fields (RFC 9112 §7.1.2), and use
/// [`TrailerFields::allowed`] to drop names that must not appear in trailers.
///
/// ```
/// use shockwave_http11::{parse_trailer_section, Limits};
/// let fields: Vec<_> =
///     parse_trailer_section(b"\r\n0;x=1\r\nA: b \r\nC:d\r\n\r\n", &Limits::default())?
///         .collect();
/// assert_eq!(fields, [(&b"A"[..], &b"b"[..]), (b"C", b"d")]);
/// # Ok::<(), shockwave_http11::Error>(())
/// ```
pub fn parse_trailer_section<'b>(
    framing: &'b [u8],
    limits: &Limits,
) -> Result<TrailerFields<'b>, Error> {
    if framing.is_empty() {
        return Ok(TrailerFields::empty());
    }
    let bare_lf = limits.allow_bare_lf;
    // The CRLF that ended the last chunk's data, when the framing starts there.
    let mut pos = match framing {
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] if bare_lf => 1,
        _ => 0,
    };
    let lf = memchr::memchr(b'\n', &framing[pos..]).ok_or(Error::IncompleteBody)? + pos;
    let line = &framing[pos..lf];
    let line = match line.strip_suffix(b"\r") {
        Some(l) => l,
        None if bare_lf => line,
        None => return Err(Error::BareLf),
    };
    if line.len() > limits.max_chunk_line {
        return Err(Error::ChunkLineTooLong);
    }
    if parse_chunk_line(line)? != 0 {
        return Err(Error::InvalidChunkSize);
    }
    pos = lf + 1;
    let bounds = FieldBounds {
        max_bytes: limits.max_trailer_bytes,
        max_fields: limits.max_headers,
        allow_bare_lf: bare_lf,
        too_large: Error::TrailersTooLarge,
    };
    match parse_fields(framing, pos, bounds, &mut Discard, None)? {
        Status::Complete(end) if end == framing.len() => Ok(TrailerFields {
            rest: &framing[pos..],
        }),
        // Bytes after the empty line are not part of this body.
        Status::Complete(_) => Err(Error::InvalidChunkTerminator),
        Status::Partial => Err(Error::IncompleteBody),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Field<'b> = (&'b [u8], &'b [u8]);

    fn parse(b: &[u8]) -> Result<Vec<Field<'_>>, Error> {
        parse_trailer_section(b, &Limits::default()).map(Iterator::collect)
    }

    #[test]
    fn trailer_section() {
        let got = parse(b"\r\n0;x=1\r\nA: b \r\nC:d\r\n\r\n").unwrap();
        assert_eq!(got, [(&b"A"[..], &b"b"[..]), (b"C", b"d")]);
        assert_eq!(parse(b"0\r\n\r\n").unwrap().len(), 0);
        assert_eq!(parse(b"").unwrap().len(), 0);
        assert_eq!(
            parse(b"0\r\nX: \t\r\n\r\n").unwrap(),
            [(&b"X"[..], &b""[..])]
        );
    }

    #[test]
    fn trailer_section_is_validated() {
        assert_eq!(parse(b"0\r\nA@b: c\r\n\r\n"), Err(Error::InvalidHeaderName));
        assert_eq!(
            parse(b"0\r\nA : c\r\n\r\n"),
            Err(Error::WhitespaceBeforeColon)
        );
        assert_eq!(parse(b"0\r\nA: c\r\n d\r\n\r\n"), Err(Error::ObsFold));
        assert_eq!(parse(b"0\r\nA: c\rd\r\n\r\n"), Err(Error::BareCr));
        assert_eq!(parse(b"0\r\nA: c\n\r\n"), Err(Error::BareLf));
        assert_eq!(
            parse(b"0\r\nA: c\0\r\n\r\n"),
            Err(Error::InvalidHeaderValue)
        );
        assert_eq!(parse(b"5\r\nA: c\r\n\r\n"), Err(Error::InvalidChunkSize));
        assert_eq!(parse(b"0\r\nA: c\r\n"), Err(Error::IncompleteBody));
        assert_eq!(parse(b"0\r\n\r\nX"), Err(Error::InvalidChunkTerminator));
        let many: Vec<u8> = (0..200)
            .flat_map(|i| format!("X{i}: v\r\n").into_bytes())
            .collect();
        let mut section = b"0\r\n".to_vec();
        section.extend_from_slice(&many);
        section.extend_from_slice(b"\r\n");
        assert_eq!(parse(&section), Err(Error::TooManyHeaders));
        let limits = Limits {
            allow_bare_lf: true,
            ..Limits::default()
        };
        let got: Vec<_> = parse_trailer_section(b"\n0\nA: b\n\n", &limits)
            .unwrap()
            .collect();
        assert_eq!(got, [(&b"A"[..], &b"b"[..])]);
    }

    #[test]
    fn allowed_trailers_filter_framing_and_routing_names() {
        let got: Vec<_> = parse_trailer_section(
            b"0\r\nContent-Length: 5\r\nX-Sum: 1\r\nHost: h\r\nTrailer: x\r\n\r\n",
            &Limits::default(),
        )
        .unwrap()
        .allowed()
        .collect();
        assert_eq!(got, [(&b"X-Sum"[..], &b"1"[..])]);
    }

    #[test]
    fn head_end() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(
            find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n", 0),
            Some(25)
        );
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nx", 0), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r", 0), None);
        assert_eq!(find_head_end(b"", 0), None);
        assert_eq!(find_head_end(b"\r\n\r\n", 1), Some(4));
        assert_eq!(find_head_end(b"ab", 5), None);
    }

    #[test]
    fn chunks_and_trailer_fields_serialize() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"hello world, this is 31 bytes!!");
        write_chunk(&mut out, b""); // never a premature last chunk
        assert_eq!(out, b"1f\r\nhello world, this is 31 bytes!!\r\n");
        out.clear();
        let dropped = write_trailer_fields(
            &mut out,
            [
                (&b"grpc-status"[..], &b"0"[..]),
                (b"Transfer-Encoding", b"chunked"),
                (b"TE", b"trailers"),
                (b"trailer", b"x"),
                (b"host", b"evil"),
                (b":path", b"/"),
                (b"bad name", b"v"),
                (b"x-split", b"a\nb"),
                (b"x-nul", b"a\0b"),
                (b"X-Ok", b""),
            ],
        );
        assert_eq!(out, b"grpc-status: 0\r\nX-Ok: \r\n");
        assert_eq!(dropped, 8);
    }
}
