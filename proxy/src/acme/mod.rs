//! ACME (RFC 8555) certificates, as Traefik 1.7's `[acme]` section.
//!
//! - `state`: `AcmeState`, shared by the whole process: certificates and
//!   `challenges` answers.
//! - `plan`: what to obtain; `manager`: the task that obtains it.
//! - `issue`: one order with instant-acme (DNS-01, HTTP-01 or TLS-ALPN-01),
//!   CSR by rcgen; DNS-01's records by `rfc2136` (lego's provider: RFC 2136
//!   updates signed with TSIG, over `dns_exchange`), awaited by `dns01`.
//! - `storage`: the JSON storage file (account + certificates, mode 0600),
//!   `record` its entries, `traefik` Traefik 1.7's `acme.json`.
//! - `cluster`: the same JSON in etcd for several instances, the ordering
//!   lock and the challenge answers every instance gives.
//!
//! The manager starts with the first config that has `[acme]` (the Reloader
//! calls `manager::apply` after every applied config). For every wanted
//! certificate (`[[acme.domains]]`, and with `onHostRule` each frontend's
//! `Host:` names) it uses the stored certificate while more than
//! `renewBefore` (30 days) remains, and orders a new one otherwise. Orders
//! run concurrently; an issued certificate is stored and installed at once.
//! Failures are logged and retried with exponential backoff (5 s up to
//! 1 hour); certificates already installed keep being served meanwhile.
//!
//! `storage` may also be a Traefik 1.7 `acme.json` (`traefik.rs`): its
//! certificates are served and renewed like tollgate's own. Its account is
//! not reused (instant-acme needs its own credentials, Traefik's key is
//! RSA), so a new account is registered at the first order, and the file is
//! rewritten in tollgate's format then, the certificates kept.

pub mod alpn;
pub mod challenges;
pub mod cluster;
pub mod dns01;
pub mod dns_exchange;
pub mod issue;
pub mod manager;
pub mod plan;
pub mod record;
pub mod rfc2136;
pub mod state;
pub mod storage;
pub mod traefik;

pub use state::AcmeState;
