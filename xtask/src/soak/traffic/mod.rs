//! Valid traffic whose every answer is checked: one file per protocol, plus the h2load
//! peer runs.

use std::time::Duration;

use super::tally::Tally;

pub(super) mod h1;
pub(super) mod h2;
pub(super) mod h2load;
pub(super) mod h3;

/// The body of `GET /`.
pub(super) const HELLO: &[u8] = b"Hello, World!";
/// The body of `GET /json`.
pub(super) const JSON: &[u8] = br#"{"message":"Hello, World!"}"#;

/// The connection of a traffic class, or `None` after tallying the failure and pausing
/// briefly (so a server that refuses connections is not hammered in a tight loop).
pub(super) fn connected<C, E: std::fmt::Display>(
    class: &'static str,
    tally: &Tally,
    connection: Result<C, E>,
) -> Option<C> {
    match connection {
        Ok(c) => Some(c),
        Err(e) => {
            tally.fail(class, format!("connect: {e}"));
            std::thread::sleep(Duration::from_millis(100));
            None
        }
    }
}
