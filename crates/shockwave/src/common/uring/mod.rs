//! The io_uring ring shared by the server's listeners ([`Io::Uring`](crate::common::io::Io))
//! and the client's cleartext TCP connections: [`ring::Driver`] (submission batching,
//! completion dispatch, provided buffers, connection slots and their byte-stream
//! operations) and [`ring::probe`] (whether io_uring works here).

pub(crate) mod ring;
