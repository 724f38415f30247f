//! The parsed config file as the loader sees it, TOML or YAML alike.
//!
//! Traefik decodes its files with case-insensitive key matching, so
//! `CertFile`, `certFile` and `certfile` all mean the same field. This module
//! gives the loader exactly that view, plus what a good error message needs:
//! source positions (1-based line and column) and the dotted key path as the
//! user wrote it. It also remembers which keys the loader read, so that every
//! key nobody read becomes an `unknown key` warning instead of vanishing.
//!
//! Errors and warnings found while walking are collected here (interior
//! mutability keeps the walker API `&self`), and handed out by
//! [`Tree::finish`]. `toml` and `yaml` read each format into `value`'s
//! neutral form; `lines` turns byte offsets into lines and columns.

mod kv;
mod lines;
mod toml;
mod value;
mod yaml;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

pub(crate) use kv::Pair as KvPair;
pub(crate) use value::{Data, Value};

use self::lines::LineIndex;
use self::value::Entry;
use super::diagnostic::{ConfigError, Diagnostic, Location};

/// The key shown for syntax errors, which belong to no key.
const SYNTAX_KEY: &str = "syntax error";

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Yaml,
    /// A key-value store's keys (`kv`): every value is text, converted on
    /// reading as Traefik's KV provider did.
    Kv,
}

impl Format {
    /// YAML for `.yml` and `.yaml` files, TOML otherwise.
    pub(crate) fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml") => {
                Format::Yaml
            }
            _ => Format::Toml,
        }
    }
}

/// A parsed config file with its read-bookkeeping and collected diagnostics.
pub(crate) struct Tree {
    file: Arc<Path>,
    format: Format,
    root: Value,
    /// The text spans index into.
    text: String,
    lines: LineIndex,
    /// The path of the root: empty for files; the prefix for a KV store, so
    /// that every path is the key as stored (`/traefik/frontends/f1`).
    root_path: String,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Paths (as written) of the keys the loader read.
    read: HashSet<String>,
    /// Paths whose whole subtree counts as read (sections ignored on purpose).
    read_subtree: HashSet<String>,
    /// Key names the loader asked for under each table path, used to
    /// suggest a correction for an unknown key.
    expected: HashMap<String, Vec<&'static str>>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// What a finished walk found.
pub(crate) struct Findings {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Tree {
    /// Parses `text`, as TOML or YAML by `file`'s extension (see `Format::of`).
    pub(crate) fn parse(file: Arc<Path>, text: &str) -> Result<Tree, ConfigError> {
        match Format::of(&file) {
            // `of` tells files apart; KV documents come from `from_kv`.
            Format::Toml | Format::Kv => {
                let parsed = toml::parse(&file, text)?;
                let warnings = parsed
                    .repairs
                    .iter()
                    .map(|r| Diagnostic::at(r.location(&file), r.message()))
                    .collect();
                let lines = LineIndex::new(&parsed.text, toml::shifts(&parsed.repairs));
                Ok(Tree {
                    file,
                    format: Format::Toml,
                    root: parsed.root,
                    text: parsed.text,
                    lines,
                    root_path: String::new(),
                    state: RefCell::new(State {
                        warnings,
                        ..State::default()
                    }),
                })
            }
            Format::Yaml => {
                let root = yaml::parse(&file, text)?;
                Ok(Tree {
                    lines: LineIndex::new(text, Vec::new()),
                    file,
                    format: Format::Yaml,
                    root,
                    text: text.to_owned(),
                    root_path: String::new(),
                    state: RefCell::default(),
                })
            }
        }
    }

