//! The sans-I/O body decoder: Content-Length, chunked (RFC 9112 §7.1) and
//! read-until-close bodies, yielding slices of the caller's buffer.

use crate::parse::{parse_fields, Discard, FieldBounds, Status};
use crate::tables::TOKEN;
use crate::{BodyFraming, Error, Limits};

/// One step of body decoding: `data` borrows the input passed to
/// [`BodyDecoder::decode`] (zero copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyChunk<'b> {
    /// Bytes of the input this step used (framing plus `data`); drop them from the
    /// front of the buffer before the next call.
    pub consumed: usize,
    /// Body bytes (possibly empty).
    pub data: &'b [u8],
    /// True once the body is complete; bytes after `consumed` belong to the next message.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Length(u64),
    Close,
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Inside the trailer section, this many bytes read so far.
    Trailers(usize),
}

/// Decodes a message body from successive buffers without copying.
///
/// Call [`decode`](Self::decode) in a loop on the unconsumed input: each call returns
/// how many bytes it used and the body bytes among them. `consumed == 0 && !done`
/// means "need more bytes". The decoder keeps no buffer of its own: a chunk-size line
/// or trailer line split across reads is simply not consumed until it is whole.
///
/// ```
/// use shockwave_http11::{BodyDecoder, BodyFraming, Limits};
///
/// let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
/// let mut input: &[u8] = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
/// let mut body = Vec::new();
/// loop {
///     let step = dec.decode(input).unwrap();
///     body.extend_from_slice(step.data);
///     input = &input[step.consumed..];
///     if step.done { break; }
///     assert!(step.consumed > 0, "the whole body is in the input");
/// }
/// assert_eq!(body, b"hello world");
/// assert_eq!(input, b"NEXT");
/// ```
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    allow_bare_lf: bool,
    max_chunk_line: usize,
    max_trailer_bytes: usize,
    trailer_fields: usize,
}

impl BodyDecoder {
    /// A decoder for a body with this framing, bounded by `limits`' chunk-line and
    /// trailer limits.
    pub fn new(framing: BodyFraming, limits: &Limits) -> Self {
        let state = match framing {
            BodyFraming::Empty | BodyFraming::Length(0) => State::Done,
            BodyFraming::Length(n) => State::Length(n),
            BodyFraming::Chunked => State::Size,
            BodyFraming::CloseDelimited => State::Close,
        };
        BodyDecoder {
            state,
            allow_bare_lf: limits.allow_bare_lf,
            max_chunk_line: limits.max_chunk_line,
            max_trailer_bytes: limits.max_trailer_bytes,
            trailer_fields: limits.max_headers,
        }
    }

    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// For a Content-Length body, the bytes still expected; for chunked, the bytes left
    /// in the current chunk (0 between chunks).
    pub fn remaining_hint(&self) -> u64 {
        match self.state {
            State::Length(n) | State::Data(n) => n,
            _ => 0,
        }
    }

