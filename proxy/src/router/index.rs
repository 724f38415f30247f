//! Candidate pre-filter, so that routing among 1,000 frontends checks a
//! handful of them instead of all.
//!
//! Frontends are identified by their *rank*: their position in priority order
//! (0 = tried first). The index only answers "which frontends could match?";
//! the caller's predicate decides, and the index returns the lowest-ranked
//! candidate that matches, which is what a linear scan in priority order
//! would return, provided every frontend that can match is a candidate:
//!
//! - a frontend with a plain `Host` matcher is filed under each of its
//!   (lower-case) host names, and only there;
//! - within a host, or among the host-less frontends, a frontend is filed in
//!   a byte trie under each literal prefix of its most selective path matcher
//!   (a path it matches must start with one of them), or at the trie's root
//!   (always a candidate) when it has none.
//!
//! Every trie node lists its ranks in ascending order, so the search of a list
//! stops at the first match or as soon as the ranks reach the best match found
//! so far.

use std::collections::HashMap;

use super::frontend::Frontend;

/// Host names longer than this are not indexed (DNS names are at most 253
/// bytes): request hosts are lower-cased into a buffer of this size on the
/// stack, to avoid allocating.
const MAX_INDEXED_HOST: usize = 255;

const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(super) struct Index {
    by_host: HashMap<Box<str>, PathTrie>,
    any_host: PathTrie,
}

impl Index {
    /// `frontends` must be in rank order.
    pub(super) fn build(frontends: &[Frontend]) -> Index {
        let mut index = Index::default();
        for (rank, frontend) in frontends.iter().enumerate() {
            let rank = u32::try_from(rank).unwrap_or(NONE - 1);
            let prefixes = frontend.required_path_prefixes();
            let prefixes = prefixes.as_deref().unwrap_or(&[""]);
            match frontend.required_hosts() {
                Some(hosts) if hosts.iter().all(|h| h.len() <= MAX_INDEXED_HOST) => {
                    for host in hosts {
                        let trie = index.by_host.entry(host.into()).or_default();
                        for prefix in prefixes {
                            trie.insert(prefix.as_bytes(), rank);
                        }
                    }
                }
                _ => {
                    for prefix in prefixes {
                        index.any_host.insert(prefix.as_bytes(), rank);
                    }
                }
            }
        }
        index.any_host.finish();
        for trie in index.by_host.values_mut() {
            trie.finish();
        }
        index
    }

    /// The lowest rank among the candidates for which `is_match` holds.
    /// `host` is the request's host without port or trailing dot.
    pub(super) fn best_match(
        &self,
        host: Option<&str>,
        path: &str,
        mut is_match: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        let mut best = NONE;
        // A request without host matches `Host` values that canonicalize to
        // "" (`Host:.`), as the matchers see it: look those up too.
        if let Some(trie) = self.host_trie(host.unwrap_or("")) {
            trie.search(path.as_bytes(), &mut best, &mut is_match);
        }
        self.any_host
            .search(path.as_bytes(), &mut best, &mut is_match);
        (best != NONE).then_some(best)
    }

    fn host_trie(&self, host: &str) -> Option<&PathTrie> {
        if self.by_host.is_empty() || host.len() > MAX_INDEXED_HOST {
            return None;
        }
        let mut buf = [0u8; MAX_INDEXED_HOST];
        let lower = &mut buf[..host.len()];
        lower.copy_from_slice(host.as_bytes());
        lower.make_ascii_lowercase();
        // ASCII lower-casing keeps UTF-8 valid; the error arm cannot happen.
        let lower = std::str::from_utf8(lower).ok()?;
        self.by_host.get(lower)
    }
}

/// A byte trie of literal path prefixes, nodes in a flat vector.
#[derive(Debug, Default)]
struct PathTrie {
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    /// (byte, child node), sorted by byte.
    children: Vec<(u8, u32)>,
    /// Frontends filed here, ascending.
    ranks: Vec<u32>,
    /// The nearest ancestor with ranks (NONE if none), to walk back up
    /// without visiting empty nodes.
    up: u32,
    parent: u32,
}

impl Node {
    fn new(parent: u32) -> Node {
        Node {
            children: Vec::new(),
            ranks: Vec::new(),
            up: NONE,
            parent,
        }
    }
}

