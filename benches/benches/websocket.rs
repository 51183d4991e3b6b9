//! WebSocket message decode and encode: shockwave-websocket vs tungstenite, for 64 B and
//! 64 KiB binary messages, masked (a server reading a client's frames, a client writing
//! them) and unmasked (a server writing), and with permessage-deflate (shockwave only:
//! tungstenite has no compression).
//!
//! Run: `cargo bench -p shockwave-benches --bench websocket`
//!
//! tungstenite runs as its users run it, a `WebSocket` over a stream (here in memory);
//! shockwave runs as its drivers do, decode from a read buffer (the copy of the wire into
//! it is inside the measured loop, as tungstenite's read is) and encode into a reused
//! `Vec`. Throughput is in payload bytes.

use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shockwave_arena::alloc_count::CountingAllocator;
use shockwave_benches::report_allocs;
use shockwave_websocket::deflate::DeflateParams;
use shockwave_websocket::{Config, Connection, Message, Role};
use tungstenite::protocol::{Role as TRole, WebSocket};
use tungstenite::Message as TMessage;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

struct Mem {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const SIZES: [(usize, &str); 2] = [(64, "64B"), (64 << 10, "64KiB")];

fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b"websocket payload "[i % 18]).collect()
}

fn deflate() -> Config {
    Config {
        deflate: Some(DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            min_size: 0,
        }),
        ..Config::default()
    }
}

/// 16 masked client frames of `size` bytes.
fn client_wire(size: usize, config: Config) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, config);
    let data = payload(size);
    let mut wire = Vec::new();
    for _ in 0..16 {
        client.encode_binary(&data, &mut wire).unwrap();
    }
    wire
}

fn shockwave_decode(
    server: &mut Connection,
    pristine: &[u8],
    buf: &mut [u8],
    assembly: &mut Vec<u8>,
) -> usize {
    buf.copy_from_slice(pristine);
    let mut pos = 0;
    let mut sum = 0;
    while pos < buf.len() {
        let d = server.decode(&mut buf[pos..], assembly).unwrap();
        if let Some(Message::Binary(b)) = d.message {
            sum += b.len();
        }
        pos += d.consumed;
    }
    sum
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_decode_masked");
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(16 * size as u64));
        let wire = client_wire(size, Config::default());

        let mut server = Connection::new(Role::Server, Config::default());
        let mut buf = wire.clone();
        let mut assembly = Vec::new();
        group.bench_function(BenchmarkId::new("shockwave", label), |b| {
            b.iter(|| {
                black_box(shockwave_decode(
                    &mut server,
                    &wire,
                    &mut buf,
                    &mut assembly,
                ))
            })
        });
        report_allocs(&format!("ws_decode_masked/shockwave/{label}"), 100, || {
            black_box(shockwave_decode(
                &mut server,
                &wire,
                &mut buf,
                &mut assembly,
            ));
        });

        let zwire = client_wire(size, deflate());
        let mut zserver = Connection::new(Role::Server, deflate());
        let mut zbuf = zwire.clone();
        group.bench_function(BenchmarkId::new("shockwave-deflate", label), |b| {
            b.iter(|| {
                black_box(shockwave_decode(
                    &mut zserver,
                    &zwire,
                    &mut zbuf,
                    &mut assembly,
                ))
            })
        });

        let mut tserver = WebSocket::from_raw_socket(
            Mem {
                input: Cursor::new(wire.clone()),
                output: Vec::new(),
            },
            TRole::Server,
            None,
        );
        let tread = |ws: &mut WebSocket<Mem>| {
            ws.get_mut().input.set_position(0);
            let mut sum = 0;
            for _ in 0..16 {
                sum += ws.read().unwrap().len();
            }
            sum
        };
        group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
            b.iter(|| black_box(tread(&mut tserver)))
        });
        report_allocs(
            &format!("ws_decode_masked/tungstenite/{label}"),
            100,
            || {
                black_box(tread(&mut tserver));
            },
        );
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    for (group_name, role, trole) in [
        ("ws_encode_masked", Role::Client, TRole::Client),
        ("ws_encode_unmasked", Role::Server, TRole::Server),
    ] {
        let mut group = c.benchmark_group(group_name);
        for (size, label) in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let data = payload(size);
            let mut out = Vec::with_capacity(size + 64);
            let mut conn = Connection::new(role, Config::default());
            let write = |conn: &mut Connection, out: &mut Vec<u8>| {
                out.clear();
                conn.encode_binary(&data, out).unwrap();
                out.len()
            };
            group.bench_function(BenchmarkId::new("shockwave", label), |b| {
                b.iter(|| black_box(write(&mut conn, &mut out)))
            });
            report_allocs(&format!("{group_name}/shockwave/{label}"), 100, || {
                black_box(write(&mut conn, &mut out));
            });
            let mut zconn = Connection::new(role, deflate());
            group.bench_function(BenchmarkId::new("shockwave-deflate", label), |b| {
                b.iter(|| black_box(write(&mut zconn, &mut out)))
            });

            let bytes = tungstenite::Bytes::from(data.clone());
            let mut tws = WebSocket::from_raw_socket(
                Mem {
                    input: Cursor::new(Vec::new()),
                    output: Vec::with_capacity(size + 64),
                },
                trole,
                None,
            );
            let twrite = |ws: &mut WebSocket<Mem>| {
                ws.get_mut().output.clear();
                ws.send(TMessage::Binary(bytes.clone())).unwrap();
                ws.get_ref().output.len()
            };
            group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
                b.iter(|| black_box(twrite(&mut tws)))
            });
            report_allocs(&format!("{group_name}/tungstenite/{label}"), 100, || {
                black_box(twrite(&mut tws));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
