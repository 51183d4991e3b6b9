//! Attack traffic over raw sockets: each attack returns `Ok` if the server answered as it
//! must.

mod h1;
mod h2;
mod slow;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use super::tally::Tally;

pub(super) use slow::slow_loop;

/// An attack: its class name, and the run that returns `Ok` if the server answered as it
/// must (given the plain and the TLS address).
type Attack = (
    &'static str,
    fn(SocketAddr, SocketAddr) -> Result<(), String>,
);

/// The server's process id, for the attacks that watch its memory.
pub(super) static SERVER_PID: AtomicU32 = AtomicU32::new(0);

/// Every attack, HTTP/1.1 first, then HTTP/2, then TLS.
pub(super) fn all() -> impl Iterator<Item = &'static Attack> {
    h1::ATTACKS.iter().chain(h2::ATTACKS).chain(slow::ATTACKS)
}

/// Runs the attacks in turn, 20 ms apart, until `stop`.
pub(super) fn attack_loop(plain: SocketAddr, tls: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    let attacks: Vec<&Attack> = all().collect();
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        let (name, attack) = *attacks[i % attacks.len()];
        i += 1;
        tally.record(name, attack(plain, tls).map(|()| 1));
        // Valid traffic stays the bulk of the load.
        std::thread::sleep(Duration::from_millis(20));
    }
}
