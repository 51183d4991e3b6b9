//! Graceful shutdown under load: many requests in flight (slow handlers, request bodies
//! still arriving, streamed responses) when the shutdown starts. Every request whose
//! handler was entered must get its complete response; idle connections are closed; new
//! connections are refused; the server exits within its grace deadline. HTTP/1.1 over raw
//! sockets, and HTTP/2 (h2c) with a raw frame client that checks the GOAWAY's last stream
//! id (RFC 9113 §6.8: streams up to it are completed, later ones are not processed).

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shockwave::server::{Handler, RequestContext, Response, Server, ServerHandle};

/// Generous bounds only: the test itself takes well under a second.
const WAIT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);

/// Counts handlers entered; slow routes take ~150 ms.
struct Routes {
    entered: Arc<AtomicUsize>,
}

impl Handler for Routes {
    async fn call<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/" => Response::text("Hello, World!"),
            "/slow" => {
                self.entered.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                Response::text("slow done")
            }
            "/echo" => {
                // Entered once the head is parsed; the body is still on its way.
                self.entered.fetch_add(1, SeqCst);
                match cx.body().to_arena().await {
                    Ok(body) => Response::ok().body(body),
                    Err(e) => Response::new(e.status()),
                }
            }
            "/stream" => {
                self.entered.fetch_add(1, SeqCst);
                // A response body that keeps coming after the shutdown began.
                let chunks = futures_util::stream::unfold(0u8, |i| async move {
                    if i == 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(60)).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(format!("part{i};"))),
                        i + 1,
                    ))
                });
                Response::ok().stream(chunks)
            }
            _ => Response::new(http::StatusCode::NOT_FOUND),
        }
    }
}

fn start(workers: usize) -> (ServerHandle, Arc<AtomicUsize>) {
    let entered = Arc::new(AtomicUsize::new(0));
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(workers)
        .shutdown_grace(GRACE)
        .handle_signals(false)
        .start(Routes {
            entered: entered.clone(),
        })
        .expect("server starts");
    (handle, entered)
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for the workers in a thread; fails if they outlive the grace deadline (+ slack).
fn wait_exit(handle: ServerHandle) -> Duration {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(handle.wait());
    });
    let r = rx
        .recv_timeout(GRACE + Duration::from_secs(3))
        .expect("the server exits within its grace deadline");
    r.expect("workers exit cleanly");
    start.elapsed()
}

/// After a shutdown began: connecting is refused (once the listeners are closed, which
/// happens right away), and no connection made meanwhile is ever served.
fn assert_new_connections_refused(addr: SocketAddr) {
    let start = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
                return;
            }
            Ok(mut s) => {
                s.set_read_timeout(Some(WAIT)).unwrap();
                let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                assert!(
                    got.is_empty(),
                    "a connection made after the shutdown began was served: {:?}",
                    String::from_utf8_lossy(&got)
                );
            }
        }
        assert!(start.elapsed() < WAIT, "still accepting connections");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one complete response (Content-Length, chunked or close-delimited): (status,
/// lower-cased head, body). Panics on a truncated response.
fn read_h1(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    let fill = |s: &mut TcpStream, buf: &mut Vec<u8>| -> bool {
        let mut tmp = [0u8; 16 * 1024];
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    };
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p + 4;
        }
        assert!(
            fill(s, buf),
            "connection closed before a response head: {:?}",
            String::from_utf8_lossy(buf)
        );
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    buf.drain(..head_end);
    let status: u16 = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|v| v.trim().parse::<usize>().unwrap());
    let mut body = Vec::new();
    if head.contains("transfer-encoding: chunked") {
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                assert!(fill(s, buf), "truncated chunked body");
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                assert!(fill(s, buf), "truncated chunk");
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        while buf.len() < n {
            assert!(fill(s, buf), "truncated body: {} of {n} bytes", buf.len());
        }
        body = buf.drain(..n).collect();
    } else {
        while fill(s, buf) {}
        body = std::mem::take(buf);
    }
    (status, head, body)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// The in-flight request a client thread sends.
enum Kind {
    Slow,
    SlowBody,
    Stream,
}

