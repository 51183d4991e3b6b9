//! Static files: [`StaticFiles`] serves a directory with `Range`, `ETag` /
//! `If-None-Match`, `Content-Type` by extension, and no path traversal.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use http::{Method, StatusCode};
use shockwave_arena::Arena;

use super::request::Request;
use super::response::{FileBody, Response};

/// Serves files below a root directory.
///
/// With the `compression` feature, a file with a precompressed sibling (`app.js.br`,
/// `app.js.zst`, `app.js.gz`, made at build time with the best settings) is answered
/// with the sibling when the request's `Accept-Encoding` accepts its coding (the choice
/// follows [`Compression::negotiate`](super::Compression::negotiate): `br` > `zstd` >
/// `gzip` on ties). The answer has the original's `Content-Type`, `Content-Encoding`,
/// `Vary: Accept-Encoding`, and the sibling's own `ETag` (so the variants validate
/// separately). Range requests are always answered from the original file, so byte
/// ranges never mix representations; they still carry `Vary`. Turn this off with
/// [`StaticFiles::precompressed`].
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    precompressed: bool,
}

impl StaticFiles {
    /// Files below `root` (canonicalized now: it must exist).
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<StaticFiles> {
        Ok(StaticFiles {
            root: root.as_ref().canonicalize()?,
            precompressed: true,
        })
    }

    /// Serve precompressed siblings (`.br`, `.zst`, `.gz`) when the client accepts
    /// them (default true; only with the `compression` feature).
    pub fn precompressed(mut self, enabled: bool) -> StaticFiles {
        self.precompressed = enabled;
        self
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answers `GET`/`HEAD` for `rel` (the URL path below the mount point, still
    /// percent-encoded). 404 for anything missing or outside the root, 405 for other
    /// methods, 304 on a matching `If-None-Match`, 206/416 for `Range`.
    pub fn serve<'a>(&self, req: &Request<'a>, arena: &'a Arena, rel: &str) -> Response<'a> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Response::new(StatusCode::METHOD_NOT_ALLOWED).header("allow", "GET, HEAD");
        }
        let Some(path) = self.resolve(rel) else {
            return Response::new(StatusCode::NOT_FOUND);
        };
        let variant = self.variant(req, &path);
        let Ok(file) = std::fs::File::open(variant.path.as_ref().unwrap_or(&path)) else {
            return Response::new(StatusCode::NOT_FOUND);
        };
        let Ok(meta) = file.metadata() else {
            return Response::new(StatusCode::NOT_FOUND);
        };
        if !meta.is_file() {
            return Response::new(StatusCode::NOT_FOUND);
        }
        let len = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let mut tmp = [0u8; 64];
        let etag = {
            let mut w = &mut tmp[..];
            let _ = write!(w, "\"{len:x}-{mtime:x}\"");
            let used = 64 - w.len();
            match arena.alloc_bytes(&tmp[..used]) {
                Ok(e) => &*e,
                Err(_) => return Response::new(StatusCode::INTERNAL_SERVER_ERROR),
            }
        };
        let ctype = content_type(&path);
        // RFC 9110 §13.1.2: If-None-Match with a matching (weak comparison) tag → 304.
        if let Some(inm) = req.header("if-none-match") {
            let matches = inm.split(|b| *b == b',').any(|t| {
                let t = t.trim_ascii();
                t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == etag
            });
            if matches {
                return variant
                    .mark(Response::new(StatusCode::NOT_MODIFIED).with_arena(arena))
                    .header("etag", etag);
            }
        }
        let base = |r: Response<'a>| {
            variant
                .mark(r.with_arena(arena))
                .header("content-type", ctype)
                .header("etag", etag)
                .header("accept-ranges", "bytes")
        };
        // RFC 9110 §14.2: a single byte range (multiple ranges are answered with 200).
        if let Some(range) = req.header("range") {
            if if_range_ok(req, etag) {
                match parse_range(range, len) {
                    Some(Ok((start, end))) => {
                        let mut w = &mut tmp[..];
                        let _ = write!(w, "bytes {start}-{end}/{len}");
                        let used = 64 - w.len();
                        let Ok(cr) = arena.alloc_bytes(&tmp[..used]) else {
                            return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
                        };
                        let cr: &'a [u8] = cr;
                        return base(Response::new(StatusCode::PARTIAL_CONTENT))
                            .header("content-range", cr)
                            .body(FileBody::range(file, start, end - start + 1));
                    }
                    Some(Err(())) => {
                        let mut w = &mut tmp[..];
                        let _ = write!(w, "bytes */{len}");
                        let used = 64 - w.len();
                        let Ok(cr) = arena.alloc_bytes(&tmp[..used]) else {
                            return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
                        };
                        let cr: &'a [u8] = cr;
                        return Response::new(StatusCode::RANGE_NOT_SATISFIABLE)
                            .header("content-range", cr);
                    }
                    None => {}
                }
            }
        }
        base(Response::ok()).body(FileBody::range(file, 0, len))
    }

    /// Which file answers `req` for `path`: a precompressed sibling or the file itself.
    #[cfg(feature = "compression")]
    fn variant(&self, req: &Request<'_>, path: &Path) -> Variant {
        use crate::codec::Encoding;
        let mut v = Variant::default();
        if !self.precompressed || !path.is_file() {
            return v;
        }
        let mut found: [Option<(Encoding, PathBuf)>; 3] = [None, None, None];
        let mut order = [Encoding::Brotli; 3];
        let mut n = 0;
        for e in [Encoding::Brotli, Encoding::Zstd, Encoding::Gzip] {
            let Some(suffix) = e.file_suffix() else {
                continue;
            };
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let sibling = PathBuf::from(name);
            // The sibling must be a regular file inside the root (no symlink escape).
            let ok = sibling
                .canonicalize()
                .is_ok_and(|c| c.starts_with(&self.root) && c.is_file());
            if ok {
                found[n] = Some((e, sibling));
                order[n] = e;
                n += 1;
            }
        }
        if n == 0 {
            return v;
        }
        v.vary = true;
        if req.header("range").is_some() {
            return v;
        }
        let chosen = super::Compression::new()
            .encodings(&order[..n])
            .negotiate_fields(req.headers().get_all(b"accept-encoding"));
        if let Some(chosen) = chosen {
            let hit = found.iter_mut().flatten().find(|(e, _)| *e == chosen);
            if let Some((e, p)) = hit {
                v.coding = Some(e.as_str());
                v.path = Some(std::mem::take(p));
            }
        }
        v
    }

    /// Without the `compression` feature the file itself answers.
    #[cfg(not(feature = "compression"))]
    fn variant(&self, _req: &Request<'_>, _path: &Path) -> Variant {
        let _ = self.precompressed;
        Variant::default()
    }

    /// Maps a URL path to a file below the root, or `None` if it would leave the root
    /// (`..`, encoded separators, NUL, symlinks pointing outside).
    pub fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let decoded = percent_decode(rel)?;
        let mut path = self.root.clone();
        for seg in decoded.split('/') {
            if seg.is_empty() || seg == "." {
                continue;
            }
            if seg == ".." || seg.contains('\\') || seg.contains('\0') {
                return None;
            }
            path.push(seg);
        }
        let canonical = path.canonicalize().ok()?;
        canonical.starts_with(&self.root).then_some(canonical)
    }
}

