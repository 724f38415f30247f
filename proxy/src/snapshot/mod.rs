//! The running configuration: an immutable `Snapshot` compiled from a
//! `config::Config` (`compile`), published in `Shared` beside the state that
//! outlives snapshots.
//!
//! - `shared`: the current snapshot and what survives reloads; `slot`:
//!   entrypoints' stable indexes; `admission`: their open connections and
//!   connection limits; `reload_status`: reload outcomes.
//! - `routes`: the snapshot itself (entrypoints, frontends, backends).
//! - `responding`: how client connections are served.
//! - `redirect`: an entrypoint's redirect, compiled.
//! - `compile`: `Config → Snapshot`; `plugins`: frontends' plugin chains.

pub mod admission;
pub mod compile;
pub mod etcd_status;
pub mod plugins;
pub mod redirect;
pub mod reload_status;
pub mod responding;
pub mod routes;
pub mod shared;
pub mod slot;

pub use reload_status::ReloadStatus;
pub use routes::{BackendRuntime, Endpoints, EntryRoutes, FrontendRuntime, Snapshot};
pub use shared::Shared;
pub use slot::Slot;