#[test]
fn http1_in_flight_requests_all_complete() {
    const EACH: usize = 12;
    let (handle, entered) = start(2);
    let addr = handle.local_addr();
    let go = Arc::new(AtomicBool::new(false));

    // Idle keep-alive connections: served once, then waiting when the shutdown begins.
    let mut idle: Vec<(TcpStream, Vec<u8>)> = (0..6)
        .map(|_| {
            let mut s = connect(addr);
            let mut buf = Vec::new();
            s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
            let (status, _, body) = read_h1(&mut s, &mut buf);
            assert_eq!((status, &body[..]), (200, &b"Hello, World!"[..]));
            (s, buf)
        })
        .collect();

    let mut clients = Vec::new();
    for i in 0..3 * EACH {
        let kind = match i % 3 {
            0 => Kind::Slow,
            1 => Kind::SlowBody,
            _ => Kind::Stream,
        };
        let go = go.clone();
        clients.push(std::thread::spawn(move || {
            let mut s = connect(addr);
            let mut buf = Vec::new();
            let want: Vec<u8> = match kind {
                Kind::Slow => {
                    s.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
                        .unwrap();
                    b"slow done".to_vec()
                }
                Kind::Stream => {
                    s.write_all(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
                        .unwrap();
                    b"part0;part1;part2;".to_vec()
                }
                Kind::SlowBody => {
                    let body: Vec<u8> = (0..40_000u32).map(|n| (n % 251) as u8).collect();
                    s.write_all(
                        format!(
                            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .unwrap();
                    s.write_all(&body[..10_000]).unwrap();
                    // The rest only after the shutdown began.
                    while !go.load(SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    for part in body[10_000..].chunks(10_000) {
                        std::thread::sleep(Duration::from_millis(20));
                        s.write_all(part).unwrap();
                    }
                    body
                }
            };
            // A streamed head went out before the shutdown began (so it could not say
            // `connection: close`); the others are written after it.
            let head_before_shutdown = matches!(kind, Kind::Stream);
            let (status, head, body) = read_h1(&mut s, &mut buf);
            // In flight at shutdown: answered, then the connection closes.
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
            let closed = buf.is_empty() && rest.is_empty();
            (status, head, body == want, closed, head_before_shutdown)
        }));
    }

    // Every request is in its handler: now shut down.
    wait_for("all handlers entered", || entered.load(SeqCst) == 3 * EACH);
    let shutdown_at = Instant::now();
    handle.shutdown();
    go.store(true, SeqCst);

    assert_new_connections_refused(addr);
    for (s, buf) in &mut idle {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(
            buf.is_empty() && rest.is_empty(),
            "idle connections are closed without an answer"
        );
    }
    let mut complete = 0;
    for c in clients {
        let (status, head, body_ok, then_closed, head_before_shutdown) =
            c.join().expect("client thread");
        assert_eq!(status, 200, "{head}");
        assert!(body_ok, "complete body: {head}");
        assert!(
            head_before_shutdown || head.contains("connection: close"),
            "{head}"
        );
        assert!(then_closed, "nothing after the last response");
        complete += 1;
    }
    assert_eq!(complete, 3 * EACH, "no in-flight request dropped");
    wait_exit(handle);
    assert!(
        shutdown_at.elapsed() < GRACE,
        "finished before the deadline"
    );
}

// ---------------------------------------------------------------------------------------
// HTTP/2 (h2c with prior knowledge), raw frames (RFC 9113 §4.1, §6).

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(out: &mut Vec<u8>, ty: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(ty);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A request block from the static table (RFC 7541 Appendix A), literal values without
/// indexing (§6.2.2).
fn block(method: u8, path: &str, content_length: Option<usize>) -> Vec<u8> {
    let mut b = vec![method, 0x86]; // :method, :scheme http
    let mut literal = |index: u8, value: &[u8]| {
        b.push(index);
        b.push(value.len() as u8);
        b.extend_from_slice(value);
    };
    literal(4, path.as_bytes());
    literal(1, b"localhost");
    if let Some(n) = content_length {
        // content-length is static index 28: 15 + 13 in a 4-bit prefix.
        b.extend_from_slice(&[0x0f, 13]);
        let v = n.to_string();
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    }
    b
}

#[derive(Default, Debug)]
struct Stream {
    status: Option<String>,
    body: Vec<u8>,
    ended: bool,
    reset: Option<u32>,
}

#[test]
fn http2_goaway_last_stream_id_and_streams_below_it_complete() {
    let (handle, entered) = start(1);
    let addr = handle.local_addr();
    let mut s = connect(addr);
    let mut out = PREFACE.to_vec();
    frame(&mut out, 0x4, 0, 0, &[]); // SETTINGS
    frame(&mut out, 0x8, 0, 0, &(8u32 << 20).to_be_bytes()); // WINDOW_UPDATE
    let echo: Vec<u8> = (0..6000u32).map(|n| (n % 253) as u8).collect();
    let mut want = BTreeMap::new();
    for i in 0..24u32 {
        let id = 1 + 2 * i;
        match i % 3 {
            0 => {
                frame(&mut out, 0x1, 0x4 | 0x1, id, &block(0x82, "/slow", None));
                want.insert(id, b"slow done".to_vec());
            }
            1 => {
                frame(&mut out, 0x1, 0x4 | 0x1, id, &block(0x82, "/stream", None));
                want.insert(id, b"part0;part1;part2;".to_vec());
            }
            _ => {
                // Half the body now, the rest after the GOAWAY.
                frame(
                    &mut out,
                    0x1,
                    0x4,
                    id,
                    &block(0x83, "/echo", Some(echo.len())),
                );
                frame(&mut out, 0x0, 0, id, &echo[..3000]);
                want.insert(id, echo.clone());
            }
        }
    }
    let last_sent = 1 + 2 * 23;
    s.write_all(&out).unwrap();
    wait_for("all handlers entered", || {
        entered.load(SeqCst) == want.len()
    });
    handle.shutdown();

    let mut streams: BTreeMap<u32, Stream> = BTreeMap::new();
    let mut decoder = shockwave_hpack::Decoder::new();
    let mut goaway: Option<(u32, u32)> = None;
    let mut after_goaway_sent = false;
    let mut head = [0u8; 9];
    loop {
        match s.read_exact(&mut head) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
                ) =>
            {
                break
            }
            Err(e) => panic!("read: {e} (streams so far: {streams:?})"),
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (ty, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).unwrap();
        let mut reply = Vec::new();
        match ty {
            0x0 => {
                let st = streams.entry(id).or_default();
                st.body.extend_from_slice(&payload);
                st.ended |= flags & 0x1 != 0;
                if len > 0 {
                    frame(&mut reply, 0x8, 0, id, &(len as u32).to_be_bytes());
                }
            }
            0x1 => {
                assert!(flags & 0x4 != 0, "response heads fit one frame here");
                let st = streams.entry(id).or_default();
                decoder
                    .decode(&payload, |n, v| {
                        if n == b":status" {
                            st.status = Some(String::from_utf8_lossy(v).into_owned());
                        }
                    })
                    .unwrap();
                st.ended |= flags & 0x1 != 0;
            }
            0x3 => {
                streams.entry(id).or_default().reset =
                    Some(u32::from_be_bytes(payload[..4].try_into().unwrap()))
            }
            0x4 if flags & 0x1 == 0 => frame(&mut reply, 0x4, 0x1, 0, &[]),
            0x6 if flags & 0x1 == 0 => frame(&mut reply, 0x6, 0x1, 0, &payload),
            0x7 => {
                let last = u32::from_be_bytes(payload[..4].try_into().unwrap()) & 0x7fff_ffff;
                let code = u32::from_be_bytes(payload[4..8].try_into().unwrap());
                goaway = Some((last, code));
                if !after_goaway_sent {
                    after_goaway_sent = true;
                    // The uploads' second halves, and a new stream past the last id.
                    for (id, _) in want.iter().filter(|(id, _)| (*id - 1) / 2 % 3 == 2) {
                        frame(&mut reply, 0x0, 0x1, *id, &echo[3000..]);
                    }
                    frame(
                        &mut reply,
                        0x1,
                        0x4 | 0x1,
                        last_sent + 2,
                        &block(0x82, "/", None),
                    );
                }
            }
            _ => {}
        }
        if !reply.is_empty() {
            let _ = s.write_all(&reply);
        }
    }
    let (last, code) = goaway.expect("a GOAWAY on shutdown");
    assert_eq!(code, 0, "NO_ERROR");
    assert_eq!(
        last, last_sent,
        "the last stream id covers every stream in flight"
    );
    for (id, body) in &want {
        let st = streams
            .get(id)
            .unwrap_or_else(|| panic!("stream {id} unanswered"));
        assert_eq!(st.status.as_deref(), Some("200"), "stream {id}: {st:?}");
        assert!(st.ended && st.reset.is_none(), "stream {id}: {st:?}");
        assert_eq!(&st.body, body, "stream {id} body");
    }
    let late = streams.get(&(last_sent + 2));
    assert!(
        late.is_none_or(|st| st.status.is_none()),
        "a stream above the GOAWAY's last id was processed: {late:?}"
    );
    assert_new_connections_refused(addr);
    wait_exit(handle);
}
