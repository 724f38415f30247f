//! What an operator wants to know about reloads: how many were applied and
//! refused, and the last of each (`/api`, `/metrics`, the dashboard).

use std::time::SystemTime;

#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// Configurations applied, the first one included.
    pub applied: u64,
    /// Configurations refused.
    pub refused: u64,
    pub last_success: Option<SystemTime>,
    /// The error of the most recent refused reload, and when it happened.
    pub last_error: Option<(SystemTime, String)>,
}

impl ReloadStatus {
    /// This status with one more outcome.
    pub fn with(&self, result: Result<(), String>) -> ReloadStatus {
        let mut next = self.clone();
        match result {
            Ok(()) => {
                next.applied += 1;
                next.last_success = Some(SystemTime::now());
            }
            Err(e) => {
                next.refused += 1;
                next.last_error = Some((SystemTime::now(), e));
            }
        }
        next
    }

    /// Whether the most recent reload was refused.
    pub fn last_refused(&self) -> bool {
        match (&self.last_error, self.last_success) {
            (Some((failed, _)), Some(applied)) => *failed > applied,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}
