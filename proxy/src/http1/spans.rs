//! Where each header's name and value lie in a head buffer, so that header
//! values can share the buffer's memory once it is frozen into `Bytes`.

/// Where each header's name and value lie in a head buffer: recorded while
/// httparse borrows the buffer, used once the head is frozen into `Bytes`
/// (header values then share its memory). Inline for the usual dozen
/// headers, since zeroing room for `MAX_HEADERS` costs more than parsing a
/// head; a rare larger head spills to the heap.
pub struct Spans {
    inline: [Span; INLINE_SPANS],
    len: usize,
    spill: Vec<Span>,
}

const INLINE_SPANS: usize = 24;

/// Byte ranges `(start, end)` of one header's name and value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub name: (u32, u32),
    pub value: (u32, u32),
}

impl Spans {
    pub fn new() -> Self {
        Spans {
            inline: [Span::default(); INLINE_SPANS],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Record `name` and `value`, which lie in the buffer starting at `base`.
    pub fn push(&mut self, base: *const u8, name: &[u8], value: &[u8]) {
        let start = |s: &[u8]| (s.as_ptr() as usize - base as usize) as u32;
        let (n, v) = (start(name), start(value));
        let span = Span {
            name: (n, n + name.len() as u32),
            value: (v, v + value.len() as u32),
        };
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = span,
            None => self.spill.push(span),
        }
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Span> {
        self.inline[..self.len.min(INLINE_SPANS)]
            .iter()
            .chain(self.spill.iter())
    }
}

impl Default for Spans {
    fn default() -> Self {
        Self::new()
    }
}
