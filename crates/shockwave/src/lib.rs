//! # Shockwave
//!
//! An HTTP/1.1, HTTP/2 and HTTP/3 client and server library whose request lifetimes live
//! in arenas: parsed headers, buffers and the handler's scratch data are bump-allocated
//! in a per-request arena and freed all at once.
//!
//! This umbrella crate re-exports the workspace's crates:
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`arena`] | `shockwave-arena` | request arenas, the arena pool, `ArenaStats`, `HeaderList` |
//! | [`server`] | (this crate) | the HTTP/1.1 server: thread-per-core workers, the arena-first `Handler` API, TLS, static files |
//! | [`client`] | (this crate) | the HTTP client: connection pool, TLS, owned and arena-backed responses |

#![warn(missing_docs)]

pub use shockwave_arena as arena;

pub mod server;

pub mod client;
