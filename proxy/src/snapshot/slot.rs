//! Entrypoint slots: how listeners find their entrypoint's routes.

/// Stable index of an entrypoint name, valid across reloads: listeners keep
/// their slot and find their routes with one index, not a string lookup.
pub type Slot = usize;