    /// The keys under `prefix` of a key-value store, read as a document
    /// (see `kv`); `label` names the store in messages. A key that cannot
    /// be read is an error naming it; the others are still read.
    pub(crate) fn from_kv(label: Arc<Path>, prefix: &str, pairs: &[KvPair]) -> Tree {
        let prefix = prefix.trim_end_matches('/');
        let (root, problems) = kv::build(prefix, pairs);
        let errors = problems
            .into_iter()
            .map(|p| {
                Diagnostic::at(
                    Location {
                        file: label.clone(),
                        line: 0,
                        column: 0,
                        key: p.key,
                    },
                    p.message,
                )
            })
            .collect();
        Tree {
            file: label,
            format: Format::Kv,
            root,
            text: String::new(),
            lines: LineIndex::new("", Vec::new()),
            root_path: prefix.to_owned(),
            state: RefCell::new(State {
                errors,
                ..State::default()
            }),
        }
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// The document's root table.
    pub(crate) fn root(&self) -> Node<'_> {
        Node {
            tree: self,
            value: &self.root,
            key: None,
            path: self.root_path.clone(),
        }
    }

    pub(crate) fn error(&self, location: Location, message: impl Into<String>) {
        let d = Diagnostic::at(location, message);
        self.state.borrow_mut().errors.push(d);
    }

    pub(crate) fn warn(&self, location: Location, message: impl Into<String>) {
        let d = Diagnostic::at(location, message);
        self.state.borrow_mut().warnings.push(d);
    }

    /// Ends the walk: every key never read becomes an `unknown key` warning.
    /// Diagnostics come back in file order so they read top to bottom.
    pub(crate) fn finish(self) -> Findings {
        if let Some(entries) = self.root.entries() {
            self.warn_unread(entries, &self.root_path);
        }
        let state = self.state.into_inner();
        let mut errors = state.errors;
        let mut warnings = state.warnings;
        sort_by_position(&mut errors);
        sort_by_position(&mut warnings);
        Findings { errors, warnings }
    }

    fn warn_unread(&self, entries: &[Entry], parent: &str) {
        for entry in entries {
            let path = self.join(parent, &entry.key_text);
            let (known, whole) = {
                let state = self.state.borrow();
                (
                    state.read.contains(&path),
                    state.read_subtree.contains(&path),
                )
            };
            if whole {
                continue;
            }
            if !known {
                self.warn_unknown(entry, &path, parent);
                continue;
            }
            self.warn_unread_below(&entry.value, &path);
        }
    }

