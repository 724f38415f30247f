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

/// The crypto provider used everywhere (ring: pure Rust + asm, quick to build).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
