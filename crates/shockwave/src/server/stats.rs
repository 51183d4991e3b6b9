//! Live counters, readable from the [`crate::server::ServerHandle`] while the server runs.

use std::sync::atomic::Ordering::Relaxed;

use shockwave_arena::ArenaStats;

pub(crate) use crate::common::counters::{dec, inc, WorkerCounters};

/// A snapshot of the server's counters, summed over all workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Worker threads.
    pub workers: usize,
    /// Connections accepted since start.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_active: u64,
    /// Connections refused because a worker was at its connection limit.
    pub connections_refused: u64,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: u64,
    /// Requests whose head was parsed (or rejected) since start.
    pub requests: u64,
    /// Requests that ended without a response because the peer cancelled them (an
    /// HTTP/2 RST_STREAM, a closed connection) before it was sent: counted in `requests`,
    /// not in `responses_by_class`.
    pub requests_cancelled: u64,
    /// Responses by status class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub responses_by_class: [u64; 5],
    /// Error responses by status code (4xx and 5xx), ascending by code, zero counts omitted.
    pub errors_by_status: Vec<(u16, u64)>,
    /// Handler panics turned into 500 responses.
    pub handler_panics: u64,
    /// Connections closed by a header-read, idle or write timeout.
    pub timeouts: u64,
    /// QUIC connections whose handshake is in progress now (HTTP/3; established ones
    /// are in `connections_active`). At most `Http3Config::max_handshakes` per worker.
    pub connections_handshaking: u64,
    /// QUIC Retry packets sent to validate a client's address before any connection
    /// state was kept (RFC 9000 §8.1.2, `Http3Config::address_validation`).
    pub quic_retries: u64,
    /// Connections closed because the peer reset or abandoned more requests than its
    /// budget allows (HTTP/3: `H3_EXCESSIVE_LOAD`, the QUIC form of Rapid Reset).
    pub reset_limit_closes: u64,
    /// Connections closed because the peer kept sending header sections over the
    /// limits, or one far over them (HTTP/3: `H3_EXCESSIVE_LOAD`).
    pub header_limit_closes: u64,
    /// Arena pool statistics summed over the workers (published every 100 ms).
    pub arena: ArenaStats,
    /// Request-body bytes held now (received and not released: buffered, or delivered
    /// to handlers whose requests have not finished), summed over the workers (published
    /// every 100 ms). Bounded by `ServerLimits::max_body_bytes_per_worker` (see there).
    pub body_bytes_held: u64,
    /// The most request-body bytes one worker held at once since start (the largest
    /// worker's peak).
    pub body_bytes_held_peak: u64,
}

