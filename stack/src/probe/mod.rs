//! `edge-stack probe`: how long memory persists at the edge, measured from outside. Requests a
//! URL whose origin is alb-fn, reads from each response what alb-fn echoes of the edge (the
//! persisted value, the edge environment id, cold or warm, the invocation number, the session)
//! and what CloudFront adds (`X-Amz-Cf-Pop`, `X-Cache`), and reports per edge environment and
//! overall. docs/PROBE.md describes the report and its JSON schema.
//!
//! The statistics ([`stats`]) are pure and tested on synthetic observations; the network part
//! ([`run`]) only sends requests and records answers.

pub mod observation;
pub mod plot;
pub mod report;
pub mod run;
pub mod stats;

pub use observation::{Field, Observation, Start};
pub use report::{Report, SCHEMA_VERSION, Settings};
pub use run::{Ask, Outcome, Plan, PlanError, run};
pub use stats::{EdgeEnvironment, Statistics, statistics};