    /// Decodes from `input` (the bytes not yet consumed). See the type docs.
    #[inline]
    pub fn decode<'b>(&mut self, input: &'b [u8]) -> Result<BodyChunk<'b>, Error> {
        match self.state {
            State::Size | State::Data(_) => self.decode_chunked(input),
            _ => self.decode_from(input, 0, &[]),
        }
    }

    /// The common chunked case as straight-line code (size line, data, CRLF, next size
    /// line, empty trailer section), with no state dispatch between the steps; anything
    /// unusual (a split line end, bare LF, trailer fields) continues in
    /// [`Self::decode_from`], which implements the whole grammar.
    #[inline]
    fn decode_chunked<'b>(&mut self, input: &'b [u8]) -> Result<BodyChunk<'b>, Error> {
        let (mut pos, left) = match self.state {
            State::Data(left) => (0, left),
            _ => match self.size_line(input)? {
                None => return Ok(chunk(0, &[], false)),
                Some((0, n)) => {
                    self.state = State::Trailers(0);
                    return self.decode_from(input, n, &[]);
                }
                Some((size, n)) => (n, size),
            },
        };
        let avail = input.len() - pos;
        if avail == 0 {
            self.state = State::Data(left);
            return Ok(chunk(pos, &[], false));
        }
        let n = take(left, avail);
        let data = &input[pos..pos + n];
        pos += n;
        let left = left - n as u64;
        if left > 0 {
            self.state = State::Data(left);
            return Ok(chunk(pos, data, false));
        }
        // The CRLF after the data (RFC 9112 §7.1).
        if input.get(pos..pos + 2) != Some(b"\r\n") {
            self.state = State::DataEnd;
            return self.decode_from(input, pos, data);
        }
        pos += 2;
        match self.size_line(&input[pos..])? {
            None => {
                self.state = State::Size;
                Ok(chunk(pos, data, false))
            }
            Some((0, n)) => {
                pos += n;
                // Nearly always no trailer fields: just the final CRLF.
                if input.get(pos..pos + 2) == Some(b"\r\n") {
                    self.state = State::Done;
                    return Ok(chunk(pos + 2, data, true));
                }
                self.state = State::Trailers(0);
                self.decode_from(input, pos, data)
            }
            Some((size, n)) => {
                self.state = State::Data(size);
                Ok(chunk(pos + n, data, false))
            }
        }
    }

    /// A chunk-size line at the start of `rest`: `(size, line length)`, `None` if
    /// incomplete.
    #[inline(always)]
    fn size_line(&self, rest: &[u8]) -> Result<Option<(u64, usize)>, Error> {
        // Fast path: hex digits then CRLF, no extension (nearly every chunk). At most
        // 16 digits here; a 17th goes to the full parser, which reports the overflow.
        let mut size: u64 = 0;
        let mut i = 0;
        let digits = rest.len().min(16);
        while i < digits {
            let v = HEX[rest[i] as usize];
            if v == 0xff {
                break;
            }
            size = size << 4 | u64::from(v);
            i += 1;
        }
        if i > 0 && rest.get(i..i + 2) == Some(b"\r\n") {
            return Ok(Some((size, i + 2)));
        }
        self.chunk_line(rest)
    }

    /// The general decoder: continues at `pos` with `data` already taken in this call.
    fn decode_from<'b>(
        &mut self,
        input: &'b [u8],
        mut pos: usize,
        mut data: &'b [u8],
    ) -> Result<BodyChunk<'b>, Error> {
        // At most one chunk's data per call; the framing after it (CRLF, the next
        // size line, even the trailers) is consumed in the same call when present,
        // which halves the calls per body.
        loop {
            match self.state {
                State::Done => return Ok(chunk(pos, data, true)),
                State::Close => return Ok(chunk(input.len(), input, false)),
                State::Length(left) => {
                    let n = take(left, input.len());
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    return Ok(chunk(n, &input[..n], left == 0));
                }
                State::Size => {
                    let Some((size, line_len)) = self.size_line(&input[pos..])? else {
                        return Ok(chunk(pos, data, false));
                    };
                    pos += line_len;
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    let avail = input.len() - pos;
                    if avail == 0 || !data.is_empty() {
                        return Ok(chunk(pos, data, false));
                    }
                    let n = take(left, avail);
                    data = &input[pos..pos + n];
                    pos += n;
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = State::Data(left);
                        return Ok(chunk(pos, data, false));
                    }
                    self.state = State::DataEnd;
                }
                State::DataEnd => {
                    match crate::parse::line_end_at(input, pos, self.allow_bare_lf)? {
                        Some(next) => {
                            pos = next;
                            self.state = State::Size;
                        }
                        None => return Ok(chunk(pos, data, false)),
                    }
                }
                State::Trailers(seen) => {
                    let budget = self.max_trailer_bytes.saturating_sub(seen);
                    // Fast path: the whole (usually empty) trailer section is here.
                    let bounds = FieldBounds {
                        max_bytes: budget,
                        max_fields: self.trailer_fields,
                        allow_bare_lf: self.allow_bare_lf,
                        too_large: Error::TrailersTooLarge,
                    };
                    if let Status::Complete(end) =
                        parse_fields(input, pos, bounds, &mut Discard, None)?
                    {
                        self.state = State::Done;
                        return Ok(chunk(end, data, true));
                    }
                    // Otherwise one field line at a time, so a trailer section split
                    // across reads needs no buffering here.
                    let line_end = match memchr::memchr(b'\n', &input[pos..]) {
                        Some(lf) => pos + lf + 1,
                        None => {
                            if input.len() - pos > budget {
                                return Err(Error::TrailersTooLarge);
                            }
                            return Ok(chunk(pos, data, false));
                        }
                    };
                    if line_end - pos > budget {
                        return Err(Error::TrailersTooLarge);
                    }
                    let line = &input[pos..line_end];
                    let is_empty_line = line == b"\r\n" || (line == b"\n" && self.allow_bare_lf);
                    if is_empty_line {
                        self.state = State::Done;
                        return Ok(chunk(line_end, data, true));
                    }
                    if self.trailer_fields == 0 {
                        return Err(Error::TooManyHeaders);
                    }
                    self.trailer_fields -= 1;
                    // Validate the one field line: parse it followed by an empty line
                    // would need a copy, so parse it as a section of exactly one field
                    // whose end we already know.
                    match parse_fields(
                        &input[..line_end],
                        pos,
                        FieldBounds {
                            max_bytes: line_end - pos,
                            max_fields: 1,
                            allow_bare_lf: self.allow_bare_lf,
                            too_large: Error::TrailersTooLarge,
                        },
                        &mut Discard,
                        None,
                    ) {
                        // The section ends at line_end without its empty line: Partial
                        // means the field line itself was valid.
                        Ok(Status::Partial) => {}
                        Ok(Status::Complete(_)) => return Err(Error::InvalidHeaderName),
                        Err(e) => return Err(e),
                    }
                    pos = line_end;
                    self.state = State::Trailers(seen + line.len());
                }
            }
        }
    }

    /// A whole chunk-size line at the start of `rest` (any form): `(size, line length
    /// including its end)`, or `None` if it is not complete yet.
    fn chunk_line(&self, rest: &[u8]) -> Result<Option<(u64, usize)>, Error> {
        let window = &rest[..rest.len().min(self.max_chunk_line.saturating_add(2))];
        // Chunk lines are short: a byte loop beats a memchr call here.
        let Some(lf) = window.iter().position(|&b| b == b'\n') else {
            if rest.len() > self.max_chunk_line.saturating_add(1) {
                return Err(Error::ChunkLineTooLong);
            }
            return Ok(None);
        };
        let line = match lf.checked_sub(1).map(|i| rest[i]) {
            Some(b'\r') => &rest[..lf - 1],
            _ if self.allow_bare_lf => &rest[..lf],
            _ => return Err(Error::BareLf),
        };
        if line.len() > self.max_chunk_line {
            return Err(Error::ChunkLineTooLong);
        }
        Ok(Some((parse_chunk_line(line)?, lf + 1)))
    }

    /// The peer closed the connection: `Ok` if the body is complete, or if it was
    /// close-delimited (which completes it); otherwise [`Error::IncompleteBody`].
    pub fn finish_at_eof(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::Close => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(Error::IncompleteBody),
        }
    }
}

