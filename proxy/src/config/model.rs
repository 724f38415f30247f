//! The plain data model of a tollgate configuration: what the TOML says,
//! with defaults applied and values parsed, but nothing compiled.
//!
//! `config::load` is the only producer of these types; `snapshot::compile`
//! is the only consumer. No logic lives here beyond small accessors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::diagnostic::{Diagnostic, Location};

/// A whole configuration, as read from the main file (and, later, the
/// `[file]` provider's files).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The main configuration file this was loaded from.
    pub source: PathBuf,
    /// `defaultEntryPoints`: entrypoints a frontend joins when it names none.
    /// Empty means "all entrypoints".
    pub default_entry_points: Vec<String>,
    pub entry_points: BTreeMap<String, EntryPoint>,
    pub frontends: BTreeMap<String, Frontend>,
    pub backends: BTreeMap<String, Backend>,
    pub log: LogConfig,
    /// `[accessLog]` (or 1.7's `accessLogsFile`): None when absent.
    pub access_log: Option<AccessLog>,
    pub responding_timeouts: RespondingTimeouts,
    pub forwarding_timeouts: ForwardingTimeouts,
    /// `[lifeCycle] graceTimeOut` (or the deprecated top-level `graceTimeOut`):
    /// how long in-flight requests may run after SIGTERM. Default 10 s.
    pub grace_timeout: Duration,
    /// `rootCAs` / `insecureSkipVerify`: TLS toward https backends.
    pub backend_tls: BackendTls,
    /// `[ping] entryPoint`: the entrypoint answering `GET /ping` with `OK`.
    /// `[ping]` without `entryPoint` means Traefik's default, `traefik`.
    pub ping: Option<String>,
    /// `[api]`: the status API and dashboard. None when absent.
    pub api: Option<Api>,
    /// `[metrics.prometheus]`: `/metrics` on an entry point. None when absent.
    pub metrics: Option<PrometheusMetrics>,
    /// `[plugins.NAME]`: WebAssembly middleware frontends can list.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// `[acme]`: automatic certificates.
    pub acme: Option<AcmeConfig>,
    /// `[tunnels]`: devices that dial in (`tollgate agent`), for
    /// `tunnel://NAME` backends.
    pub tunnels: Option<TunnelsConfig>,
    /// `[file]` provider settings (watching is implemented by the hot-reload work).
    pub file: Option<FileProvider>,
    /// `[etcd]` (1.7) or `providers.etcd` (2/3): frontends, backends and
    /// plugins kept in etcd, shared by several instances.
    pub etcd: Option<EtcdProvider>,
    /// The `[file]` provider's files that were merged in (for watching).
    pub dynamic_files: Vec<PathBuf>,
    /// The dialect of each file read (the main file first), for `check`.
    pub dialects: Vec<(PathBuf, Dialect)>,
    /// `config::digest_files` of the main file and `dynamic_files`, as read.
    pub source_digest: u64,
    /// Warnings found while loading (unknown keys, sections not yet supported).
    /// They never stop a load; `tollgate check` and `run` print them.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct EntryPoint {
    pub name: String,
    /// `address` as written: `:80`, `1.2.3.4:80`, `[::1]:8080`, `localhost:8080`.
    pub address: String,
    pub forwarded_headers: TrustedSources,
    /// `[entryPoints.X.proxyProtocol]`: None when absent.
    pub proxy_protocol: Option<TrustedSources>,
    /// `[entryPoints.X.tls]`: None for plain HTTP.
    pub tls: Option<TlsConfig>,
    /// `[entryPoints.X.redirect]`: answer every request with a redirect.
    pub redirect: Option<Redirect>,
    /// `[entryPoints.X.http]`: how requests are screened (Traefik 3 keys).
    pub http: EntryPointHttp,
    /// What one client may hold (`[limits]`, `[http2]`).
    pub limits: EntryLimits,
    /// `[entryPoints.X.transport.respondingTimeouts]` (Traefik 2): this
    /// entry point's own, instead of the top-level `[respondingTimeouts]`.
    pub responding_timeouts: Option<RespondingTimeouts>,
    /// `[entryPoints.X.auth.basic]`: every request on it must authenticate
    /// (Traefik 1.7's way to protect the API), except `/ping` and ACME
    /// challenges, which health checks and CAs make without credentials.
    pub auth: Option<BasicAuth>,
    pub location: Location,
}

