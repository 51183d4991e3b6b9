//! permessage-deflate negotiation (RFC 7692 §7.1) and codec edge cases.

mod common;

use common::*;
use shockwave_websocket::deflate::{
    negotiate_client, negotiate_server, DeflateConfig, DeflateParams,
};
use shockwave_websocket::handshake::{parse_extensions, HandshakeError};
use shockwave_websocket::{Config, Connection, Role};

fn server_side(offer: &str, config: &DeflateConfig) -> Option<DeflateParams> {
    negotiate_server(&parse_extensions([offer]).unwrap(), config)
}

#[test]
fn the_server_accepts_the_first_valid_offer() {
    let config = DeflateConfig::default();
    let p = server_side("permessage-deflate", &config).unwrap();
    assert_eq!(p.response_header(), "permessage-deflate");
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (15, 15)
    );

    let p = server_side(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10; server_max_window_bits=12",
        &config,
    )
    .unwrap();
    assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (12, 10)
    );
    assert_eq!(
        p.response_header(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10"
    );

    // An invalid first offer is skipped, the valid fallback taken (§5.1).
    let p = server_side(
        "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover",
        &config,
    )
    .unwrap();
    assert!(p.client_no_context_takeover);

    // Other extensions are ignored.
    assert_eq!(server_side("x-webkit-deflate-frame", &config), None);
}

#[test]
fn the_server_declines_invalid_offers() {
    let config = DeflateConfig::default();
    for bad in [
        "permessage-deflate; server_max_window_bits", // needs a value
        "permessage-deflate; server_max_window_bits=16", // out of range
        "permessage-deflate; server_max_window_bits=08", // leading zero
        "permessage-deflate; client_max_window_bits=7", // out of range
        "permessage-deflate; server_no_context_takeover=1", // takes no value
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; mystery_param",
    ] {
        assert_eq!(server_side(bad, &config), None, "{bad}");
    }
}

#[test]
fn the_server_applies_its_own_limits() {
    let config = DeflateConfig {
        client_no_context_takeover: true,
        server_max_window_bits: 11,
        client_max_window_bits: 12,
        ..DeflateConfig::default()
    };
    // The client can limit its window: we ask for 12.
    let p = server_side("permessage-deflate; client_max_window_bits", &config).unwrap();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (11, 12)
    );
    assert!(p.client_no_context_takeover);
    // The client cannot limit its window: it stays 15 (§7.1.2.2).
    let p = server_side("permessage-deflate", &config).unwrap();
    assert_eq!(p.client_max_window_bits, 15);
    assert!(!p.response_header().contains("client_max_window_bits"));
}

#[test]
fn the_client_checks_the_answer_against_its_offer() {
    let config = DeflateConfig {
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    assert_eq!(
        config.offer(),
        "permessage-deflate; server_no_context_takeover; client_max_window_bits"
    );
    let ok = parse_extensions([
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
    ])
    .unwrap();
    let p = negotiate_client(&ok, &config).unwrap().unwrap();
    assert_eq!(p.client_max_window_bits, 9);
    assert_eq!(negotiate_client(&[], &config), Ok(None));
    for bad in [
        "permessage-deflate",                                           // dropped our request
        "permessage-deflate; server_no_context_takeover; foo",          // unknown
        "permessage-deflate; server_no_context_takeover; client_max_window_bits", // needs a value
        "x-other",                                                      // not offered
        "permessage-deflate; server_no_context_takeover, permessage-deflate; server_no_context_takeover",
    ] {
        assert_eq!(
            negotiate_client(&parse_extensions([bad]).unwrap(), &config),
            Err(HandshakeError::InvalidExtensions),
            "{bad}"
        );
    }
    let limited = DeflateConfig {
        server_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    let over = parse_extensions(["permessage-deflate; server_max_window_bits=12"]).unwrap();
    assert!(negotiate_client(&over, &limited).is_err());
    let under = parse_extensions(["permessage-deflate; server_max_window_bits=9"]).unwrap();
    assert_eq!(
        negotiate_client(&under, &limited)
            .unwrap()
            .unwrap()
            .server_max_window_bits,
        9
    );
}

#[test]
fn offers_and_responses_write_the_parameters_alike() {
    let config = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 9,
        ..DeflateConfig::default()
    };
    let all = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
               server_max_window_bits=10; client_max_window_bits=9";
    assert_eq!(config.offer(), all);
    let p = server_side(&config.offer(), &DeflateConfig::default()).unwrap();
    assert_eq!(p.response_header(), all);
    // A window of 15 is left out of a response, named without a value in an offer.
    assert_eq!(params(15, 15).response_header(), "permessage-deflate");
    assert_eq!(
        DeflateConfig::default().offer(),
        "permessage-deflate; client_max_window_bits"
    );
}

fn params(server_bits: u8, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        level: 6,
        min_size: 0,
    }
}

#[test]
fn small_windows_round_trip_and_8_bits_means_uncompressed() {
    for (bits, compressed) in [(9u8, true), (12, true), (8, false)] {
        let config = Config {
            deflate: Some(params(bits, bits)),
            ..Config::default()
        };
        let mut server = Connection::new(Role::Server, config.clone());
        let mut client = Connection::new(Role::Client, config);
        let msg = "window ".repeat(500);
        let mut wire = Vec::new();
        server.encode_text(&msg, &mut wire).unwrap();
        assert_eq!(wire[0] & 0x40 != 0, compressed, "RSV1 with {bits} bits");
        assert_eq!(run(&mut client, &wire), vec![text(&msg)]);
    }
}

#[test]
fn empty_compressed_messages_in_a_row_keep_the_streams_in_step() {
    let config = Config {
        deflate: Some(params(15, 15)),
        ..Config::default()
    };
    let mut server = Connection::new(Role::Server, config.clone());
    let mut client = Connection::new(Role::Client, config);
    let mut wire = Vec::new();
    for m in ["", "", "abc", "", "abc"] {
        server.encode_text(m, &mut wire).unwrap();
    }
    assert_eq!(&wire[..3], [0xc1, 0x01, 0x00], "RFC 7692 §7.2.3.6");
    assert_eq!(
        run(&mut client, &wire),
        ["", "", "abc", "", "abc"].map(text).to_vec()
    );
}

#[test]
fn a_deflate_bomb_read_in_pieces_stops_at_the_limit() {
    let config = Config {
        deflate: Some(params(15, 15)),
        max_message_size: 256 << 10,
        ..Config::default()
    };
    // The bomb: 64 MiB of zeros, compressed by a peer with no limit, arriving in 64 reads.
    let big = Config {
        deflate: Some(params(15, 15)),
        ..Config::default()
    };
    let mut peer = Connection::new(Role::Client, big).with_mask_source(|| [1, 2, 3, 4]);
    let mut wire = Vec::new();
    peer.encode_binary(&vec![0u8; 64 << 20], &mut wire).unwrap();
    assert!(wire.len() < 128 << 10, "{}", wire.len());
    let mut server = Connection::new(Role::Server, config);
    let cuts: Vec<usize> = (1..64).map(|i| i * wire.len() / 64).collect();
    assert_eq!(
        run_split(&mut server, &wire, &cuts),
        vec![Ev::Fail(1009), Ev::SentClose(Some(1009))]
    );
}