impl PathTrie {
    /// Ranks must be inserted in ascending order.
    fn insert(&mut self, prefix: &[u8], rank: u32) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::new(NONE));
        }
        let mut at = 0usize;
        for &b in prefix {
            at = match self.nodes[at]
                .children
                .binary_search_by_key(&b, |&(c, _)| c)
            {
                Ok(i) => self.nodes[at].children[i].1 as usize,
                Err(i) => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::new(at as u32));
                    self.nodes[at].children.insert(i, (b, child as u32));
                    child
                }
            };
        }
        let ranks = &mut self.nodes[at].ranks;
        // The same frontend may come twice (`PathPrefix:/a,/a`).
        if ranks.last() != Some(&rank) {
            ranks.push(rank);
        }
    }

    /// Links every node to its nearest ancestor with ranks. Parents are
    /// created before their children, so one forward pass suffices.
    fn finish(&mut self) {
        for i in 1..self.nodes.len() {
            let parent = self.nodes[i].parent as usize;
            self.nodes[i].up = if self.nodes[parent].ranks.is_empty() {
                self.nodes[parent].up
            } else {
                parent as u32
            };
        }
    }

    /// Lowers `best` to the lowest matching rank among the frontends filed
    /// under a prefix of `path`.
    fn search(&self, path: &[u8], best: &mut u32, is_match: &mut impl FnMut(u32) -> bool) {
        let Some(mut node) = self.nodes.first() else {
            return;
        };
        let mut at = 0u32;
        // Descend as far as the path goes, then visit the nodes on the way
        // back up: the longest prefixes first, as they usually belong to the
        // most specific (highest priority) frontends, which lets the
        // `rank < best` cut-off skip the generic ones.
        for &b in path {
            match node.children.binary_search_by_key(&b, |&(c, _)| c) {
                Ok(i) => {
                    at = node.children[i].1;
                    node = &self.nodes[at as usize];
                }
                Err(_) => break,
            }
        }
        if node.ranks.is_empty() {
            at = node.up;
        }
        while let Some(node) = self.nodes.get(at as usize) {
            for &rank in &node.ranks {
                if rank >= *best {
                    break;
                }
                if is_match(rank) {
                    *best = rank;
                    break;
                }
            }
            at = node.up;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(entries: &[(&str, u32)]) -> PathTrie {
        let mut entries = entries.to_vec();
        entries.sort_by_key(|&(_, r)| r);
        let mut t = PathTrie::default();
        for (p, r) in entries {
            t.insert(p.as_bytes(), r);
        }
        t.finish();
        t
    }

    fn candidates(t: &PathTrie, path: &str) -> Vec<u32> {
        let mut seen = Vec::new();
        let mut best = NONE;
        t.search(path.as_bytes(), &mut best, &mut |r| {
            seen.push(r);
            false
        });
        seen.sort_unstable();
        seen
    }

    #[test]
    fn trie_yields_frontends_filed_under_prefixes_of_the_path() {
        let t = trie(&[
            ("", 0),
            ("/a", 1),
            ("/ab", 2),
            ("/b", 3),
            ("/a/c", 4),
            ("/a", 5),
        ]);
        assert_eq!(candidates(&t, "/ab/x"), [0, 1, 2, 5]);
        assert_eq!(candidates(&t, "/a/c"), [0, 1, 4, 5]);
        assert_eq!(candidates(&t, "/a"), [0, 1, 5]);
        assert_eq!(candidates(&t, "/"), [0]);
        assert_eq!(candidates(&t, "/c"), [0]);
        assert!(candidates(&PathTrie::default(), "/a").is_empty());
    }

    #[test]
    fn search_stops_at_the_best_rank() {
        let t = trie(&[("", 9), ("/a", 1), ("/a", 4), ("/ab", 3)]);
        let mut tried = Vec::new();
        let mut best = NONE;
        t.search(b"/ab", &mut best, &mut |r| {
            tried.push(r);
            r == 3 || r == 4 || r == 9
        });
        assert_eq!(best, 3);
        // /ab first (3 matches), then /a (1 tried, 4 skipped), then root (9 skipped).
        assert_eq!(tried, [3, 1]);
    }
}