impl ServerStats {
    pub(crate) fn collect(workers: &[std::sync::Arc<WorkerCounters>]) -> ServerStats {
        let mut s = ServerStats {
            workers: workers.len(),
            ..ServerStats::default()
        };
        let mut errors = [0u64; 200];
        for w in workers {
            s.connections_accepted += w.connections_accepted.load(Relaxed);
            s.connections_active += w.connections_active.load(Relaxed);
            s.connections_refused += w.connections_refused.load(Relaxed);
            s.tls_handshake_failures += w.tls_handshake_failures.load(Relaxed);
            s.requests += w.requests.load(Relaxed);
            s.requests_cancelled += w.requests_cancelled.load(Relaxed);
            for (i, c) in w.responses_by_class.iter().enumerate() {
                s.responses_by_class[i] += c.load(Relaxed);
            }
            for (i, c) in w.errors_by_code.0.iter().enumerate() {
                errors[i] += c.load(Relaxed);
            }
            s.handler_panics += w.handler_panics.load(Relaxed);
            s.timeouts += w.timeouts.load(Relaxed);
            s.body_bytes_held += w.body_bytes_held.load(Relaxed);
            s.body_bytes_held_peak = s
                .body_bytes_held_peak
                .max(w.body_bytes_held_peak.load(Relaxed));
            s.connections_handshaking += w.connections_handshaking.load(Relaxed);
            s.quic_retries += w.quic_retries.load(Relaxed);
            s.reset_limit_closes += w.reset_limit_closes.load(Relaxed);
            s.header_limit_closes += w.header_limit_closes.load(Relaxed);
            let a = *w.arena.lock().unwrap_or_else(|e| e.into_inner());
            add_arena(&mut s.arena, &a);
        }
        s.errors_by_status = errors
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (400 + i as u16, *n))
            .collect();
        s
    }

    /// The counters of every protocol summed: `main` (the workers' TCP side, which also
    /// holds the arena figures) and `http3` (the same workers' QUIC endpoints). `workers`
    /// counts threads once.
    pub(crate) fn collect_merged(
        main: &[std::sync::Arc<WorkerCounters>],
        http3: &[std::sync::Arc<WorkerCounters>],
    ) -> ServerStats {
        let all: Vec<_> = main.iter().chain(http3).cloned().collect();
        let mut s = ServerStats::collect(&all);
        s.workers = main.len().max(http3.len());
        s
    }

    /// Error responses with this status code.
    pub fn errors_with_status(&self, code: u16) -> u64 {
        self.errors_by_status
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }

    /// The snapshot as a JSON object (what `shockwave serve` answers on `/stats`).
    pub fn to_json(&self) -> String {
        use std::fmt::Write;
        let a = &self.arena;
        let mut errors = String::new();
        for (i, (code, n)) in self.errors_by_status.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(errors, "{sep}\"{code}\":{n}");
        }
        let c = &self.responses_by_class;
        format!(
            concat!(
                "{{\"workers\":{},\"connections\":{{\"accepted\":{},\"active\":{},\"refused\":{},",
                "\"tls_handshake_failures\":{},\"handshaking\":{},\"quic_retries\":{},",
                "\"closed_reset_limit\":{},\"closed_header_limit\":{}}},\"requests\":{},\"requests_cancelled\":{},",
                "\"responses\":{{\"1xx\":{},\"2xx\":{},\"3xx\":{},\"4xx\":{},\"5xx\":{}}},",
                "\"errors_by_status\":{{{}}},\"handler_panics\":{},\"timeouts\":{},",
                "\"arena\":{{\"arenas_created\":{},\"arenas_in_use\":{},\"arenas_idle\":{},",
                "\"arenas_discarded\":{},\"gets\":{},\"resets\":{},\"bytes_allocated\":{},",
                "\"bytes_freed\":{},\"retained_bytes\":{},\"peak_arena_bytes\":{},",
                "\"average_bytes_per_arena\":{},\"average_lifetime_ns\":{}}},",
                "\"body_bytes\":{{\"held\":{},\"peak\":{}}}}}"
            ),
            self.workers,
            self.connections_accepted,
            self.connections_active,
            self.connections_refused,
            self.tls_handshake_failures,
            self.connections_handshaking,
            self.quic_retries,
            self.reset_limit_closes,
            self.header_limit_closes,
            self.requests,
            self.requests_cancelled,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            errors,
            self.handler_panics,
            self.timeouts,
            a.arenas_created,
            a.arenas_in_use,
            a.arenas_idle,
            a.arenas_discarded,
            a.gets,
            a.resets,
            a.bytes_allocated,
            a.bytes_freed,
            a.retained_bytes,
            a.peak_arena_bytes,
            a.average_bytes_per_arena(),
            a.average_lifetime().as_nanos(),
            self.body_bytes_held,
            self.body_bytes_held_peak,
        )
    }
}

fn add_arena(sum: &mut ArenaStats, a: &ArenaStats) {
    sum.arenas_created += a.arenas_created;
    sum.arenas_in_use += a.arenas_in_use;
    sum.arenas_idle += a.arenas_idle;
    sum.arenas_discarded += a.arenas_discarded;
    sum.gets += a.gets;
    sum.resets += a.resets;
    sum.bytes_allocated += a.bytes_allocated;
    sum.bytes_freed += a.bytes_freed;
    sum.retained_bytes += a.retained_bytes;
    sum.peak_arena_bytes = sum.peak_arena_bytes.max(a.peak_arena_bytes);
    sum.total_lifetime += a.total_lifetime;
}
