//! Wires CloudFront, the edge function, the ALB and the origin function together.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use edge_persist_core::cloudfront::EventType;

use crate::alb::{Alb, AlbOptions};
use crate::cloudfront::{CloudFront, RequestRecord, Trigger, Triggers};
use crate::environment::FunctionSpec;
use crate::pool::{Pool, PoolSettings};
use crate::serve::{BodyBudget, ListenerLimits};

/// Everything a stack is started with.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Address of the CloudFront listener; loopback unless the user asked otherwise.
    pub bind: IpAddr,
    /// CloudFront port; 0 picks a free one.
    pub port: u16,
    /// The cache behaviour's Lambda@Edge associations, at most one per event type (CloudFront's
    /// `LambdaFunctionAssociations`). Associations naming the same function share its
    /// environments (one pool per function name).
    pub associations: Vec<EdgeAssociation>,
    pub origin: FunctionSpec,
    pub origin_pool: PoolSettings,
    pub alb: AlbOptions,
    /// Header whose value the access log shows (the edge function's persisted value).
    pub persisted_header: String,
    /// Log streams go to `<run_dir>/logs`, the state file to `<run_dir>/stack-<port>.json`.
    pub run_dir: PathBuf,
    pub origin_read_timeout: Duration,
    /// Limits of the CloudFront and ALB listeners.
    pub listener: crate::serve::ListenerLimits,
    /// The cache behaviour's cache and origin request policies (default: the project's
    /// deployment, CachingDisabled + the `edge-persist` origin request policy).
    pub policies: crate::cloudfront::Policies,
    /// Run an edge function Lambda@Edge would refuse (a custom runtime such as the native
    /// edge-fn, environment variables, a timeout or memory over its trigger's quota): the
    /// native test mode, for speed. Off, such an edge function is refused at start.
    pub edge_native_test: bool,
    /// The distribution's custom error responses (CloudFront's `CustomErrorResponses`); empty:
    /// every error goes to the viewer as the origin answered it.
    pub error_responses: Vec<crate::cloudfront::CustomErrorResponse>,
}

/// One Lambda@Edge association of the cache behaviour: which trigger runs which function.
#[derive(Debug, Clone)]
pub struct EdgeAssociation {
    pub event_type: EventType,
    /// "Include body": the request body goes into the event (request triggers only).
    pub include_body: bool,
    /// The function (its `edge` is true: it runs as a replica of version 1).
    pub function: FunctionSpec,
    /// Its environments' limits; associations of one function must agree.
    pub pool: PoolSettings,
}

impl EdgeAssociation {
    /// The usual shape: `function` on `event_type`, no body.
    pub fn new(event_type: EventType, function: FunctionSpec, pool: PoolSettings) -> Self {
        Self {
            event_type,
            include_body: false,
            function,
            pool,
        }
    }
}

impl StackConfig {
    /// The association of `event`, if the cache behaviour has one.
    pub fn association_mut(&mut self, event: EventType) -> Option<&mut EdgeAssociation> {
        self.associations.iter_mut().find(|a| a.event_type == event)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("Lambda@Edge would refuse the edge function: {}; run it in the native test mode to allow it", .0.join("; "))]
    EdgeRefused(Vec<String>),
    #[error("CloudFront would refuse the cache behaviour's associations: {0}")]
    Associations(String),
}

/// A running stack. Dropping it stops the servers and kills every environment; `shutdown`
/// also waits until the children are gone.
pub struct Stack {
    pub cloudfront: SocketAddr,
    pub alb: SocketAddr,
    pub control: SocketAddr,
    /// The control endpoint's bearer token (also in the state file).
    pub control_token: String,
    pub logs_root: PathBuf,
    /// The edge functions' pools, one per function, in the order of their first association.
    pub edge: Vec<Arc<Pool>>,
    triggers: Triggers,
    pub origin: Arc<Pool>,
    records: broadcast::Sender<RequestRecord>,
    servers: Vec<JoinHandle<()>>,
    state_file: PathBuf,
}

/// Bind `addr` and return the listener with the address it got (port 0: an ephemeral one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StackError> {
    let bound = |source| StackError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bound)?;
    let local = listener.local_addr().map_err(bound)?;
    Ok((listener, local))
}

