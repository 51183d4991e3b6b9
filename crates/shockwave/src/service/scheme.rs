//! [`Scheme`]: `http` or `https`, the one scheme type of the crate. The server reports a
//! request's scheme with it ([`Request::scheme`](super::Request::scheme)); the client
//! keys its pool and picks TLS with it ([`Target::scheme`](crate::client::Target)).

/// The URI scheme of a request: what a server received it on, what a client sends it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`: plain-text HTTP (default port 80).
    Http,
    /// `https`: HTTP over TLS (default port 443).
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The scheme's default port: 80 or 443 (RFC 9110 §4.2).
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Scheme;

    #[test]
    fn names_and_default_ports() {
        assert_eq!(Scheme::Http.as_str(), "http");
        assert_eq!(Scheme::Https.as_str(), "https");
        assert_eq!(Scheme::Http.default_port(), 80);
        assert_eq!(Scheme::Https.default_port(), 443);
    }

    #[cfg(all(feature = "server", feature = "client"))]
    #[test]
    fn server_and_client_name_the_same_type() {
        let received: crate::server::Scheme = crate::server::request::Scheme::Https;
        let sent: crate::client::Scheme = received;
        assert_eq!(sent, crate::service::Scheme::Https);
        assert_eq!(
            crate::client::Target::parse("https://a/").unwrap().scheme,
            received
        );
    }
}