impl EntryPoint {
    /// An entry point with every setting at its default, as Traefik 1.7
    /// makes `http` (no entry points at all) or `traefik` (`[ping]`, `[api]`).
    pub fn implicit(name: &str, address: &str) -> EntryPoint {
        EntryPoint {
            name: name.to_owned(),
            address: address.to_owned(),
            forwarded_headers: TrustedSources::default(),
            proxy_protocol: None,
            tls: None,
            redirect: None,
            http: EntryPointHttp::default(),
            limits: EntryLimits::default(),
            responding_timeouts: None,
            auth: None,
            location: Location::builtin(format!("entryPoints.{name}.address")),
        }
    }
}

/// `[api]` (Traefik 1.7): JSON of the running configuration under `/api`,
/// `/health`, and the dashboard under `/dashboard/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// `entryPoint`; default `traefik` (on `:8080` when not defined).
    pub entry_point: String,
    /// `dashboard`; default true.
    pub dashboard: bool,
    /// `[statistics] recentErrors`: errors `/health` lists; default 10.
    pub recent_errors: usize,
}

/// `[metrics.prometheus]` (Traefik 1.7).
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusMetrics {
    /// `entryPoint`; default `traefik`.
    pub entry_point: String,
    /// `buckets` of the request-duration histograms, in seconds; default
    /// Traefik's `[0.1, 0.3, 1.2, 5.0]`.
    pub buckets: Vec<f64>,
}

/// What one client may hold on an entry point: `[entryPoints.X.limits]`
/// (tollgate's keys) and `[entryPoints.X.http2] maxConcurrentStreams`
/// (Traefik 2's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLimits {
    /// `headerTimeout`: how long a request head may take from its first
    /// bytes (`readTimeout`, when set, is used instead).
    pub header_timeout: Duration,
    /// `maxConnections`: open connections on the entry point; a client
    /// over it is disconnected at once. None: no limit.
    pub max_connections: Option<u32>,
    /// `maxConnectionsPerIP`: open connections from one client address.
    pub max_connections_per_ip: Option<u32>,
    /// `minBodyRate`: the bytes per second a request body must average
    /// while tollgate waits on its client (after a grace as long as a head
    /// may take); below it the request gets 408 (slow POST). 0: no minimum.
    pub min_body_rate: u32,
    /// `[http2] maxConcurrentStreams`: streams one HTTP/2 connection may
    /// have open.
    pub max_concurrent_streams: u32,
    /// `[http] maxHeaderBytes` (Traefik 3): the largest request head (431
    /// beyond; HTTP/2's header-list limit too). None: the HTTP/1 policy's.
    pub max_header_bytes: Option<usize>,
    /// `maxURIBytes`: the longest request target (414 beyond).
    pub max_uri_bytes: Option<usize>,
    /// `maxHeaders`: the most header lines (431 beyond; at most 100).
    pub max_headers: Option<usize>,
}

impl Default for EntryLimits {
    fn default() -> Self {
        EntryLimits {
            header_timeout: Duration::from_secs(30),
            max_connections: None,
            max_connections_per_ip: None,
            min_body_rate: 100,
            max_concurrent_streams: 250,
            max_header_bytes: None,
            max_uri_bytes: None,
            max_headers: None,
        }
    }
}

/// `[entryPoints.X.http]`, with Traefik 3's names: what a request path and
/// header names may contain before they are routed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPointHttp {
    /// `[encodedCharacters]`: the encoded characters allowed in a path
    /// (each refused with 400 by default).
    pub encoded: EncodedCharacters,
    /// `underscoreHeadersStrategy`.
    pub underscore_headers: UnderscoreHeaders,
}

/// `allowEncodedSlash` (`%2F`), `allowEncodedBackSlash` (`%5C`),
/// `allowEncodedNullCharacter` (`%00`), `allowEncodedSemicolon` (`%3B`),
/// `allowEncodedPercent` (`%25`), `allowEncodedQuestionMark` (`%3F`),
/// `allowEncodedHash` (`%23`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodedCharacters {
    pub slash: bool,
    pub back_slash: bool,
    pub null_character: bool,
    pub semicolon: bool,
    pub percent: bool,
    pub question_mark: bool,
    pub hash: bool,
}