/// The representation [`StaticFiles::serve`] answers with.
#[derive(Default)]
struct Variant {
    /// The precompressed sibling to send instead of the file.
    path: Option<PathBuf>,
    /// Its `Content-Encoding`.
    coding: Option<&'static str>,
    /// Siblings exist: the answer depends on `Accept-Encoding`.
    vary: bool,
}

impl Variant {
    fn mark<'a>(&self, mut r: Response<'a>) -> Response<'a> {
        if let Some(coding) = self.coding {
            r = r.header("content-encoding", coding);
        }
        if self.vary {
            r = r.header("vary", "accept-encoding");
        }
        r
    }
}

fn if_range_ok(req: &Request<'_>, etag: &[u8]) -> bool {
    // RFC 9110 §13.1.5: a Range with a non-matching If-Range is ignored.
    req.header("if-range")
        .is_none_or(|v| v.trim_ascii() == etag)
}

/// `Some(Ok((first, last)))` for one satisfiable range, `Some(Err(()))` for an
/// unsatisfiable one, `None` to ignore the header (malformed or several ranges).
fn parse_range(value: &[u8], len: u64) -> Option<Result<(u64, u64), ()>> {
    let v = std::str::from_utf8(value).ok()?.trim();
    let spec = v.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix range: the last `b` bytes.
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        let n = n.min(len);
        return Some(Ok((len - n, len - 1)));
    }
    let first: u64 = a.parse().ok()?;
    let last: u64 = if b.is_empty() {
        u64::MAX
    } else {
        b.parse().ok()?
    };
    if last < first {
        return None;
    }
    if first >= len {
        return Some(Err(()));
    }
    Some(Ok((first, last.min(len - 1))))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if b == b'/' || b == b'\\' || b == 0 {
                return None;
            }
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `Content-Type` by file extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" => "video/mp4",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(b"bytes=0-4", 10), Some(Ok((0, 4))));
        assert_eq!(parse_range(b"bytes=5-", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range(b"bytes=-3", 10), Some(Ok((7, 9))));
        assert_eq!(parse_range(b"bytes=-30", 10), Some(Ok((0, 9))));
        assert_eq!(parse_range(b"bytes=8-100", 10), Some(Ok((8, 9))));
        assert_eq!(parse_range(b"bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range(b"bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range(b"items=0-1", 10), None);
        assert_eq!(parse_range(b"bytes=5-2", 10), None);
    }

    #[test]
    fn traversal_is_refused() {
        let dir = std::env::temp_dir().join(format!("sw-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.txt"), b"a").unwrap();
        let files = StaticFiles::new(&dir).unwrap();
        assert!(files.resolve("sub/a.txt").is_some());
        assert!(files.resolve("sub/%61.txt").is_some());
        assert!(files.resolve("../etc/passwd").is_none());
        assert!(files.resolve("sub/../../x").is_none());
        assert!(files.resolve("%2e%2e/x").is_none());
        assert!(files.resolve("sub%2fa.txt").is_none());
        assert!(files.resolve("sub/%00").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
