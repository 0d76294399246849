//! Pure logic of edge-persist: no I/O, no clock, no randomness. Callers pass `now`, ids and
//! configuration, so the same code runs natively, in wasm32 and under a test clock.
//!
//! State kept here lives per execution environment, not globally: each concurrent request at
//! AWS gets its own environment and so its own value.

pub mod cloudfront;
pub mod config;
pub mod echo;
pub mod edge;
pub mod edge_headers;
pub mod environment;
pub mod headers;
pub mod inject;
pub mod metrics;
pub mod session;
pub mod token;
pub mod uri;

pub use config::{Config, ConfigError, SessionConfig};
pub use echo::Echoed;
pub use edge::{EdgeError, EdgeFunction, Handled, Init, InitError};
pub use environment::{Environment, Invocation, format_time, id_from_bytes, max_concurrency};
pub use inject::Injector;