/// What happens to a request header whose name has an underscore (backends
/// that map `X_User` and `X-User` to one variable can be fooled by it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnderscoreHeaders {
    /// Forwarded as is (Traefik's default).
    #[default]
    Keep,
    /// Removed before routing (nginx's `underscores_in_headers off`).
    Delete,
    /// The request is refused with 400.
    Reject,
}

/// Which sources an entry point believes about the client: whose
/// `X-Forwarded-*` headers (`[entryPoints.X.forwardedHeaders]`), or whose
/// PROXY protocol header (`[entryPoints.X.proxyProtocol]`). Same keys.
#[derive(Debug, Clone, Default)]
pub struct TrustedSources {
    /// Every source (`insecure = true`).
    pub insecure: bool,
    /// These networks (CIDR or single IPs), as written (`trustedIPs`).
    pub trusted_ips: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Frontend {
    pub name: String,
    pub backend: String,
    /// Empty means `defaultEntryPoints`.
    pub entry_points: Vec<String>,
    /// Default true (Traefik 1.7's file provider default).
    pub pass_host_header: bool,
    /// 0 means "use the rule length", as in Traefik 1.7.
    pub priority: i64,
    /// Routes in name order; all of them must match (AND).
    pub routes: Vec<Route>,
    /// How the routes' rules are written.
    pub rule_syntax: RuleSyntax,
    /// Traefik 2/3 path middlewares (`stripPrefix`, `addPrefix`, ...), run
    /// once the frontend is chosen; 1.7 writes these into its rules.
    pub path_modifiers: Vec<PathModifier>,
    /// `middlewares = [...]`: names of `[plugins.NAME]`, run in this order.
    pub middlewares: Vec<(String, Location)>,
    /// `basicAuth = [...]` or `[frontends.X.auth.basic]`: the built-in basic-auth plugin.
    pub basic_auth: Option<BasicAuth>,
    /// `[frontends.X.headers]`, as JSON for the built-in headers plugin.
    pub headers: Option<serde_json::Value>,
    pub location: Location,
}

/// Which Traefik wrote the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleSyntax {
    /// `Host:a.com,b.com;PathPrefixStrip:/app` (1.7's frontends).
    #[default]
    Traefik1,
    /// ``Host(`a.com`) && PathPrefix(`/app`)`` (2 and 3's routers; both
    /// versions' matchers are taken, see `router::predicate`).
    Traefik3,
}

impl Frontend {
    /// The headers plugin's config, if it has anything to do: an empty
    /// `[frontends.X.headers]` (seed 001 has one) runs no plugin and so
    /// costs no ~2 µs per request.
    pub fn headers_to_apply(&self) -> Option<&serde_json::Value> {
        self.headers
            .as_ref()
            .filter(|h| h.as_object().is_none_or(|o| !o.is_empty()))
    }
}

impl Config {
    /// The entry points a frontend is served on: its own `entryPoints`,
    /// else `defaultEntryPoints`, else every entry point.
    pub fn entry_points_of<'c>(&'c self, f: &'c Frontend) -> Vec<&'c str> {
        let listed = if f.entry_points.is_empty() {
            &self.default_entry_points
        } else {
            &f.entry_points
        };
        if listed.is_empty() {
            self.entry_points.keys().map(String::as_str).collect()
        } else {
            listed.iter().map(String::as_str).collect()
        }
    }
}

/// Traefik 1.7's basic authentication of a frontend.
/// Which Traefik a config file is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Traefik 1.7's frontends and backends.
    #[default]
    Traefik1,
    /// Traefik 2 and 3's routers, services and middlewares.
    Traefik3,
}

impl Dialect {
    pub fn describe(self) -> &'static str {
        match self {
            Dialect::Traefik1 => "Traefik 1.7",
            Dialect::Traefik3 => "Traefik 2/3",
        }
    }
}

/// A Traefik 2/3 middleware that changes the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathModifier {
    /// `stripPrefix.prefixes`: the first that the path starts with.
    StripPrefix(Vec<String>),
    /// `stripPrefixRegex.regex`: the first that matches at the start.
    StripPrefixRegex(Vec<String>),
    /// `addPrefix.prefix`.
    AddPrefix(String),
    /// `replacePath.path`.
    ReplacePath(String),
    /// `replacePathRegex.regex` and `.replacement`.
    ReplacePathRegex { regex: String, replacement: String },
}

