//! The hpack-test-case interoperability vectors (../shared/hpack-test-case, see its
//! ABOUT.md): decode every story of every folder case by case with one decoder per story,
//! and round-trip every raw-data story through our encoder and decoder.

use std::path::{Path, PathBuf};

use serde_json::Value;
use shockwave_arena::{Arena, HeaderList};
use shockwave_hpack::{Decoder, Encoder, HuffmanPolicy};

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/hpack-test-case");
    assert!(
        dir.join("raw-data").is_dir(),
        "hpack-test-case vectors missing: expected them at {} (the shared checkout's \
         hpack-test-case directory, from https://github.com/http2jp/hpack-test-case)",
        dir.display()
    );
    dir
}

fn stories(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn headers_of(case: &Value) -> Fields {
    case["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let (n, v) = h.as_object().unwrap().iter().next().unwrap();
            (
                n.as_bytes().to_vec(),
                v.as_str().unwrap().as_bytes().to_vec(),
            )
        })
        .collect()
}

/// A decoder with limits loose enough for the vectors (some lists exceed 16 KiB).
fn story_decoder() -> Decoder {
    let mut d = Decoder::new();
    let mut limits = *d.limits();
    limits.max_header_list_size = 1 << 20;
    d.set_limits(limits);
    d
}

#[test]
fn decode_every_story_of_every_folder() {
    let dir = vectors_dir();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap() != "raw-data")
        .collect();
    folders.sort();
    assert!(
        folders.len() >= 5,
        "expected the encoder folders in {}",
        dir.display()
    );
    let mut total_cases = 0;
    for folder in &folders {
        let files = stories(folder);
        assert!(!files.is_empty(), "{} has no stories", folder.display());
        for file in files {
            let story = load(&file);
            let mut decoder = story_decoder();
            // The arena path, exercised on the same stories with a second decoder.
            let mut arena_decoder = story_decoder();
            let mut arena = Arena::new();
            for (i, case) in story["cases"].as_array().unwrap().iter().enumerate() {
                let what = format!("{} case {i}", file.display());
                if let Some(size) = case.get("header_table_size").and_then(Value::as_u64) {
                    decoder.set_max_table_size(size as usize);
                    arena_decoder.set_max_table_size(size as usize);
                }
                let wire = hex(case["wire"].as_str().unwrap());
                let mut got: Fields = Vec::new();
                decoder
                    .decode(&wire, |n, v| got.push((n.to_vec(), v.to_vec())))
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(got, headers_of(case), "{what}");
                {
                    let mut list = HeaderList::new_in(&arena);
                    arena_decoder
                        .decode_in(&wire, &arena, &mut list)
                        .unwrap_or_else(|e| panic!("{what} (arena): {e}"));
                    let listed: Fields =
                        list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
                    assert_eq!(listed, got, "{what} (arena)");
                }
                arena.reset();
                total_cases += 1;
            }
        }
    }
    assert!(total_cases > 10_000, "only {total_cases} cases decoded");
}

fn round_trip(policy: HuffmanPolicy, table_size: Option<usize>) {
    let dir = vectors_dir();
    let files = stories(&dir.join("raw-data"));
    assert!(files.len() >= 30);
    let mut wire_total = 0usize;
    for file in files {
        let story = load(&file);
        let mut encoder = Encoder::new();
        encoder.set_huffman(policy);
        let mut decoder = story_decoder();
        if let Some(size) = table_size {
            encoder.set_max_table_size(size);
            decoder.set_max_table_size(size);
        }
        let mut block = Vec::new();
        for (i, case) in story["cases"].as_array().unwrap().iter().enumerate() {
            let headers = headers_of(case);
            block.clear();
            encoder.encode(headers.iter().map(|(n, v)| (&n[..], &v[..])), &mut block);
            wire_total += block.len();
            let mut got: Fields = Vec::new();
            decoder
                .decode(&block, |n, v| got.push((n.to_vec(), v.to_vec())))
                .unwrap_or_else(|e| panic!("{} case {i}: {e}", file.display()));
            assert_eq!(got, headers, "{} case {i}", file.display());
            assert_eq!(decoder.table_size(), encoder.table_size(), "tables in step");
        }
    }
    assert!(wire_total > 0);
}

#[test]
fn raw_data_round_trips_with_huffman() {
    round_trip(HuffmanPolicy::WhenShorter, None);
}

#[test]
fn raw_data_round_trips_without_huffman() {
    round_trip(HuffmanPolicy::Never, None);
}

#[test]
fn raw_data_round_trips_with_small_and_empty_tables() {
    round_trip(HuffmanPolicy::Always, Some(256));
    round_trip(HuffmanPolicy::WhenShorter, Some(0));
}
