//! Byte offsets to the 1-based line and column (in characters) a user sees.

/// A line where the TOML reader inserted a bracket (see `toml::repair`):
/// columns after it shift back by one, so that positions refer to the file
/// as written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shift {
    pub line: u32,
    pub inserted_column: u32,
}

pub(super) struct LineIndex {
    starts: Vec<usize>,
    shifts: Vec<Shift>,
}

impl LineIndex {
    pub(super) fn new(text: &str, shifts: Vec<Shift>) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts, shifts }
    }

    pub(super) fn position(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(text, offset);
        let index = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(index).copied().unwrap_or(0).min(offset);
        let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        let line = to_u32(index + 1);
        let mut column = to_u32(column);
        let shifted = self
            .shifts
            .iter()
            .any(|s| s.line == line && column > s.inserted_column);
        if shifted {
            column -= 1;
        }
        (line, column)
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

pub(super) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