#[derive(Debug, Clone, Default)]
pub struct BasicAuth {
    /// `user:hash` lines (htpasswd).
    pub users: Vec<String>,
    /// `usersFile`: more `user:hash` lines, relative to the config's folder.
    pub users_file: Option<PathBuf>,
    pub realm: Option<String>,
    /// `removeHeader`: do not pass `Authorization` upstream.
    pub remove_header: bool,
    /// `headerField`: pass the authenticated user upstream in this header.
    pub header_field: Option<String>,
    pub location: Option<Location>,
}

/// `[plugins.NAME]`: tollgate's WebAssembly middleware.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub name: String,
    /// The `.wasm` file, relative to the config's folder.
    pub path: PathBuf,
    /// `[plugins.NAME.config]`: any table, handed to the guest as JSON; or
    /// `config = "..."`: a string, handed over as its bytes (for guests
    /// that parse their own format). See `PluginConfig::guest_bytes`.
    pub config: serde_json::Value,
    /// Deadline of each call into the guest (default 50 ms).
    pub timeout: Option<Duration>,
    /// Memory limit of each instance in bytes (default 16 MiB).
    pub memory: Option<usize>,
    pub location: Location,
    /// Where each key of the `config` table is (any depth), so that a
    /// plugin's complaint about a key points at it in the file.
    pub config_keys: Vec<Location>,
}

impl PluginConfig {
    /// What `get_config` gives the guest.
    pub fn guest_bytes(&self) -> Vec<u8> {
        match &self.config {
            serde_json::Value::String(raw) => raw.as_bytes().to_vec(),
            table => table.to_string().into_bytes(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    /// The rule text, e.g. `Host:example.com;PathPrefix:/zumi01`.
    pub rule: String,
    /// Where the `rule` value sits, for compile errors.
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    /// Servers in name order.
    pub servers: Vec<Server>,
    pub load_balancer: LoadBalancerMethod,
    pub max_conn: Option<MaxConn>,
    /// `[backends.X.responseForwarding] flushInterval`. tollgate forwards every
    /// chunk as soon as it arrives, so this is accepted and only reported.
    pub flush_interval: Option<Duration>,
    pub health_check: Option<HealthCheck>,
    /// `[backends.X.buffering] maxRequestBodyBytes`: the largest request
    /// body sent to this backend (413 beyond). None: no limit (0 in 1.7).
    pub max_request_body: Option<u64>,
    /// Where a templated server URL may lead (tollgate extension); None:
    /// the backend's URLs may not be templated.
    pub allowed: Option<AllowList>,
    /// `resolvers = ["10.0.0.53:53"]`: the name servers that resolve its
    /// templated targets; empty: the system's resolver.
    pub resolvers: Vec<std::net::SocketAddr>,
    /// `maxTargets`: how many templated targets (and their connection
    /// pools) are kept at once; the least recently used goes first.
    pub max_targets: usize,
    pub location: Location,
}

/// `maxTargets` when not set.
pub const DEFAULT_MAX_TARGETS: usize = 4096;

/// `allowedNetworks` and `allowedHosts` of a backend whose server URL is
/// templated (`http://{device}.cams.internal:8080`): a substituted target
/// must match both lists that are given (see `upstream::allow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// CIDRs (or single addresses) as written; every address a target
    /// resolves to is checked against them before it is dialed.
    pub networks: Vec<String>,
    /// Host names (`cam1.internal`) or `*.` suffix patterns
    /// (`*.cams.internal`), lower-case.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    /// `http`, `https` or `h2c`.
    pub scheme: Scheme,
    /// `host:port` with the scheme's default port filled in.
    pub authority: String,
    /// The URL as written (its path, if any, is ignored as in Traefik 1.7).
    pub url: String,
    /// Default 1. A weight of 0 takes the server out of rotation.
    pub weight: u32,
    /// The names of the variables its URL uses (`{device}`), in order;
    /// empty for a plain URL. A templated server's `authority` is the
    /// template text.
    pub vars: Vec<String>,
    pub location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
    H2c,
    /// `tunnel://NAME`: HTTP/1.1 through device NAME's tunnel.
    Tunnel,
}

impl Scheme {
    /// As written in a server URL.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::H2c => "h2c",
            Scheme::Tunnel => "tunnel",
        }
    }
}

