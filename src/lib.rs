//! banwatch: a tiny single-threaded sidecar that shows and checks fail2ban.
//!
//! `main` (src/commands.rs) is everything the binary does. The library keeps its modules
//! private, so unused code is reported; it exposes only what tests, benches and fuzz targets
//! exercise without a socket: the pickle codec and reply views (`fail2ban`), the HTTP request
//! parser, the JSON rendering of decoded values (`pyjson`) and the time parser the API tests
//! use (`timefmt`). `docs/design.md` maps the modules.

#![forbid(unsafe_code)]

mod api;
mod check;
mod cli;
mod commands;
mod context;
mod event_loop;
pub mod fail2ban;
mod fdio;
mod history;
mod http;
mod json;
mod logger;
mod metrics;
pub mod pyjson;
mod sd_notify;
mod state;
pub mod timefmt;
mod token;

pub use commands::main;
pub use http::parse_request;
