//! The converted configuration as an ordered tree, and its YAML and TOML
//! text. Strings are always quoted (JSON's escapes are valid YAML), so no
//! value can be misread (`on`, `1.10`, `*`, `#`).

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Out {
    Map(Vec<(String, Out)>),
    List(Vec<Out>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Out {
    pub(super) fn map() -> Out {
        Out::Map(Vec::new())
    }

    pub(super) fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }

    pub(super) fn strs<S: AsRef<str>>(list: &[S]) -> Out {
        Out::List(list.iter().map(|s| Out::str(s.as_ref())).collect())
    }

    /// The map at `path` below this one, created (empty) where missing.
    pub(super) fn at(&mut self, path: &[&str]) -> &mut Out {
        let mut here = self;
        for key in path {
            let Out::Map(entries) = here else {
                unreachable!("`at` walks maps only");
            };
            let i = match entries.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    entries.push(((*key).to_owned(), Out::map()));
                    entries.len() - 1
                }
            };
            here = &mut entries[i].1;
        }
        here
    }

    /// Sets `key` in this map (replacing a value already there).
    pub(super) fn set(&mut self, key: &str, value: Out) {
        let Out::Map(entries) = self else {
            unreachable!("`set` on maps only");
        };
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => entries.push((key.to_owned(), value)),
        }
    }

    /// Removes `key` from this map.
    pub(super) fn remove(&mut self, key: &str) {
        if let Out::Map(entries) = self {
            entries.retain(|(k, _)| k != key);
        }
    }

    fn is_map(&self) -> bool {
        matches!(self, Out::Map(_))
    }

    /// Written in TOML as a table or an array of tables.
    fn is_table_like(&self) -> bool {
        match self {
            Out::Map(_) => true,
            Out::List(items) => !items.is_empty() && items.iter().all(Out::is_map),
            _ => false,
        }
    }

    pub(super) fn to_yaml(&self) -> String {
        let mut out = String::new();
        if let Out::Map(entries) = self {
            yaml_map(entries, 0, &mut out);
        }
        out
    }

    pub(super) fn to_toml(&self) -> String {
        let mut doc = DocumentMut::new();
        if let Out::Map(entries) = self {
            for (k, v) in entries {
                doc.insert(k, toml_item(v));
            }
        }
        doc.to_string()
    }
}

fn yaml_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !key.starts_with(['-', '.']);
    if plain {
        key.to_owned()
    } else {
        scalar(&Out::str(key))
    }
}

fn scalar(value: &Out) -> String {
    match value {
        Out::Str(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        Out::Int(i) => i.to_string(),
        Out::Float(f) => format!("{f:?}"),
        Out::Bool(b) => b.to_string(),
        Out::Map(m) if m.is_empty() => "{}".into(),
        Out::List(l) if l.is_empty() => "[]".into(),
        _ => unreachable!("collections are written as blocks"),
    }
}

fn is_block(value: &Out) -> bool {
    match value {
        Out::Map(m) => !m.is_empty(),
        Out::List(l) => !l.is_empty(),
        _ => false,
    }
}

fn yaml_map(entries: &[(String, Out)], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in entries {
        let key = yaml_key(k);
        if is_block(v) {
            out.push_str(&format!("{pad}{key}:\n"));
            yaml_block(v, indent + 2, out);
        } else {
            out.push_str(&format!("{pad}{key}: {}\n", scalar(v)));
        }
    }
}

fn yaml_block(value: &Out, indent: usize, out: &mut String) {
    match value {
        Out::Map(entries) => yaml_map(entries, indent, out),
        Out::List(items) => {
            let pad = " ".repeat(indent);
            for item in items {
                if is_block(item) {
                    // The item's first line goes after the dash.
                    let mut inner = String::new();
                    yaml_block(item, indent + 2, &mut inner);
                    let rest = inner.get(indent + 2..).unwrap_or_default();
                    out.push_str(&format!("{pad}- {rest}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{}{}\n", " ".repeat(indent), scalar(other))),
    }
}

fn toml_item(value: &Out) -> Item {
    match value {
        Out::Map(entries) => {
            let mut table = Table::new();
            for (k, v) in entries {
                table.insert(k, toml_item(v));
            }
            // A table holding only tables needs no header of its own.
            let only_tables = !entries.is_empty() && entries.iter().all(|(_, v)| v.is_table_like());
            table.set_implicit(only_tables);
            Item::Table(table)
        }
        Out::List(items) if !items.is_empty() && items.iter().all(Out::is_map) => {
            let mut array = ArrayOfTables::new();
            for item in items {
                if let Item::Table(t) = toml_item(item) {
                    array.push(t);
                }
            }
            Item::ArrayOfTables(array)
        }
        other => Item::Value(toml_value(other)),
    }
}

fn toml_value(value: &Out) -> toml_edit::Value {
    match value {
        Out::Str(s) => s.as_str().into(),
        Out::Int(i) => (*i).into(),
        Out::Float(f) => (*f).into(),
        Out::Bool(b) => (*b).into(),
        Out::List(items) => {
            let mut array = Array::new();
            for item in items {
                array.push(toml_value(item));
            }
            toml_edit::Value::Array(array)
        }
        Out::Map(entries) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in entries {
                table.insert(k, toml_value(v));
            }
            toml_edit::Value::InlineTable(table)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_toml_of_nested_maps_and_lists() {
        let mut root = Out::map();
        root.at(&["http", "routers", "r"])
            .set("rule", Out::str("Host(`a`)"));
        root.at(&["http", "services", "s", "loadBalancer"]).set(
            "servers",
            Out::List(vec![Out::Map(vec![
                ("url".into(), Out::str("http://x")),
                ("weight".into(), Out::Int(2)),
            ])]),
        );
        root.at(&["entryPoints", "websecure", "http"])
            .set("tls", Out::map());
        root.set("odd key", Out::strs(&["on", "#"]));
        assert_eq!(
            root.to_yaml(),
            "http:\n  routers:\n    r:\n      rule: \"Host(`a`)\"\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"http://x\"\n            weight: 2\nentryPoints:\n  websecure:\n    http:\n      tls: {}\n\"odd key\":\n  - \"on\"\n  - \"#\"\n"
        );
        let toml = root.to_toml();
        assert!(
            toml.contains(
                "[[http.services.s.loadBalancer.servers]]\nurl = \"http://x\"\nweight = 2\n"
            ),
            "{toml}"
        );
        assert!(
            toml.contains("[entryPoints.websecure.http.tls]\n"),
            "{toml}"
        );
        assert!(toml.contains("\"odd key\" = [\"on\", \"#\"]"), "{toml}");
    }
}