fn serve(listener: TcpListener, router: Router, limits: ListenerLimits) -> JoinHandle<()> {
    crate::serve::serve(listener, router, limits)
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl Stack {
    pub async fn start(config: StackConfig) -> Result<Self, StackError> {
        check_associations(&config.associations).map_err(StackError::Associations)?;
        let refused: Vec<String> = config
            .associations
            .iter()
            .flat_map(|a| {
                a.function
                    .edge_refusals(a.event_type)
                    .into_iter()
                    .map(|r| format!("{} on {}: {r}", a.function.name, a.event_type.as_str()))
            })
            .collect();
        if !refused.is_empty() {
            if !config.edge_native_test {
                return Err(StackError::EdgeRefused(refused));
            }
            tracing::info!(
                "native test mode: running an edge function Lambda@Edge would refuse ({})",
                refused.join("; ")
            );
        }
        let logs_root = config.run_dir.join("logs");
        std::fs::create_dir_all(&logs_root).map_err(|source| StackError::Io {
            path: logs_root.clone(),
            source,
        })?;
        let (alb_listener, alb_addr) = bind(SocketAddr::new(LOOPBACK, 0)).await?;
        let origin = Pool::new(
            config.origin.clone(),
            config.origin_pool.clone(),
            logs_root.clone(),
        );
        let alb = Arc::new(Alb {
            target: Arc::clone(&origin),
            bodies: BodyBudget::new(config.listener),
            options: config.alb,
            port: alb_addr.port(),
        });
        let alb_router = Router::new().fallback(crate::alb::handle).with_state(alb);

        let mut edge: Vec<Arc<Pool>> = Vec::new();
        let mut triggers = Triggers::default();
        for a in &config.associations {
            let pool = match edge.iter().find(|p| p.name() == a.function.name) {
                Some(p) => Arc::clone(p),
                None => {
                    let p = Pool::new(a.function.clone(), a.pool.clone(), logs_root.clone());
                    edge.push(Arc::clone(&p));
                    p
                }
            };
            triggers.set(Trigger {
                event_type: a.event_type,
                include_body: a.include_body,
                pool,
            });
        }
        let (records, _) = broadcast::channel(1024);
        let client = crate::cloudfront::origin_client();
        // A socket address is always an authority and a header value; said, not assumed.
        let not_an_origin = |e: &dyn std::fmt::Display| StackError::Bind {
            addr: alb_addr,
            source: std::io::Error::other(format!("not an origin authority: {e}")),
        };
        let cf = Arc::new(CloudFront {
            triggers: triggers.clone(),
            origin_authority: axum::http::uri::Authority::try_from(alb_addr.to_string())
                .map_err(|e| not_an_origin(&e))?,
            origin_host: axum::http::HeaderValue::try_from(alb_addr.to_string())
                .map_err(|e| not_an_origin(&e))?,
            origin_port: alb_addr.port(),
            persisted_header: config.persisted_header.clone(),
            client,
            records: records.clone(),
            read_timeout: config.origin_read_timeout,
            bodies: BodyBudget::new(config.listener),
            policies: config.policies.clone(),
            error_responses: config.error_responses.clone(),
        });
        let cf_addr = SocketAddr::new(config.bind, config.port);
        let (cf_listener, cloudfront) = bind(cf_addr).await?;
        let cf_router = Router::new()
            .fallback(crate::cloudfront::handle)
            .with_state(cf);

        let (control_listener, control) = bind(SocketAddr::new(LOOPBACK, 0)).await?;
        let control_token = crate::environment::random_hex(32);
        let control_router = crate::control::router(
            edge.iter().chain([&origin]).map(Arc::clone).collect(),
            control_token.clone(),
        );

        let servers = vec![
            serve(alb_listener, alb_router, config.listener),
            serve(cf_listener, cf_router, config.listener),
            serve(control_listener, control_router, ListenerLimits::PUBLIC),
        ];
        let state_file = state_file(&config.run_dir, cloudfront.port());
        let state = serde_json::json!({
            "pid": std::process::id(),
            "cloudfront": format!("http://{cloudfront}"),
            "alb": format!("http://{alb_addr}"),
            "control": format!("http://{control}"),
            "token": control_token,
            "logs": logs_root,
            "functions": edge.iter().map(|p| p.name().to_owned()).chain([config.origin.name.clone()]).collect::<Vec<_>>(),
        });
        write_private(&state_file, state.to_string().as_bytes()).map_err(|source| {
            StackError::Io {
                path: state_file.clone(),
                source,
            }
        })?;
        Ok(Self {
            cloudfront,
            alb: alb_addr,
            control,
            control_token,
            logs_root,
            edge,
            triggers,
            origin,
            records,
            servers,
            state_file,
        })
    }

    /// The pool of the function associated with `event`.
    pub fn edge_pool(&self, event: EventType) -> Option<&Arc<Pool>> {
        self.triggers.get(event).map(|t| &t.pool)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.cloudfront)
    }

    /// One record per request CloudFront answered.
    pub fn subscribe(&self) -> broadcast::Receiver<RequestRecord> {
        self.records.subscribe()
    }

    /// Stop listening, kill every environment and wait until they are gone.
    pub async fn shutdown(mut self) {
        for s in self.servers.drain(..) {
            s.abort();
        }
        for pool in &self.edge {
            pool.shutdown().await;
        }
        self.origin.shutdown().await;
        let _ = std::fs::remove_file(&self.state_file);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for s in &self.servers {
            s.abort();
        }
        let _ = std::fs::remove_file(&self.state_file);
    }
}

/// What CloudFront refuses of a cache behaviour's associations: two on one event type, Include
/// Body on a response trigger, one function name with two different configurations (the
/// associations of one function version share its environments, so they must agree).
fn check_associations(associations: &[EdgeAssociation]) -> Result<(), String> {
    for (i, a) in associations.iter().enumerate() {
        let earlier = &associations[..i];
        if earlier.iter().any(|b| b.event_type == a.event_type) {
            return Err(format!(
                "two associations on {}: a cache behaviour has at most one per event type",
                a.event_type.as_str()
            ));
        }
        if a.include_body && a.event_type.is_response() {
            return Err(format!(
                "include body on {}: only viewer-request and origin-request triggers can include the body",
                a.event_type.as_str()
            ));
        }
        if !a.function.edge {
            return Err(format!(
                "{} on {}: an associated function runs as a Lambda@Edge replica (FunctionSpec::edge)",
                a.function.name,
                a.event_type.as_str()
            ));
        }
        if let Some(b) = earlier.iter().find(|b| b.function.name == a.function.name)
            && (b.function != a.function || b.pool != a.pool)
        {
            return Err(format!(
                "function {} is associated with {} and {} with different settings; one function version has one configuration",
                a.function.name,
                b.event_type.as_str(),
                a.event_type.as_str()
            ));
        }
    }
    Ok(())
}

/// Where a stack listening on `port` describes itself.
pub fn state_file(run_dir: &std::path::Path, port: u16) -> PathBuf {
    run_dir.join(format!("stack-{port}.json"))
}

/// Write a file only its owner can read (the state file holds the control token).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through `open`: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}
