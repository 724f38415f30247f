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
//!   (lower-case) host names, and only there; within a host, as among the
//!   frontends without a host key, it is filed in a radix trie under each
//!   literal prefix of its most selective path matcher (a path it matches
//!   starts with one of them), or at the trie's root (always a candidate);
//! - a `HostRegexp` template ending in literal text (`{sub}.example.com`) is
//!   filed under that suffix in a radix trie of reversed host names.
//!
//! Every trie node lists its ranks in ascending order, so the search of a list
//! stops at the first match or as soon as the ranks reach the best match found
//! so far.

use std::collections::HashMap;

use super::frontend::Frontend;
use super::template::HostKey;

const NONE: u32 = u32::MAX;

/// Request hosts are lower-cased into a buffer of this size on the stack
/// (DNS names are at most 253 bytes); longer ones, bogus, take the heap.
const HOST_BUFFER: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Index {
    by_host: HashMap<Box<str>, PathTrie>,
    /// Keyed by reversed lower-case host suffixes.
    by_host_suffix: PathTrie,
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
            let Some(hosts) = frontend.required_hosts() else {
                for prefix in prefixes {
                    index.any_host.insert(prefix.as_bytes(), rank);
                }
                continue;
            };
            for host in hosts {
                match host {
                    HostKey::Exact(host) => {
                        let trie = index.by_host.entry(host.into()).or_default();
                        for prefix in prefixes {
                            trie.insert(prefix.as_bytes(), rank);
                        }
                    }
                    HostKey::Suffix(suffix) => {
                        let reversed: Vec<u8> = suffix.bytes().rev().collect();
                        index.by_host_suffix.insert(&reversed, rank);
                    }
                }
            }
        }
        index.any_host.finish();
        index.by_host_suffix.finish();
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
        if !self.by_host.is_empty() || !self.by_host_suffix.is_empty() {
            // A request without host matches `Host` values that canonicalize
            // to "" (`Host:.`), as the matchers see it: look those up too.
            let host = host.unwrap_or("");
            let mut on_stack = [0u8; HOST_BUFFER];
            let mut on_heap = Vec::new();
            let lower = if host.len() <= HOST_BUFFER {
                &mut on_stack[..host.len()]
            } else {
                on_heap.resize(host.len(), 0);
                &mut on_heap[..]
            };
            lower.copy_from_slice(host.as_bytes());
            lower.make_ascii_lowercase();
            // ASCII lower-casing keeps UTF-8 valid: the error arm cannot happen.
            if let Some(trie) = std::str::from_utf8(lower)
                .ok()
                .and_then(|h| self.by_host.get(h))
            {
                trie.search(path.as_bytes(), &mut best, &mut is_match);
            }
            if !self.by_host_suffix.is_empty() {
                lower.reverse();
                self.by_host_suffix.search(lower, &mut best, &mut is_match);
            }
        }
        self.any_host
            .search(path.as_bytes(), &mut best, &mut is_match);
        (best != NONE).then_some(best)
    }
}

/// A radix trie (path-compressed byte trie) of literal path prefixes, nodes
/// in a flat vector: `/device0000` .. `/device0999` take 4 hops, not 11.
#[derive(Debug, Default)]
struct PathTrie {
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Node {
    /// The bytes on the edge from the parent (empty only for the root).
    label: Box<[u8]>,
    /// First byte of each child's label (distinct), parallel to `children`:
    /// a compact array to scan.
    first_bytes: Vec<u8>,
    children: Vec<u32>,
    /// Frontends filed here, ascending.
    ranks: Vec<u32>,
    /// The nearest ancestor with ranks (NONE if none), to walk back up
    /// without visiting empty nodes.
    up: u32,
}

impl PathTrie {
    /// Ranks must be inserted in ascending order.
    fn insert(&mut self, prefix: &[u8], rank: u32) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
        }
        let mut at = 0usize;
        let mut key = prefix;
        while let Some(&first) = key.first() {
            let Some(slot) = self.nodes[at].first_bytes.iter().position(|&b| b == first) else {
                let leaf = self.push(Node {
                    label: key.into(),
                    ..Node::default()
                });
                self.nodes[at].first_bytes.push(first);
                self.nodes[at].children.push(leaf);
                at = leaf as usize;
                break;
            };
            let child = self.nodes[at].children[slot];
            let label = &self.nodes[child as usize].label;
            let common = label.iter().zip(key).take_while(|(a, b)| a == b).count();
            if common < label.len() {
                // The key leaves the edge half-way: split it with a node there.
                let (head, tail) = label.split_at(common);
                let middle = Node {
                    label: head.into(),
                    first_bytes: vec![tail[0]],
                    children: vec![child],
                    ..Node::default()
                };
                self.nodes[child as usize].label = tail.into();
                let middle = self.push(middle);
                self.nodes[at].children[slot] = middle;
                at = middle as usize;
            } else {
                at = child as usize;
            }
            key = &key[common..];
        }
        let ranks = &mut self.nodes[at].ranks;
        // The same frontend may come twice (`PathPrefix:/a,/a`).
        if ranks.last() != Some(&rank) {
            ranks.push(rank);
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    /// Links every node to its nearest ancestor with ranks.
    fn finish(&mut self) {
        let mut stack = vec![(0u32, NONE)];
        while let Some((at, up)) = stack.pop() {
            let Some(node) = self.nodes.get_mut(at as usize) else {
                continue; // an empty trie has no root
            };
            node.up = up;
            let up_for_children = if node.ranks.is_empty() { up } else { at };
            stack.extend(node.children.iter().map(|&c| (c, up_for_children)));
        }
    }

    /// Lowers `best` to the lowest matching rank among the frontends filed
    /// under a prefix of `path`.
    fn search(&self, path: &[u8], best: &mut u32, is_match: &mut impl FnMut(u32) -> bool) {
        let Some(mut node) = self.nodes.first() else {
            return;
        };
        let mut at = 0u32;
        let mut rest = path;
        // Descend as far as the path goes, then visit the nodes on the way
        // back up: the longest prefixes first, as they usually belong to the
        // most specific (highest priority) frontends, which lets the
        // `rank < best` cut-off skip the generic ones.
        while let Some(&first) = rest.first() {
            let Some(slot) = node.first_bytes.iter().position(|&b| b == first) else {
                break;
            };
            let child = node.children[slot];
            let child_node = &self.nodes[child as usize];
            match rest.strip_prefix(&*child_node.label) {
                Some(after) => {
                    rest = after;
                    at = child;
                    node = child_node;
                }
                // The path leaves the edge half-way: no node there has ranks.
                None => break,
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
    fn edges_split_whatever_the_insertion_order() {
        let t = trie(&[
            ("/abc", 0),
            ("/ab", 1),
            ("/abd", 2),
            ("/x", 3),
            ("/abcde", 4),
            ("/", 5),
        ]);
        assert_eq!(candidates(&t, "/abcdef"), [0, 1, 4, 5]);
        assert_eq!(candidates(&t, "/abd"), [1, 2, 5]);
        assert_eq!(candidates(&t, "/abx"), [1, 5]);
        assert_eq!(candidates(&t, "/a"), [5]);
        assert_eq!(candidates(&t, "/xyz"), [3, 5]);
        assert_eq!(candidates(&t, "x"), Vec::<u32>::new());
        // Root, "/", "/ab", "/abc", "/abcde", "/abd", "/x": splits made no extra nodes.
        assert_eq!(t.nodes.len(), 7);
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