#[inline(always)]
fn chunk(consumed: usize, data: &[u8], done: bool) -> BodyChunk<'_> {
    BodyChunk {
        consumed,
        data,
        done,
    }
}

#[inline(always)]
fn take(left: u64, avail: usize) -> usize {
    usize::try_from(left).map_or(avail, |l| l.min(avail))
}

/// Hex digit values; 0xFF marks a non-digit.
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0xff,
        };
        i += 1;
    }
    t
};

#[inline(always)]
fn hex_value(c: u8) -> Option<u8> {
    let v = HEX[c as usize];
    (v != 0xff).then_some(v)
}

/// `chunk-size [ chunk-ext ]` without the line end (RFC 9112 §7.1, §7.1.1):
/// `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
pub(crate) fn parse_chunk_line(line: &[u8]) -> Result<u64, Error> {
    // A CR is valid nowhere in the grammar, so a line with one always fails it: the
    // (rarer) error path reports it as a bare CR, and valid lines are scanned once.
    parse_chunk_line_grammar(line).map_err(|e| {
        if line.contains(&b'\r') {
            Error::BareCr
        } else {
            e
        }
    })
}

#[inline(always)]
fn parse_chunk_line_grammar(line: &[u8]) -> Result<u64, Error> {
    let mut size: u64 = 0;
    let mut i = 0;
    while i < line.len() {
        let Some(d) = hex_value(line[i]) else { break };
        if size >> 60 != 0 {
            return Err(Error::ChunkSizeOverflow);
        }
        size = size << 4 | u64::from(d);
        i += 1;
    }
    if i == 0 {
        return Err(Error::InvalidChunkSize);
    }
    let ws = |i: &mut usize| {
        while *i < line.len() && matches!(line[*i], b' ' | b'\t') {
            *i += 1;
        }
    };
    while i < line.len() {
        ws(&mut i);
        if i >= line.len() || line[i] != b';' {
            // Whitespace or garbage after the size without an extension ("5 ", "5x"):
            // lenient parsers disagree here, a smuggling vector.
            return Err(Error::InvalidChunkSize);
        }
        i += 1;
        ws(&mut i);
        let name_start = i;
        while i < line.len() && TOKEN[line[i] as usize] {
            i += 1;
        }
        if i == name_start {
            return Err(Error::InvalidChunkExtension);
        }
        ws(&mut i);
        if i < line.len() && line[i] == b'=' {
            i += 1;
            ws(&mut i);
            if i < line.len() && line[i] == b'"' {
                i = quoted_string_end(line, i + 1)?;
            } else {
                let v = i;
                while i < line.len() && TOKEN[line[i] as usize] {
                    i += 1;
                }
                if i == v {
                    return Err(Error::InvalidChunkExtension);
                }
            }
            ws(&mut i);
        }
    }
    Ok(size)
}

