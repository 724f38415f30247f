//! HTTP/2, which hyper's h2 speaks for tollgate: what tollgate adds around
//! it to bound a hostile client, and to serve it in few steps. `stream`
//! bounds each stream's life (`writeTimeout`, and no progress for the stall
//! limit, which a closed flow-control window would otherwise hide); `stall`
//! is the clock a response body keeps for it; `budget` ends a connection
//! whose control frames (PING, SETTINGS, WINDOW_UPDATE, resets…) outrun its
//! requests; `local` runs a connection's streams in its own task;
//! `coalesce` has a connection write the responses of the streams that
//! finished together at once.

pub mod budget;
pub mod coalesce;
pub mod local;
pub mod stall;
pub mod stream;

pub use budget::Budgeted;
pub use coalesce::Coalesced;
pub use local::Local;
pub use stall::StallClock;
pub use stream::{stall_clock, StreamExecutor, StreamLimits};