/// A tunnel device's name, as `tunnel://NAME`, `[tunnels.devices.NAME]`
/// and `tollgate agent --name` write it: lower-case letters, digits, `-`
/// and `_`, at most 63 (a host-name label, so it can also be a `{device}`
/// value).
pub fn valid_device_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

/// `[tunnels]`: `entryPoint` (a TLS entry point the agents dial) and
/// `[tunnels.devices.NAME] tokenHash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelsConfig {
    pub entry_point: String,
    /// By device name: its token's bcrypt hash.
    pub devices: BTreeMap<String, String>,
    /// `[tunnels.cluster]`: several instances on one etcd; a device is
    /// reached through whichever instance holds its tunnel.
    pub cluster: Option<TunnelCluster>,
    pub location: Location,
}

/// `[tunnels.cluster]` (see `crate::tunnel::peers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelCluster {
    /// `host:port` where the other instances reach this one's tunnel
    /// entry point; published in etcd beside the devices it holds.
    pub advertise: String,
    /// Shared by the instances: shown by the one that connects, checked by
    /// the one that accepts.
    pub token: String,
    /// What the instances' tunnel certificates are checked against (the
    /// system roots without it).
    pub ca: Option<PemSource>,
    /// The name their certificates are checked for (the advertised host
    /// without it).
    pub server_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadBalancerMethod {
    /// Weighted round robin (default).
    #[default]
    Wrr,
    /// Dynamic round robin: weights follow observed latency in Traefik 1.7.
    Drr,
}

impl LoadBalancerMethod {
    /// As the config writes it.
    pub fn name(self) -> &'static str {
        match self {
            LoadBalancerMethod::Wrr => "wrr",
            LoadBalancerMethod::Drr => "drr",
        }
    }
}

/// `[backends.X.maxConn]`: at most `amount` requests in flight per source.
#[derive(Debug, Clone)]
pub struct MaxConn {
    pub amount: u32,
    pub extractor: Extractor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extractor {
    /// `client.ip`
    ClientIp,
    /// `request.host`
    RequestHost,
    /// `request.header.NAME`
    RequestHeader(String),
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub path: String,
    /// Default 30 s.
    pub interval: Duration,
    /// Default 5 s.
    pub timeout: Duration,
    /// Overrides the server's port.
    pub port: Option<u16>,
    /// Overrides the server's scheme (`http` / `https`).
    pub scheme: Option<Scheme>,
    /// Sent as the Host header.
    pub hostname: Option<String>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    /// `[traefikLog] filePath` (or deprecated `traefikLogsFile`); None = stderr.
    pub file_path: Option<PathBuf>,
    pub format: LogFormat,
    /// `logLevel`: DEBUG, INFO, WARN, ERROR, FATAL, PANIC (default ERROR in 1.7;
    /// tollgate defaults to INFO so a newcomer sees it start).
    pub level: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Common,
    Json,
}

/// `[accessLog]`: one line per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLog {
    /// `filePath`; None: standard output. Relative to the working
    /// directory, as in Traefik; its folder is created if missing.
    pub file_path: Option<PathBuf>,
    /// `format`: Traefik's common log format, or JSON with its field names.
    pub format: LogFormat,
    /// `[filters]`: a request is logged when any filter keeps it (all are
    /// when there are none).
    pub status_codes: Vec<(u16, u16)>,
    pub retry_attempts: bool,
    pub min_duration: Option<Duration>,
    /// `[fields]` (JSON only, as in Traefik): which fields are written.
    pub fields: AccessLogFields,
}

/// `[accessLog.fields]`: `defaultMode` and `[names]` for fields,
/// `[headers] defaultMode` and `[headers.names]` for request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogFields {
    pub default_mode: FieldMode,
    pub names: BTreeMap<String, FieldMode>,
    pub headers_default: FieldMode,
    /// Header names in lower case.
    pub header_names: BTreeMap<String, FieldMode>,
}