/// From just after an opening quote, returns the index after the closing quote
/// (RFC 9110 §5.6.4: qdtext / quoted-pair).
fn quoted_string_end(line: &[u8], mut i: usize) -> Result<usize, Error> {
    let qd = |c: u8| {
        c == b'\t'
            || c == b' '
            || c == 0x21
            || (0x23..=0x5b).contains(&c)
            || (0x5d..=0x7e).contains(&c)
            || c >= 0x80
    };
    while i < line.len() {
        match line[i] {
            b'"' => return Ok(i + 1),
            b'\\' => {
                let c = *line.get(i + 1).ok_or(Error::InvalidChunkExtension)?;
                if !(c == b'\t' || c == b' ' || (0x21..=0x7e).contains(&c) || c >= 0x80) {
                    return Err(Error::InvalidChunkExtension);
                }
                i += 2;
            }
            c if qd(c) => i += 1,
            _ => return Err(Error::InvalidChunkExtension),
        }
    }
    Err(Error::InvalidChunkExtension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lines() {
        assert_eq!(parse_chunk_line(b"0"), Ok(0));
        assert_eq!(parse_chunk_line(b"1aF"), Ok(0x1af));
        assert_eq!(parse_chunk_line(b"5;a"), Ok(5));
        assert_eq!(parse_chunk_line(b"5 ; a = b ;c=\"x\\\"y\""), Ok(5));
        assert_eq!(parse_chunk_line(b"ffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(
            parse_chunk_line(b"10000000000000000"),
            Err(Error::ChunkSizeOverflow)
        );
        assert_eq!(parse_chunk_line(b""), Err(Error::InvalidChunkSize));
        assert_eq!(parse_chunk_line(b"5 "), Err(Error::InvalidChunkSize));
        assert_eq!(parse_chunk_line(b"-5"), Err(Error::InvalidChunkSize));
        assert_eq!(parse_chunk_line(b"0x5"), Err(Error::InvalidChunkSize));
        assert_eq!(parse_chunk_line(b"5;"), Err(Error::InvalidChunkExtension));
        assert_eq!(
            parse_chunk_line(b"5;a=\"x"),
            Err(Error::InvalidChunkExtension)
        );
        assert_eq!(
            parse_chunk_line(b"5;a=\x01"),
            Err(Error::InvalidChunkExtension)
        );
        assert_eq!(parse_chunk_line(b"5\r"), Err(Error::BareCr));
    }
}