    /// Below a read key: its table's keys, and the tables of a list of
    /// tables whose elements the loader took one by one (`table_list`).
    fn warn_unread_below(&self, value: &Value, path: &str) {
        match &value.data {
            Data::Table(entries) => self.warn_unread(entries, path),
            Data::TableArray(list) | Data::Array(list) => {
                for (i, element) in list.iter().enumerate() {
                    let element_path = format!("{path}[{i}]");
                    let listed = matches!(value.data, Data::TableArray(_))
                        || self.state.borrow().read.contains(&element_path);
                    if let (true, Some(entries)) = (listed, element.entries()) {
                        if !self.state.borrow().read_subtree.contains(&element_path) {
                            self.warn_unread(entries, &element_path);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn warn_unknown(&self, entry: &Entry, path: &str, parent: &str) {
        let hint = {
            let state = self.state.borrow();
            state
                .expected
                .get(parent)
                .and_then(|known| closest(&entry.key, known.iter().copied()))
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default()
        };
        let location = self.location(entry.key_span.clone(), path);
        self.warn(
            location,
            format!("unknown key \"{}\", ignored{hint}", entry.key),
        );
    }

    fn location(&self, span: Option<Range<usize>>, path: &str) -> Location {
        let (line, column) = match span {
            Some(span) => self.lines.position(&self.text, span.start),
            // No span: Location prints `FILE: KEY` for line 0.
            None => (0, 0),
        };
        Location {
            file: self.file.clone(),
            line,
            column,
            key: path.to_owned(),
        }
    }

    /// A child's path: `parent.key` in a file, `parent/key` in a KV store
    /// (its key as stored).
    fn join(&self, parent: &str, key: &str) -> String {
        match self.format {
            Format::Kv => format!("{parent}/{key}"),
            Format::Toml | Format::Yaml => join(parent, key),
        }
    }

    fn mark_read(&self, path: &str) {
        self.state.borrow_mut().read.insert(path.to_owned());
    }

    fn expect_name(&self, parent: &str, name: &'static str) {
        let mut state = self.state.borrow_mut();
        let names = state.expected.entry(parent.to_owned()).or_default();
        if !names.contains(&name) {
            names.push(name);
        }
    }
}

/// One value of the document with its path as written.
#[derive(Clone)]
pub(crate) struct Node<'t> {
    tree: &'t Tree,
    value: &'t Value,
    key: Option<&'t Entry>,
    path: String,
}

impl<'t> Node<'t> {
    /// The key's name, unquoted: for user-chosen names (frontends,
    /// backends, servers, ...), which keep their case.
    pub(crate) fn name(&self) -> &'t str {
        self.key.map_or("", |k| k.key.as_str())
    }

    pub(crate) fn tree(&self) -> &'t Tree {
        self.tree
    }

    /// Where the value starts: the value for a key/value pair, the
    /// `[header]` for a TOML table. Type and value errors point here.
    pub(crate) fn location(&self) -> Location {
        let span = self.value.span.clone().or_else(|| self.key_span());
        self.tree.location(span, &self.path)
    }

    /// Where the key itself is written.
    pub(crate) fn key_location(&self) -> Location {
        self.tree.location(self.key_span(), &self.path)
    }

    /// Where a missing key `name` should have been: this table's position,
    /// with the missing key's path.
    pub(crate) fn missing_location(&self, name: &str) -> Location {
        let mut location = self.location();
        location.key = self.tree.join(&self.path, name);
        location
    }

    fn key_span(&self) -> Option<Range<usize>> {
        self.key.and_then(|k| k.key_span.clone())
    }

    pub(crate) fn error(&self, message: impl Into<String>) {
        self.tree.error(self.location(), message);
    }

    pub(crate) fn warn(&self, message: impl Into<String>) {
        self.tree.warn(self.location(), message);
    }

    /// The child `name`, matched case-insensitively, and marked read.
    /// A key written twice with different case is an error (the two would
    /// silently fight over one setting otherwise); the first one is used.
    pub(crate) fn get(&self, name: &'static str) -> Option<Node<'t>> {
        self.tree.expect_name(&self.path, name);
        let entries = self.value.entries()?;
        let mut found = entries
            .iter()
            .filter(|e| e.key.eq_ignore_ascii_case(name))
            .map(|e| self.child(e));
        let first = found.next()?;
        first.tree.mark_read(&first.path);
        for other in found {
            other.tree.mark_read(&other.path);
            other.tree.error(
                other.key_location(),
                format!(
                    "also written as \"{}\" ({}); keys are case-insensitive, so write it once",
                    first.key_display(),
                    line_column(&first.key_location())
                ),
            );
        }
        Some(first)
    }

    /// The child `name` (any case), neither marked read nor expected: for
    /// looking at a file before reading it.
    pub(crate) fn peek(&self, name: &str) -> Option<Node<'t>> {
        let entries = self.value.entries()?;
        let entry = entries.iter().find(|e| e.key.eq_ignore_ascii_case(name))?;
        Some(self.child(entry))
    }

    /// Like [`Node::get`], but the child must be a table: `[name]`, an
    /// inline table, a YAML mapping. Anything else is reported and yields
    /// `None`.
    pub(crate) fn section(&self, name: &'static str) -> Option<Node<'t>> {
        self.get(name).filter(Node::expect_table)
    }

    /// All children, in file order, each marked read: for tables whose keys
    /// are user-chosen names such as `[frontends]`.
    pub(crate) fn children(&self) -> Vec<Node<'t>> {
        let Some(entries) = self.value.entries() else {
            return Vec::new();
        };
        let children: Vec<Node<'t>> = entries.iter().map(|e| self.child(e)).collect();
        for child in &children {
            self.tree.mark_read(&child.path);
        }
        children
    }

    /// Marks this value and everything below it as read: for sections that
    /// are recognised but deliberately ignored (one warning is enough).
    pub(crate) fn read_subtree(&self) {
        let mut state = self.tree.state.borrow_mut();
        state.read.insert(self.path.clone());
        state.read_subtree.insert(self.path.clone());
    }

    fn child(&self, entry: &'t Entry) -> Node<'t> {
        Node {
            tree: self.tree,
            value: &entry.value,
            key: Some(entry),
            path: self.tree.join(&self.path, &entry.key_text),
        }
    }

    /// The tables of a list of tables (TOML's `[[name]]`, an array of
    /// inline tables, a YAML sequence of mappings), or this one table when
    /// it was written `[name]` (Traefik 1.7 decoded both into a list). Each
    /// element's path is `name[i]`. Anything else is reported.
    pub(crate) fn table_list(&self) -> Vec<Node<'t>> {
        if let Some(elements) = self.kv_indexed() {
            // KV: `tls/0/...`, `tls/1/...`; each keeps its key as its path.
            let nodes: Vec<Node<'t>> = elements.into_iter().map(|e| self.child(e)).collect();
            for node in &nodes {
                self.tree.mark_read(&node.path);
            }
            return nodes;
        }
        let list = match &self.value.data {
            Data::Table(_) => return vec![self.clone()],
            Data::TableArray(list) => list,
            Data::Array(list) if list.iter().all(Value::is_table) => list,
            _ => {
                self.type_error("a list of tables ([[...]])");
                return Vec::new();
            }
        };
        list.iter()
            .enumerate()
            .map(|(i, value)| {
                let path = format!("{}[{i}]", self.path);
                self.tree.mark_read(&path);
                Node {
                    tree: self.tree,
                    value,
                    key: self.key,
                    path,
                }
            })
            .collect()
    }

    fn key_display(&self) -> String {
        self.key
            .map_or_else(|| self.name().to_owned(), |k| k.key_text.clone())
    }

    /// True for tables; otherwise reports `expected a table, found ...`.
    pub(crate) fn expect_table(&self) -> bool {
        if self.value.is_table() {
            return true;
        }
        self.type_error("a table");
        false
    }

    pub(crate) fn str(&self) -> Option<&'t str> {
        let s = self.value.as_str();
        if s.is_none() {
            self.type_error("a string");
        }
        s
    }

    pub(crate) fn bool(&self) -> Option<bool> {
        let b = match (self.tree.format, self.value.as_str()) {
            (Format::Kv, Some(text)) => kv::parse_bool(text),
            _ => self.value.as_bool(),
        };
        if b.is_none() {
            self.type_error("a boolean (true or false)");
        }
        b
    }

    pub(crate) fn integer(&self) -> Option<i64> {
        let i = match (self.tree.format, self.value.as_str()) {
            (Format::Kv, Some(text)) => text.trim().parse().ok(),
            _ => self.value.as_integer(),
        };
        if i.is_none() {
            self.type_error("an integer");
        }
        i
    }

    /// In a KV store, a folder of numbered keys (`0`, `1`, ...): a list.
    fn kv_indexed(&self) -> Option<Vec<&'t Entry>> {
        if self.tree.format != Format::Kv {
            return None;
        }
        kv::indexed(self.value.entries()?)
    }

    /// The value itself, for callers that accept several types.
    pub(crate) fn raw_value(&self) -> Option<&'t Value> {
        Some(self.value)
    }

