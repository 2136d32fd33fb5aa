//! HTTP/1.0 and 1.1 for a small server, in three rooms: `request` parses bytes into a
//! `Request` (pure, no I/O), `response` turns a `Response` into bytes, and `connection` is the
//! per-connection state machine (bounded buffers, phases, deadlines) over any stream. The event
//! loop owns the sockets and polls them; it calls `Connection::read`/`write` when poll says so.
//!
//! In scope: Content-Length bodies, keep-alive, pipelining (answered in order), HEAD,
//! origin- and absolute-form targets. Out of scope: chunked request bodies (refused with 400),
//! TLS, HTTP/2, Expect: 100-continue.

mod connection;
mod request;
mod response;

pub use connection::{Connection, Phase};
pub use request::{parse_request, Request};
pub use response::Response;
