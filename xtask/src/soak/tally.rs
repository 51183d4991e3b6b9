//! Requests by class with their first failure messages, and the seeded generator that
//! varies the request mix.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Requests by class (ok, failed) and the first 40 failure messages.
#[derive(Default)]
pub(super) struct Tally {
    classes: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    pub(super) messages: Mutex<Vec<String>>,
}

impl Tally {
    pub(super) fn ok(&self, class: &'static str, n: u64) {
        let mut c = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        c.entry(class).or_default().0 += n;
    }

    pub(super) fn fail(&self, class: &'static str, msg: impl Into<String>) {
        {
            let mut c = self.classes.lock().unwrap_or_else(|e| e.into_inner());
            c.entry(class).or_default().1 += 1;
        }
        let mut m = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < 40 {
            let msg = msg.into();
            eprintln!("xtask soak: FAIL {class}: {msg}");
            m.push(format!("{class}: {msg}"));
        }
    }

    pub(super) fn record(&self, class: &'static str, r: Result<u64, String>) {
        match r {
            Ok(n) => self.ok(class, n),
            Err(e) => self.fail(class, e),
        }
    }

    pub(super) fn snapshot(&self) -> BTreeMap<&'static str, (u64, u64)> {
        self.classes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A small xorshift generator: request mixes and body sizes vary, runs stay reproducible.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(super) fn body(&mut self, len: usize) -> Vec<u8> {
        let seed = self.next();
        (0..len)
            .map(|i| (seed.wrapping_add(i as u64 * 131) >> 3) as u8)
            .collect()
    }
}