    /// An array of strings. Each bad element is reported at its own place.
    pub(crate) fn str_list(&self) -> Option<Vec<String>> {
        let list = self.str_list_located()?;
        Some(list.into_iter().map(|(s, _)| s).collect())
    }

    /// An array of strings, each with its position (path `key[i]`), for
    /// checks that point at one element.
    pub(crate) fn str_list_located(&self) -> Option<Vec<(String, Location)>> {
        if self.tree.format == Format::Kv {
            return self.kv_str_list();
        }
        let Some(array) = self.value.as_array() else {
            self.type_error("an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for (i, element) in array.iter().enumerate() {
            let path = format!("{}[{i}]", self.path);
            let location = self.tree.location(element.span.clone(), &path);
            match element.as_str() {
                Some(s) => out.push((s.to_owned(), location)),
                None => {
                    ok = false;
                    let found = article(element.type_name());
                    self.tree
                        .error(location, format!("expected a string, found {found}"));
                }
            }
        }
        ok.then_some(out)
    }

    /// KV: a comma-separated value, or numbered keys each holding one item.
    fn kv_str_list(&self) -> Option<Vec<(String, Location)>> {
        if let Some(text) = self.value.as_str() {
            let location = self.location();
            return Some(
                kv::split_list(text)
                    .into_iter()
                    .map(|s| (s, location.clone()))
                    .collect(),
            );
        }
        let Some(elements) = self.kv_indexed() else {
            self.type_error("a comma-separated list or numbered keys (0, 1, ...)");
            return None;
        };
        let mut out = Vec::with_capacity(elements.len());
        for element in elements {
            let node = self.child(element);
            self.tree.mark_read(&node.path);
            out.push((node.str()?.to_owned(), node.location()));
        }
        Some(out)
    }

    /// This value and everything under it as JSON (for plugin configs,
    /// which tollgate does not interpret); the whole subtree counts as read.
    /// From a KV store, folders of numbered keys become arrays; values stay
    /// text.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        self.read_subtree();
        match self.tree.format {
            Format::Kv => kv_json(self.value),
            Format::Toml | Format::Yaml => self.value.to_json(),
        }
    }

