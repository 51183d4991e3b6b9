//! [`Io`]: the I/O driver of cleartext TCP connections, shared by the server
//! (`ServerBuilder::io`) and the client (`ClientBuilder::io`), and whether io_uring can
//! serve here.

/// The I/O driver of cleartext TCP connections: the server's cleartext TCP listeners
/// (`ServerBuilder::io`) and the client's cleartext TCP connections (`ClientBuilder::io`,
/// HTTP/1.1 and h2c). The same type is exported as `shockwave::server::Io` and
/// `shockwave::client::Io`.
///
/// Both drivers run the same HTTP/1.1 and h2c engines, limits, timeouts and response
/// pipeline; they differ only in how bytes move between the sockets and the tasks.
/// TLS, HTTP/3 and Unix-socket connections always use the epoll driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Io {
    /// Readiness-based I/O (epoll through tokio): one `recv`/`send` system call per read
    /// and write. The default, on every platform.
    #[default]
    Epoll,
    /// Completion-based I/O with io_uring (Linux 6.0 or later, the `io-uring` feature):
    /// multishot receives into a provided-buffer ring, and one submission per turn of the
    /// ring's reactor for every connection's sends. In the server each worker thread owns
    /// a ring with a multishot accept on its `SO_REUSEPORT` listener; a client owns one
    /// ring (per tokio runtime it runs on), whose reactor is a task of that runtime.
    ///
    /// Where io_uring is unavailable (another OS, the feature off, an old kernel,
    /// `io_uring_disabled`, a seccomp filter, locked-memory limits) or the environment
    /// variable `SHOCKWAVE_IO_URING` is `off`, the server or client logs the reason (a
    /// tracing warning) and uses [`Io::Epoll`]; `ServerHandle::io` and `Client::io` tell
    /// which driver runs.
    Uring,
}

/// Whether io_uring can serve here: `Err` with the reason if not (see [`Io::Uring`]).
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn uring_available() -> Result<(), String> {
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    return super::uring::ring::probe();
    #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
    Err(if cfg!(target_os = "linux") {
        "the `io-uring` feature of shockwave is off".to_string()
    } else {
        "io_uring exists on Linux only".to_string()
    })
}
