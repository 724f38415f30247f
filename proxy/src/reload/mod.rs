//! Applying a changed configuration without dropping a connection: the
//! `reloader` (load, compile, rebind listeners, publish, all or nothing)
//! and what triggers it, `watch` (file changes; SIGHUP is in `app`) and
//! `etcd` (the keys of an `[etcd]` provider).

pub mod etcd;
pub mod reloader;
pub mod watch;

pub use reloader::Reloader;
