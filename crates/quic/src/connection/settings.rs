//! SETTINGS (RFC 9114 §7.2.4): what we advertise, from [`Config`], and the QPACK limits
//! the connection takes from it.

use std::time::Duration;

use crate::frame::Settings;
use crate::qpack::DecoderConfig;

/// The connection's configuration: our SETTINGS and our own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Our QPACK decoder's limits, advertised as SETTINGS_QPACK_MAX_TABLE_CAPACITY,
    /// SETTINGS_QPACK_BLOCKED_STREAMS and SETTINGS_MAX_FIELD_SECTION_SIZE. With a table
    /// capacity of 0 we open no QPACK decoder stream (RFC 9204 §4.2 allows that).
    pub qpack: DecoderConfig,
    /// The largest dynamic table our QPACK encoder uses (further capped by the peer's
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY). 0 (the default) keeps our encoder
    /// static-only: it never blocks the peer and we open no QPACK encoder stream.
    pub encoder_table_capacity: u64,
    /// Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220).
    pub enable_connect_protocol: bool,
    /// Advertise SETTINGS_H3_DATAGRAM (RFC 9297).
    pub h3_datagram: bool,
    /// Add one reserved setting derived from this number (RFC 9114 §7.2.4.1: endpoints
    /// SHOULD send one), e.g. the QUIC connection's stable ID. `None`: no grease.
    pub grease: Option<u64>,
    /// How many peer unidirectional streams may be open at once without their stream
    /// type known yet, or remembered as ignored (unknown type). A peer exceeding it is
    /// `H3_EXCESSIVE_LOAD`. Default 64.
    pub max_untyped_uni_streams: usize,
    /// (Server) request streams the peer may reset, stop or end before a complete
    /// request per [`Config::limit_window`], reported with
    /// [`Connection::request_aborted`](super::Connection::request_aborted); one more is
    /// the connection error `H3_EXCESSIVE_LOAD` (RFC 9114 §10.5: the QUIC form of Rapid
    /// Reset, CVE-2023-44487). Default 200 (the HTTP/2 reset budget).
    pub max_aborted_requests_per_window: u32,
    /// Field sections over our limits (answered `431` or refused), reported with
    /// [`Connection::oversized_section`](super::Connection::oversized_section), allowed
    /// per [`Config::limit_window`]; one more is `H3_EXCESSIVE_LOAD`. A single section
    /// announced larger than 4 × SETTINGS_MAX_FIELD_SECTION_SIZE is `H3_EXCESSIVE_LOAD`
    /// at once. Default 10.
    pub max_oversized_sections_per_window: u32,
    /// The window of the two budgets above. Default 10 s.
    pub limit_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            qpack: DecoderConfig::default(),
            encoder_table_capacity: 0,
            enable_connect_protocol: false,
            h3_datagram: false,
            grease: None,
            max_untyped_uni_streams: 64,
            max_aborted_requests_per_window: 200,
            max_oversized_sections_per_window: 10,
            limit_window: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// The SETTINGS we send as the first frame of our control stream.
    pub fn settings(&self) -> Settings {
        Settings {
            enable_connect_protocol: self.enable_connect_protocol,
            h3_datagram: self.h3_datagram,
            ..self.qpack.settings()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_config() {
        let c = Config {
            enable_connect_protocol: true,
            ..Config::default()
        };
        let s = c.settings();
        assert_eq!(s.qpack_max_table_capacity, 4096);
        assert_eq!(s.qpack_blocked_streams, 16);
        assert_eq!(s.max_field_section_size, Some(16 * 1024));
        assert!(s.enable_connect_protocol && !s.h3_datagram);
    }
}
