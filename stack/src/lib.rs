//! A local CloudFront -> Lambda@Edge -> ALB -> Lambda stack that runs the real function binaries
//! as execution environments over the Lambda Runtime API (docs/ARCHITECTURE.md, "stack").

pub mod alb;
pub mod binaries;
pub mod cloudfront;
pub mod control;
pub mod environment;
pub mod function;
pub mod header_case;
pub mod logs;
pub mod node_runtime;
pub mod pool;
pub mod probe;
pub mod pytools;
pub mod runtime_api;
pub mod sandbox;
pub mod serve;
pub mod stack;
pub mod template;

pub use alb::AlbOptions;
pub use cloudfront::RequestRecord;
pub use edge_persist_core::cloudfront::EventType;
pub use environment::FunctionSpec;
pub use function::Runtime;
pub use pool::{Pool, PoolError, PoolSettings};
pub use stack::{EdgeAssociation, Stack, StackConfig, StackError};
