//! GOAWAY (RFC 9114 §5.2, §7.2.6): which identifier we send for our role, which request
//! streams a server still accepts after sending it, and which ones a client may still
//! open after receiving one. Checking the peer's GOAWAY frames themselves (identifiers
//! never increase; from a server, a client-initiated bidirectional stream ID) is done by
//! [`ControlStream`](crate::control::ControlStream).

use crate::error::Error;
use crate::stream::{is_client_bidi, Role};

/// GOAWAY bookkeeping for one connection.
#[derive(Debug, Clone)]
pub(super) struct GoAway {
    role: Role,
    /// The last identifier we sent.
    sent: Option<u64>,
    /// The last identifier the peer sent.
    received: Option<u64>,
    /// (Server) one past the largest request stream accepted: the ID a graceful GOAWAY
    /// carries, so that every request already accepted is processed.
    next_request: u64,
}

impl GoAway {
    pub(super) fn new(role: Role) -> Self {
        GoAway {
            role,
            sent: None,
            received: None,
            next_request: 0,
        }
    }

    pub(super) fn sent(&self) -> Option<u64> {
        self.sent
    }

    pub(super) fn received(&self) -> Option<u64> {
        self.received
    }

    pub(super) fn on_received(&mut self, id: u64) {
        self.received = Some(id);
    }

    /// The identifier a GOAWAY sent now carries: a server names the first request
    /// stream it has not accepted; a client, which never allows server push (it sends
    /// no MAX_PUSH_ID), names push ID 0.
    pub(super) fn next_id(&self) -> u64 {
        match self.role {
            Role::Server => self.next_request,
            Role::Client => 0,
        }
    }

    /// Checks and records an identifier we are about to send: from a server it must be
    /// a client-initiated bidirectional stream ID, and it must not exceed one sent
    /// before (RFC 9114 §5.2).
    pub(super) fn send(&mut self, id: u64) -> Result<(), Error> {
        if self.role == Role::Server && !is_client_bidi(id) {
            return Err(Error::IdError {
                id,
                reason: "a server's GOAWAY must carry a client-initiated bidirectional stream ID",
            });
        }
        if matches!(self.sent, Some(prev) if id > prev) {
            return Err(Error::IdError {
                id,
                reason: "GOAWAY identifier larger than one sent before",
            });
        }
        self.sent = Some(id);
        Ok(())
    }

    /// (Server) a new request stream: false if our GOAWAY excluded it (the driver
    /// rejects it with `H3_REQUEST_REJECTED`).
    pub(super) fn accept_request(&mut self, stream_id: u64) -> bool {
        if matches!(self.sent, Some(g) if stream_id >= g) {
            return false;
        }
        self.next_request = self.next_request.max(stream_id + 4);
        true
    }

    /// (Client) whether a request may go out on `stream_id`: not at or above the
    /// server's GOAWAY identifier, and not after we sent GOAWAY ourselves.
    pub(super) fn may_open_request(&self, stream_id: u64) -> bool {
        self.sent.is_none() && !matches!(self.received, Some(g) if stream_id >= g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn server_ids() {
        let mut g = GoAway::new(Role::Server);
        assert_eq!(g.next_id(), 0);
        assert!(g.accept_request(0));
        assert!(g.accept_request(8));
        assert_eq!(g.next_id(), 12);
        assert_eq!(g.send(3).unwrap_err().code(), ErrorCode::IdError);
        g.send(12).unwrap();
        assert_eq!(g.send(16).unwrap_err().code(), ErrorCode::IdError);
        assert!(g.accept_request(4), "below the GOAWAY id: still processed");
        assert!(!g.accept_request(12));
        g.send(12).unwrap();
        g.send(4).unwrap();
        assert!(!g.accept_request(8));
    }

    #[test]
    fn client_ids() {
        let mut g = GoAway::new(Role::Client);
        assert_eq!(g.next_id(), 0);
        assert!(g.may_open_request(100));
        g.on_received(8);
        assert!(g.may_open_request(4));
        assert!(!g.may_open_request(8));
        g.send(1).unwrap(); // push IDs need not be stream IDs
        assert!(!g.may_open_request(4));
    }
}
