//! The field-count cap on HTTP/2 against the full server (`shockwave::server::Server`)
//! over raw h2c frames: [`ServerLimits::max_headers`](shockwave::server::ServerLimits)
//! governs HTTP/2 too. A request with one field too many is answered `431` on its
//! stream (like a header list over SETTINGS_MAX_HEADER_LIST_SIZE) and the connection
//! goes on serving.

mod http2_support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use http2_support::{read_frames, Client, F};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Server, ServerHandle};

fn start(max_headers: Option<usize>) -> ServerHandle {
    let mut b = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .shutdown_grace(Duration::from_secs(2))
        .handle_signals(false);
    if let Some(n) = max_headers {
        b = b.max_headers(n);
    }
    b.start(DefaultRoutes::new()).unwrap()
}

/// A GET of `n` fields: four pseudo-headers and `n - 4` small regular ones.
fn request(n: usize) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "localhost"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    f.extend((0..n - 4).map(|i| (format!("x-f{i}"), "v".to_string())));
    f
}

/// Sends `n` fields on stream `id` and returns the status answered on it.
fn status_for(sock: &mut TcpStream, c: &mut Client, id: u32, n: usize) -> String {
    let fields = request(n);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    c.headers(id, &refs, true);
    sock.write_all(&c.take()).unwrap();
    let frames = read_frames(
        sock,
        c,
        |f| matches!(f, F::Headers { id: i, .. } if *i == id),
    );
    let head = frames
        .iter()
        .find(|f| matches!(f, F::Headers { id: i, .. } if *i == id))
        .unwrap();
    head.status().unwrap().to_string()
}

fn connect(h: &ServerHandle) -> (TcpStream, Client) {
    let mut sock = TcpStream::connect(h.local_addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.set_nodelay(true).unwrap();
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    sock.write_all(&c.take()).unwrap();
    (sock, c)
}

#[test]
fn too_many_fields_get_431_and_the_connection_goes_on() {
    let h = start(None);
    let (mut sock, mut c) = connect(&h);
    assert_eq!(status_for(&mut sock, &mut c, 1, 101), "431");
    assert_eq!(status_for(&mut sock, &mut c, 3, 100), "200");
    assert_eq!(status_for(&mut sock, &mut c, 5, 101), "431");
    assert_eq!(status_for(&mut sock, &mut c, 7, 4), "200");
    drop(sock);
    h.stop().unwrap();
}

#[test]
fn server_max_headers_governs_http2() {
    let h = start(Some(10));
    let (mut sock, mut c) = connect(&h);
    assert_eq!(status_for(&mut sock, &mut c, 1, 10), "200");
    assert_eq!(status_for(&mut sock, &mut c, 3, 11), "431");
    assert_eq!(status_for(&mut sock, &mut c, 5, 4), "200");
    drop(sock);
    h.stop().unwrap();
}
