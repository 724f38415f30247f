//! A key-value store's keys as a config document. Traefik's KV layout is
//! its file layout with one key per value: etcd's
//! `/traefik/frontends/f1/routes/r/rule = Host:a` is the table path
//! frontends → f1 → routes → r → rule of a file. Read into the same
//! neutral `Value`, the section loaders that read files read etcd too, and
//! every message names the etcd key (`Tree` joins KV paths with `/`).
//!
//! Every value is text, as the store keeps it; `Tree`'s typed reads convert
//! it the way Traefik's KV provider did (`Format::Kv`): `true`, `10`, a
//! comma-separated list or numbered child keys (`entrypoints/0`).

use super::value::{Data, Entry, Value};

/// One stored key and its value, as bytes (etcd keys and values are bytes).
pub(crate) type Pair = (Vec<u8>, Vec<u8>);

/// A problem with one key: the key as stored (lossy UTF-8) and why.
pub(crate) struct KeyProblem {
    pub key: String,
    pub message: String,
}

/// The keys under `prefix` as a table tree. Keys outside the prefix,
/// keys or values that are not UTF-8, empty path segments (`a//b`) and a
/// key that is both a value and a folder of other keys are reported and
/// left out; the rest is still built, so that all problems show at once.
pub(crate) fn build(prefix: &str, pairs: &[Pair]) -> (Value, Vec<KeyProblem>) {
    let mut root = Vec::new();
    let mut problems = Vec::new();
    let mut sorted: Vec<&Pair> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in sorted {
        let shown = String::from_utf8_lossy(key).into_owned();
        let mut problem = |message: &str| {
            problems.push(KeyProblem {
                key: shown.clone(),
                message: message.to_owned(),
            })
        };
        let Ok(key) = std::str::from_utf8(key) else {
            problem("the key is not UTF-8 text");
            continue;
        };
        let Ok(value) = std::str::from_utf8(value) else {
            problem("the value is not UTF-8 text");
            continue;
        };
        let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) else {
            problem(&format!("the key is not under the prefix {prefix:?}"));
            continue;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            problem("empty segment in the key (\"//\" or a trailing \"/\")");
            continue;
        }
        if let Err(message) = insert(&mut root, &segments, value) {
            problem(&message);
        }
    }
    let root = Value {
        data: Data::Table(root),
        span: None,
    };
    (root, problems)
}

/// Puts `value` at `segments` below `table`, making folders on the way.
fn insert(table: &mut Vec<Entry>, segments: &[&str], value: &str) -> Result<(), String> {
    let (first, rest) = segments.split_first().expect("at least one segment");
    let at = match table.iter().position(|e| e.key == *first) {
        Some(i) => i,
        None => {
            table.push(Entry {
                key: (*first).to_owned(),
                key_text: (*first).to_owned(),
                key_span: None,
                value: Value {
                    data: if rest.is_empty() {
                        Data::String(value.to_owned())
                    } else {
                        Data::Table(Vec::new())
                    },
                    span: None,
                },
            });
            if rest.is_empty() {
                return Ok(());
            }
            table.len() - 1
        }
    };
    match (&mut table[at].value.data, rest.is_empty()) {
        (Data::Table(children), false) => insert(children, rest, value),
        // Keys arrive sorted, so a value at `a` comes before keys under
        // `a/`: the later key is the one refused.
        _ => Err(format!(
            "{first:?} is both a value and a folder of keys; a key holds one or the other"
        )),
    }
}

/// Go's `strconv.ParseBool`, which Traefik's KV provider used.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A table whose keys are all indexes (`0`, `1`, ...): Traefik's KV form
/// of a list. Its elements in index order.
pub(crate) fn indexed(entries: &[Entry]) -> Option<Vec<&Entry>> {
    if entries.is_empty() {
        return None;
    }
    let mut numbered = Vec::with_capacity(entries.len());
    for e in entries {
        let i: u64 = e
            .key
            .parse()
            .ok()
            .filter(|_| e.key.bytes().all(|b| b.is_ascii_digit()))?;
        numbered.push((i, e));
    }
    numbered.sort_by_key(|(i, _)| *i);
    Some(numbered.into_iter().map(|(_, e)| e).collect())
}

/// A comma-separated value as Traefik's KV provider split it: trimmed,
/// empty items dropped.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<Pair> {
        list.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn keys_become_nested_tables_in_key_order() {
        let (root, problems) = build(
            "/traefik",
            &pairs(&[
                ("/traefik/frontends/f/routes/r/rule", "Host:a"),
                ("/traefik/backends/b/servers/s/url", "http://127.0.0.1:1"),
                ("/traefik/frontends/f/backend", "b"),
            ]),
        );
        assert!(problems.is_empty());
        let json = root.to_json();
        assert_eq!(json["frontends"]["f"]["routes"]["r"]["rule"], "Host:a");
        assert_eq!(json["frontends"]["f"]["backend"], "b");
        assert_eq!(
            json["backends"]["b"]["servers"]["s"]["url"],
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn hostile_keys_are_named_and_left_out() {
        let mut list = pairs(&[
            ("/traefik/a", "1"),
            ("/traefik/a/b", "2"),
            ("/traefik//x", "3"),
            ("/traefik/y/", "4"),
            ("/traefikother/z", "5"),
            ("/traefik/ok", "6"),
        ]);
        list.push((b"/traefik/\xff".to_vec(), b"7".to_vec()));
        list.push((b"/traefik/v".to_vec(), b"\xfe".to_vec()));
        let (root, problems) = build("/traefik", &list);
        let said: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.key.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            said.len(),
            6,
            "{:?}",
            problems.iter().map(|p| &p.message).collect::<Vec<_>>()
        );
        assert!(said
            .iter()
            .any(|(k, m)| *k == "/traefik/a/b" && m.contains("both a value and a folder")));
        assert!(said
            .iter()
            .any(|(k, m)| *k == "/traefik//x" && m.contains("empty segment")));
        assert!(said.iter().any(|(k, _)| *k == "/traefik/y/"));
        assert!(said
            .iter()
            .any(|(k, m)| *k == "/traefikother/z" && m.contains("prefix")));
        assert!(said.iter().any(|(_, m)| m.contains("key is not UTF-8")));
        assert!(said
            .iter()
            .any(|(k, m)| *k == "/traefik/v" && m.contains("value is not UTF-8")));
        let json = root.to_json();
        assert_eq!(json["a"], "1");
        assert_eq!(json["ok"], "6");
    }

    #[test]
    fn lists_are_comma_separated_or_numbered_keys() {
        assert_eq!(split_list(" http, https ,,"), ["http", "https"]);
        let (root, _) = build(
            "traefik",
            &pairs(&[
                ("traefik/l/10", "c"),
                ("traefik/l/2", "b"),
                ("traefik/l/0", "a"),
            ]),
        );
        let Data::Table(top) = &root.data else {
            panic!()
        };
        let Data::Table(l) = &top[0].value.data else {
            panic!()
        };
        let order: Vec<&str> = indexed(l)
            .unwrap()
            .iter()
            .map(|e| e.value.as_str().unwrap())
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
        let (root, _) = build(
            "traefik",
            &pairs(&[("traefik/l/0", "a"), ("traefik/l/x", "b")]),
        );
        let Data::Table(top) = &root.data else {
            panic!()
        };
        let Data::Table(l) = &top[0].value.data else {
            panic!()
        };
        assert!(indexed(l).is_none());
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }
}
