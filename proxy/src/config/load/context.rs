//! What the section loaders share about the whole file: the top-level
//! settings that change how other sections are read, and the names each
//! section defines, against which references to them are checked.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::diagnostic::Location;
use crate::config::tree::{closest, Node};

/// Settings that change how other sections are read.
pub(super) struct Globals {
    /// 1.7's `allowMinWeightZero`: without it, a weight of 0 means 1.
    pub(super) allow_min_weight_zero: bool,
    /// 1.7's global `[healthcheck] interval`, the backends' default.
    pub(super) health_interval: Duration,
}

/// Names defined in the file, for checking references. Kept apart from the
/// parsed maps so that one bad entry point does not make every frontend
/// using it report "unknown entrypoint" as well.
pub(super) struct Names {
    pub(super) entry_points: BTreeSet<String>,
    pub(super) backends: BTreeSet<String>,
    pub(super) plugins: BTreeSet<String>,
}

pub(super) fn check_entry_point_refs(node: &Node<'_>, list: &[(String, Location)], names: &Names) {
    for (name, location) in list {
        if !names.entry_points.contains(name) {
            let message = unknown_name("entry point", name, &names.entry_points);
            node.tree().error(location.clone(), message);
        }
    }
}

/// `unknown backend "x" (did you mean "X"?)`, or the names that exist.
pub(super) fn unknown_name(kind: &str, name: &str, known: &BTreeSet<String>) -> String {
    if known.is_empty() {
        return format!("unknown {kind} \"{name}\": none is defined");
    }
    if let Some(close) = closest(name, known.iter().map(String::as_str)) {
        return format!("unknown {kind} \"{name}\" (did you mean \"{close}\"?)");
    }
    let list: Vec<String> = known.iter().take(8).map(|n| format!("\"{n}\"")).collect();
    format!("unknown {kind} \"{name}\"; defined: {}", list.join(", "))
}
