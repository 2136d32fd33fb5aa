//! banwatch: a tiny single-threaded sidecar that shows and checks fail2ban.
//!
//! The binary (`src/main.rs`) is the process edge; everything else lives here so that
//! integration tests, benches and fuzz targets can reach the pure parts (pickle codec,
//! HTTP parser) without a socket.

#![forbid(unsafe_code)]

pub mod api;
pub mod check;
pub mod cli;
pub mod event_loop;
pub mod fail2ban;
pub mod history;
pub mod http;
pub mod metrics;
pub mod pyjson;
pub mod sd_notify;
pub mod state;
pub mod timefmt;
pub mod token;