    /// `a string`, `an integer`, `a table`, ... for messages.
    pub(crate) fn type_description(&self) -> String {
        article(self.value.type_name())
    }

    fn type_error(&self, expected: &str) {
        let found = match (self.tree.format, self.value.as_str()) {
            // Every KV value is text: show it.
            (Format::Kv, Some(text)) => format!("{text:?}"),
            (Format::Kv, None) => "a folder of keys".to_owned(),
            _ => self.type_description(),
        };
        self.error(format!("expected {expected}, found {found}"));
    }
}

fn kv_json(value: &Value) -> serde_json::Value {
    match value.entries() {
        None => value.to_json(),
        Some(entries) => match kv::indexed(entries) {
            Some(list) => list.iter().map(|e| kv_json(&e.value)).collect(),
            None => entries
                .iter()
                .map(|e| (e.key.clone(), kv_json(&e.value)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        },
    }
}

/// `integer` → `an integer`, `string` → `a string`.
fn article(type_name: &str) -> String {
    let vowel = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if vowel { "an" } else { "a" })
}

/// A file's key path: `parent.key`.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `line 12, column 3`, for pointing at a second place in a message.
fn line_column(location: &Location) -> String {
    format!("line {}, column {}", location.line, location.column)
}

fn sort_by_position(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
}

/// The known name closest to `unknown`, if it looks like a typo of it
/// (case differences count as no difference at all).
pub(crate) fn closest<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let unknown = unknown.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&unknown, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= 2 && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance; key names are short, so O(n·m) is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            let insert = current[j] + 1;
            let delete = previous[j + 1] + 1;
            current.push(substitute.min(insert).min(delete));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Tree {
        match Tree::parse(Arc::from(Path::new("t.toml")), text) {
            Ok(tree) => tree,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    #[test]
    fn keys_match_case_insensitively() {
        let t = tree("[Backends.B1.HealthCheck]\nPATH = \"/h\"\n");
        let root = t.root();
        let hc = root
            .get("backends")
            .and_then(|b| b.get("B1"))
            .and_then(|b| b.get("healthcheck"));
        let hc = hc.expect("found");
        assert_eq!(hc.path, "Backends.B1.HealthCheck");
        assert_eq!(hc.get("path").and_then(|p| p.str()), Some("/h"));
        let findings = t.finish();
        assert!(findings.errors.is_empty());
        assert!(findings.warnings.is_empty(), "{:?}", findings.warnings);
    }

    #[test]
    fn same_key_twice_with_different_case_is_an_error() {
        let t = tree("[a]\ncertFile = \"x\"\nCertFile = \"y\"\n");
        let first = t.root().get("a").and_then(|a| a.get("certfile"));
        assert_eq!(first.and_then(|n| n.str()), Some("x"));
        let findings = t.finish();
        assert_eq!(findings.errors.len(), 1);
        let e = findings.errors[0].to_string();
        assert_eq!(
            e,
            "t.toml:3:1: a.CertFile: also written as \"certFile\" (line 2, column 1); \
             keys are case-insensitive, so write it once"
        );
    }

    #[test]
    fn unread_keys_become_warnings_at_their_key() {
        let text = "[frontends.f]\nbackend = \"b\"\n  bakend = \"c\"\n[other.deep]\nx = 1\n";
        let t = tree(text);
        let f = t.root().get("frontends").expect("frontends").children();
        assert_eq!(f[0].get("backend").and_then(|b| b.str()), Some("b"));
        let findings = t.finish();
        let w: Vec<String> = findings.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            vec![
                "t.toml:3:3: frontends.f.bakend: unknown key \"bakend\", ignored (did you mean \"backend\"?)",
                "t.toml:4:2: other: unknown key \"other\", ignored",
            ]
        );
    }

    #[test]
    fn read_subtree_silences_everything_below() {
        let t = tree("[a.tls]\nx = 1\n[[a.tls.certificates]]\ncertFile = \"c\"\n");
        let a = t.root().get("a").expect("a");
        a.get("tls").expect("tls").read_subtree();
        let findings = t.finish();
        assert!(findings.warnings.is_empty(), "{:?}", findings.warnings);
    }

    #[test]
    fn paths_keep_quotes_and_case_of_names() {
        let t = tree("[frontends.\"my.site\"]\nbackend = \"b\"\n");
        let sites = t.root().get("frontends").expect("frontends").children();
        assert_eq!(sites[0].name(), "my.site");
        assert_eq!(sites[0].path, "frontends.\"my.site\"");
        let backend = sites[0].get("backend").expect("backend");
        assert_eq!(
            backend.location().to_string(),
            "t.toml:2:11: frontends.\"my.site\".backend"
        );
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let t = tree("[x]\n  # comment\n  rule  =  5\n");
        let rule = t.root().get("x").and_then(|x| x.get("rule")).expect("rule");
        assert_eq!(rule.str(), None);
        let e = t.finish().errors[0].to_string();
        assert_eq!(
            e,
            "t.toml:3:12: x.rule: expected a string, found an integer"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let t2 = tree("t = { a = \"ééé\", b = 1 }\n");
        let b = t2.root().get("t").and_then(|t| t.get("b")).expect("b");
        assert_eq!(b.location().to_string(), "t.toml:1:22: t.b");
        let t3 = tree("s = [\"é\", 2]\n");
        let s = t3.root().get("s").expect("s");
        assert_eq!(s.str_list(), None);
        let e = t3.finish().errors[0].to_string();
        assert_eq!(e, "t.toml:1:11: s[1]: expected a string, found an integer");
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let err = Tree::parse(Arc::from(Path::new("t.toml")), "a = 1\nb = \n")
            .err()
            .expect("error");
        assert_eq!(
            err.to_string(),
            "t.toml:2:5: syntax error: string values must be quoted, expected literal string"
        );
    }

    #[test]
    fn header_with_a_missing_bracket_is_read_as_array_of_tables() {
        let text = "[a]\n  \t[a.certs]]\n  f = 1\n[[a.more] # note\ng = 2\n";
        let t = tree(text);
        let a = t.root().get("a").expect("a");
        let certs = a.get("certs").expect("certs");
        assert!(matches!(certs.value.data, Data::TableArray(_)));
        assert_eq!(certs.key_location().to_string(), "t.toml:2:7: a.certs");
        let more = a.get("more").expect("more");
        assert!(matches!(more.value.data, Data::TableArray(_)));
        certs.read_subtree();
        more.read_subtree();
        let w: Vec<String> = t.finish().warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            vec![
                "t.toml:2:4: a.certs: \"[a.certs]]\" has a bracket missing; read as [[a.certs]]",
                "t.toml:4:1: a.more: \"[[a.more]\" has a bracket missing; read as [[a.more]]",
            ]
        );
    }

    #[test]
    fn valid_toml_is_never_repaired() {
        // `[1]]` closes a nested array here: legal, and must stay as written.
        let t = tree("x = [\n  [1]]\n");
        let x = t.root().get("x").expect("x");
        assert!(x.raw_value().and_then(Value::as_array).is_some());
        assert!(t.finish().warnings.is_empty());
    }

    #[test]
    fn syntax_error_after_a_repair_keeps_user_columns() {
        let text = "[a.b]] # note\nx = \n";
        let err = Tree::parse(Arc::from(Path::new("t.toml")), text)
            .err()
            .expect("error");
        assert!(
            err.to_string().starts_with("t.toml:2:5: syntax error: "),
            "{err}"
        );
    }

    #[test]
    fn edit_distance_suggests_close_names_only() {
        assert_eq!(
            closest("bakend", ["backend", "entryPoints"]),
            Some("backend")
        );
        assert_eq!(closest("zzz", ["backend"]), None);
        assert_eq!(closest("Zumi01", ["zumi01"]), Some("zumi01"));
    }

    fn yaml(text: &str) -> Result<Tree, ConfigError> {
        Tree::parse(Arc::from(Path::new("t.yml")), text)
    }

    #[test]
    fn yaml_reads_like_toml_with_its_own_places() {
        let t = yaml(
            "http:\n  routers:\n    \"my.router\":\n      Rule: \"Path(`/`)\"\n      priority: 5\n",
        )
        .unwrap();
        let routers = t
            .root()
            .get("http")
            .and_then(|h| h.get("routers"))
            .expect("routers");
        let r = &routers.children()[0];
        assert_eq!(r.name(), "my.router");
        let rule = r.get("rule").expect("rule, any case");
        assert_eq!(rule.str(), Some("Path(`/`)"));
        assert_eq!(
            rule.location().to_string(),
            "t.yml:4:13: http.routers.\"my.router\".Rule"
        );
        assert_eq!(r.get("priority").and_then(|p| p.str()), None);
        let e = t.finish().errors[0].to_string();
        assert_eq!(
            e,
            "t.yml:5:17: http.routers.\"my.router\".priority: expected a string, found an integer"
        );
    }

    #[test]
    fn yaml_empty_values_are_empty_tables_and_lists_of_mappings_are_tables() {
        let t = yaml("ping:\nservers:\n  - url: a\n    weight: 2\n  - url: b\n").unwrap();
        let ping = t.root().section("ping").expect("ping: is a section");
        assert!(ping.children().is_empty());
        let servers = t.root().get("servers").expect("servers").table_list();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].get("url").and_then(|u| u.str()), Some("b"));
        let _ = servers[0].get("url");
        let w: Vec<String> = t.finish().warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            ["t.yml:4:5: servers[0].weight: unknown key \"weight\", ignored"]
        );
    }

