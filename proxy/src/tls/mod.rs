//! TLS with rustls: certificates from files or inline PEM, chosen by SNI
//! through a resolver whose certificate set can be replaced at runtime (hot
//! reload, ACME) without restarting a listener; per-entrypoint protocol
//! settings (versions, cipher suites, client certificates, ALPN h2); and the
//! client side for `https://` backends.
//!
//! - `pem`: reading PEM certificates and keys, errors naming the file.
//! - `store`: an immutable set of certificates indexed by DNS name.
//! - `resolver`: `ResolvesServerCert` over a swappable `CertStore`.
//! - `acceptor`: `[entryPoints.X.tls]` → rustls `ServerConfig`.
//! - `client`: the rustls `ClientConfig` for backends.

pub mod acceptor;
pub mod client;
pub mod pem;
pub mod resolver;
pub mod store;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The crypto provider of every TLS connection, client and server side:
/// aws-lc, whose RSA-2048 signature takes 270-300 µs on the bench machine
/// against ring's 660-700 µs (OpenSSL's: 290 µs), which is most of a full
/// RSA handshake's cost (proxy/benches/RESULTS.md, 4b).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(base_provider())
}

/// Make `provider` the process's default as well, for what asks rustls for
/// it: with both ring and aws-lc built in, rustls cannot pick one itself
/// and panics. Called first thing by `tollgate`.
pub fn install_process_default() {
    // Err only when one is installed already: it stays.
    let _ = base_provider().install_default();
}

/// The device agent's provider (`tunnel::agent`): ring. An agent makes one
/// TLS connection and keeps it, so handshake speed does not matter, and
/// without aws-lc the `tollgate-agent` binary stays small (6.6 MB, against
/// 8.8 MB with it). Its binary installs it as the process default.
pub fn agent_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// `provider`'s value, to restrict before sharing (`acceptor`).
pub fn base_provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}