impl Default for AccessLogFields {
    fn default() -> Self {
        AccessLogFields {
            default_mode: FieldMode::Keep,
            names: BTreeMap::new(),
            // Traefik 1.7 drops headers unless told otherwise.
            headers_default: FieldMode::Drop,
            header_names: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldMode {
    Keep,
    Drop,
    /// The value is written as `REDACTED` (headers only).
    Redact,
}

/// `[respondingTimeouts]`: limits on the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondingTimeouts {
    /// Time to read a request's headers. None = no limit (1.7 default 0).
    pub read: Option<Duration>,
    /// Time to write a response. None = no limit.
    pub write: Option<Duration>,
    /// Keep-alive idle time. Default 180 s.
    pub idle: Duration,
}

impl Default for RespondingTimeouts {
    fn default() -> Self {
        Self {
            read: None,
            write: None,
            idle: Duration::from_secs(180),
        }
    }
}

/// `[forwardingTimeouts]`: limits on the backend side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingTimeouts {
    /// Time to connect to a backend. Default 30 s.
    pub dial: Duration,
    /// Time to wait for a backend's response headers. None = no limit.
    pub response_header: Option<Duration>,
    /// `idleConnTimeout` (Traefik 2's name): how long an idle keep-alive
    /// connection to a backend is kept for reuse. Default 90 s.
    pub idle_conn: Duration,
    /// The top-level `maxIdleConnsPerHost` (1.7): idle connections kept per
    /// backend server; the oldest is closed beyond. Default 512.
    pub max_idle_per_host: usize,
}

impl Default for ForwardingTimeouts {
    fn default() -> Self {
        Self {
            dial: Duration::from_secs(30),
            response_header: None,
            idle_conn: Duration::from_secs(90),
            max_idle_per_host: 512,
        }
    }
}

/// `[file]` provider.
#[derive(Debug, Clone, Default)]
pub struct FileProvider {
    pub watch: bool,
    pub filename: Option<PathBuf>,
    pub directory: Option<PathBuf>,
}

/// `[etcd]`: where the store is and which keys are this config's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdProvider {
    /// `host:port` or `http(s)://host:port`, one or more members.
    pub endpoints: Vec<String>,
    /// The keys read are `PREFIX/...` (1.7's `/traefik`, 3's `traefik`).
    pub prefix: String,
    /// Follow changes (etcd's watch API); false reads once at start and on
    /// each reload of the file.
    pub watch: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `[etcd.tls]`: https to etcd, with a client certificate if given.
    pub tls: Option<EtcdTls>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdTls {
    /// The CA etcd's certificate is checked against (system roots if None).
    pub ca: Option<PemSource>,
    /// The client certificate and key, both or neither.
    pub cert: Option<PemSource>,
    pub key: Option<PemSource>,
}

/// A PEM value as Traefik 1.7 accepts it: a file path, or the PEM text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    File(PathBuf),
    Inline(String),
}

impl PemSource {
    /// Traefik's rule: a value that holds a PEM header is the PEM itself.
    pub fn from_config(value: &str, base: &std::path::Path) -> PemSource {
        if value.contains("-----BEGIN") {
            PemSource::Inline(value.to_string())
        } else {
            let p = PathBuf::from(value);
            PemSource::File(if p.is_absolute() { p } else { base.join(p) })
        }
    }

    /// How to name this source in an error.
    pub fn describe(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Inline(_) => "<inline PEM>".to_string(),
        }
    }
}

/// `[entryPoints.X.tls]`.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// `[[entryPoints.X.tls.certificates]]`; the first is the default certificate.
    pub certificates: Vec<CertificatePair>,
    /// None = TLS 1.2 and 1.3.
    pub min_version: Option<TlsVersion>,
    /// Go names, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`; empty = rustls defaults.
    pub cipher_suites: Vec<String>,
    pub client_ca: Option<ClientCa>,
    /// Refuse handshakes whose SNI matches no certificate (instead of using the default).
    pub sni_strict: bool,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct CertificatePair {
    pub cert: PemSource,
    pub key: PemSource,
    pub location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// `[entryPoints.X.tls.clientCA]`: mutual TLS.
#[derive(Debug, Clone)]
pub struct ClientCa {
    pub files: Vec<PemSource>,
    /// Ask for a client certificate but accept connections without one.
    pub optional: bool,
}

/// `[entryPoints.X.redirect]`.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// Redirect to this entrypoint's scheme and port.
    pub entry_point: Option<String>,
    /// Rewrite the full request URL with this regex and replacement instead.
    pub regex: Option<String>,
    pub replacement: Option<String>,
    /// 301/308 instead of 302/307.
    pub permanent: bool,
    pub location: Location,
}

