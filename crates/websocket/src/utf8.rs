//! Incremental UTF-8 validation of text messages across fragments (RFC 6455 §8.1).

/// Validates UTF-8 fed in arbitrary pieces, failing as soon as a prefix cannot be the
/// start of valid UTF-8 ("fail fast", as Autobahn's 6.4 cases expect). Keeps at most
/// three bytes of an unfinished code point between pieces; built on
/// [`std::str::from_utf8`], which reports an invalid sequence as soon as its first
/// invalid byte is seen and an unfinished one as "incomplete".
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    carry_len: u8,
}

/// The input is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            carry: [0; 4],
            carry_len: 0,
        }
    }

    /// Forgets any unfinished code point (for the next message).
    pub fn reset(&mut self) {
        self.carry_len = 0;
    }

    /// Validates the next piece.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.carry_len > 0 {
            // Complete the carried code point one byte at a time.
            let need = match self.carry[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            while (self.carry_len as usize) < need {
                let Some((&b, rest)) = input.split_first() else {
                    return Ok(());
                };
                self.carry[self.carry_len as usize] = b;
                self.carry_len += 1;
                input = rest;
                match std::str::from_utf8(&self.carry[..self.carry_len as usize]) {
                    Ok(_) => break,
                    Err(e) if e.error_len().is_none() => {}
                    Err(_) => return Err(InvalidUtf8),
                }
            }
            self.carry_len = 0;
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = &input[e.valid_up_to()..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.carry_len = rest.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the message: an unfinished code point is an error.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.carry_len == 0;
        self.carry_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(bytes: &[u8]) -> Vec<bool> {
        (0..=bytes.len())
            .map(|i| {
                let mut v = Utf8Validator::new();
                v.feed(&bytes[..i]).is_ok() && v.feed(&bytes[i..]).is_ok() && v.finish().is_ok()
            })
            .collect()
    }

    #[test]
    fn agrees_with_from_utf8_at_every_split_point() {
        let cases: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xce\xba\xe1\xbd",
            b"\xc0\xaf",
            b"abc\xff",
            b"",
        ];
        for case in cases {
            let expected = std::str::from_utf8(case).is_ok();
            assert!(
                split_everywhere(case).iter().all(|&ok| ok == expected),
                "{case:?}"
            );
        }
    }

    #[test]
    fn an_impossible_prefix_fails_before_the_message_ends() {
        // A surrogate's first two bytes: no continuation can make them valid.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ok \xed"), Ok(()));
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8));
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xf5"), Err(InvalidUtf8));
    }
}