    #[test]
    fn yaml_refusals_have_their_place() {
        let err = |text: &str| match yaml(text) {
            Err(e) => e.to_string(),
            Ok(t) => format!("accepted: {:?}", t.root),
        };
        assert!(
            err("a: [1, 2\n").starts_with("t.yml:"),
            "{}",
            err("a: [1, 2\n")
        );
        // Anchors, aliases and merge keys are YAML users' way to share.
        let t = yaml("base: &b {x: 1, y: 2}\nother: *b\nmerged:\n  <<: *b\n  y: 3\n").unwrap();
        let root = t.root();
        let other = root.get("other").expect("other");
        assert_eq!(other.get("x").and_then(|x| x.integer()), Some(1));
        let merged = root.get("merged").expect("merged");
        assert_eq!(merged.get("x").and_then(|x| x.integer()), Some(1));
        assert_eq!(merged.get("y").and_then(|x| x.integer()), Some(3));
        assert_eq!(
            err("a: 1\n---\nb: 2\n"),
            "t.yml:3:1: syntax error: a second YAML document (after ---): write one per file"
        );
        assert_eq!(
            err("a: !custom 1\n"),
            "t.yml:1:4: a: unsupported YAML tag !custom"
        );
        // An empty file is an empty configuration.
        assert!(yaml("# nothing\n").unwrap().root().children().is_empty());
    }
}