/// How tollgate talks TLS to `https://` backends (top-level 1.7 keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendTls {
    /// `rootCAs`: extra CAs trusted besides the system roots.
    pub root_cas: Vec<PemSource>,
    /// `insecureSkipVerify`: accept any backend certificate (logged as a warning).
    pub insecure_skip_verify: bool,
}

/// `[acme]`: automatic certificates (Traefik 1.7 keys; see `crate::acme`).
#[derive(Debug, Clone, PartialEq)]
pub struct AcmeConfig {
    pub email: String,
    /// `storage`: the JSON file holding the account and the certificates.
    pub storage: PathBuf,
    /// `storage` as written: with `[etcd]` and not ending in `.json`, the
    /// etcd key holding the same JSON, shared by every instance (as 1.7's
    /// KV storage); see `crate::acme::cluster`.
    pub storage_key: String,
    /// `entryPoint`: the TLS entrypoint the certificates are for.
    pub entry_point: String,
    /// `onHostRule`: also get certificates for frontends' `Host:` rules.
    pub on_host_rule: bool,
    /// With `on_host_rule`: only these frontends' hosts (Traefik 2/3: the
    /// routers naming the resolver); None: every frontend's (1.7).
    pub host_rule_frontends: Option<std::collections::BTreeSet<String>>,
    /// `caServer`: the ACME directory URL (default: Let's Encrypt production).
    pub ca_server: String,
    /// `caCertificates`: PEM files trusted for the CA's own HTTPS, besides
    /// the system roots (and `LEGO_CA_CERTIFICATES`).
    pub ca_certificates: Vec<PathBuf>,
    /// `acmeLogging`: log every step at info level.
    pub acme_logging: bool,
    /// `[acme.httpChallenge] entryPoint`.
    pub http_challenge: Option<String>,
    /// `[acme.tlsChallenge]`.
    pub tls_challenge: bool,
    /// `[acme.dnsChallenge]`: DNS-01, the only way to wildcard names.
    pub dns_challenge: Option<DnsChallenge>,
    /// `[[acme.domains]]`: each a certificate for `main` plus `sans`.
    pub domains: Vec<Vec<String>>,
    pub key_type: AcmeKeyType,
    /// `renewBefore` (tollgate extension): renew when less remains. 30 days.
    pub renew_before: Duration,
}

/// `[acme.dnsChallenge]`: `provider` (only `rfc2136`), `delayBeforeCheck`,
/// `resolvers`; the provider's settings come from lego's environment
/// variables, as in Traefik.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsChallenge {
    /// Wait this long after the records are added, before checking them.
    pub delay_before_check: Duration,
    /// Where the records are looked for before the CA is told to check
    /// (empty: the provider's name server).
    pub resolvers: Vec<std::net::SocketAddr>,
    pub rfc2136: Rfc2136,
}

/// lego's `rfc2136` provider: dynamic updates (RFC 2136) to an
/// authoritative name server, signed with TSIG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc2136 {
    /// `RFC2136_NAMESERVER`: where updates are sent (port 53 by default).
    pub nameserver: std::net::SocketAddr,
    /// `RFC2136_TSIG_KEY`, `_SECRET`, `_ALGORITHM`; None: unsigned updates.
    pub tsig: Option<TsigKey>,
    /// `RFC2136_TTL` of the TXT records (120 s).
    pub ttl: u32,
    /// `RFC2136_PROPAGATION_TIMEOUT` (60 s) and `RFC2136_POLLING_INTERVAL`
    /// (2 s): how long and how often the records are looked for.
    pub propagation_timeout: Duration,
    pub polling_interval: Duration,
    /// `RFC2136_DNS_TIMEOUT`: one exchange with the name server (10 s).
    pub dns_timeout: Duration,
}

#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name, as the name server knows it (`tollgate.`).
    pub name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: TsigAlgorithm,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, in logs or errors.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcmeKeyType {
    #[default]
    Ec256,
    Ec384,
    Rsa2048,
    Rsa4096,
}
