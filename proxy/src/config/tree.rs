//! The parsed TOML document as the loader sees it.
//!
//! Traefik 1.7 decoded its TOML with case-insensitive key matching, so
//! `CertFile`, `certFile` and `certfile` all mean the same field. This module
//! gives the loader exactly that view, plus what a good error message needs:
//! source positions (1-based line and column) and the dotted key path as the
//! user wrote it. It also remembers which keys the loader read, so that every
//! key nobody read becomes an `unknown key` warning instead of vanishing.
//!
//! Errors and warnings found while walking are collected here (interior
//! mutability keeps the walker API `&self`), and handed out by
//! [`Tree::finish`].

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml_edit::{Document, Item, Key, Table, TableLike, Value};

use super::diagnostic::{ConfigError, Diagnostic, Location};

/// The key shown for TOML syntax errors, which belong to no key.
const SYNTAX_KEY: &str = "syntax error";

/// A parsed config file with its read-bookkeeping and collected diagnostics.
pub(crate) struct Tree {
    file: Arc<Path>,
    doc: Document<String>,
    lines: LineIndex,
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
    /// Parses `text`. A document that only fails because of a header with one
    /// bracket missing (`[a.b]]`, `[[a.b]`) is read as `[[a.b]]` with a
    /// warning: published Traefik configs (including our seed) contain this
    /// typo, and the intent is unambiguous.
    pub(crate) fn parse(file: Arc<Path>, text: &str) -> Result<Tree, ConfigError> {
        // Valid TOML is never rewritten: inside a multi-line array, a line
        // such as `[1]]` is legitimate and must keep its meaning.
        let first_error = match Document::parse(text.to_owned()) {
            Ok(doc) => return Ok(Tree::new(file, doc, Vec::new())),
            Err(e) => e,
        };
        let (repaired, repairs) = repair_headers(text);
        if repairs.is_empty() {
            return Err(syntax_error(&file, text, &[], &first_error));
        }
        match Document::parse(repaired.clone()) {
            Ok(doc) => Ok(Tree::new(file, doc, repairs)),
            Err(e) => Err(syntax_error(&file, &repaired, &repairs, &e)),
        }
    }

    fn new(file: Arc<Path>, doc: Document<String>, repairs: Vec<Repair>) -> Tree {
        let warnings = repairs
            .iter()
            .map(|r| Diagnostic::at(r.location(&file), r.message()))
            .collect();
        let lines = LineIndex::new(doc.raw(), repairs);
        Tree {
            file,
            doc,
            lines,
            state: RefCell::new(State {
                warnings,
                ..State::default()
            }),
        }
    }

    /// The document's root table.
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn root(&self) -> Node<'_> {
        Node {
            tree: self,
            item: Entry::Item(self.doc.as_item()),
            key: None,
            path: String::new(),
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
        self.warn_unread(self.doc.as_table(), "");
        let state = self.state.into_inner();
        let mut errors = state.errors;
        let mut warnings = state.warnings;
        sort_by_position(&mut errors);
        sort_by_position(&mut warnings);
        Findings { errors, warnings }
    }

    fn warn_unread(&self, table: &dyn TableLike, parent: &str) {
        for (name, item) in table.iter() {
            let key = table.key(name);
            let path = join(parent, &self.key_text(name, key));
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
                self.warn_unknown(name, key, &path, parent);
                continue;
            }
            self.warn_unread_below(item, &path);
        }
    }

    fn warn_unread_below(&self, item: &Item, path: &str) {
        if let Some(table) = item.as_table_like() {
            self.warn_unread(table, path);
        } else if let Item::ArrayOfTables(array) = item {
            for (i, table) in array.iter().enumerate() {
                self.warn_unread(table, &format!("{path}[{i}]"));
            }
        }
    }

    fn warn_unknown(&self, name: &str, key: Option<&Key>, path: &str, parent: &str) {
        let hint = {
            let state = self.state.borrow();
            state
                .expected
                .get(parent)
                .and_then(|known| closest(name, known.iter().copied()))
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default()
        };
        let location = self.location(key.and_then(Key::span), path);
        self.warn(location, format!("unknown key \"{name}\", ignored{hint}"));
    }

    /// The key exactly as written in the file (quotes included), falling
    /// back to its name for keys without a source span.
    fn key_text(&self, name: &str, key: Option<&Key>) -> String {
        key.and_then(Key::span)
            .and_then(|span| self.doc.raw().get(span))
            .map(str::to_owned)
            .unwrap_or_else(|| name.to_owned())
    }

    fn location(&self, span: Option<Range<usize>>, path: &str) -> Location {
        let (line, column) = match span {
            Some(span) => self.lines.position(self.doc.raw(), span.start),
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

/// One item of the document (table or value) with its path as written.
#[derive(Clone)]
pub(crate) struct Node<'t> {
    tree: &'t Tree,
    item: Entry<'t>,
    key: Option<&'t Key>,
    path: String,
}

/// What a node points at: an item of a table, or one table of an array of
/// tables (`[[a.b]]`), which toml_edit stores as a bare `Table`.
#[derive(Clone, Copy)]
enum Entry<'t> {
    Item(&'t Item),
    Table(&'t Table),
}

impl<'t> Entry<'t> {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Entry::Item(i) => i.span(),
            Entry::Table(t) => t.span(),
        }
    }

    fn as_table_like(&self) -> Option<&'t dyn TableLike> {
        match *self {
            Entry::Item(i) => i.as_table_like(),
            Entry::Table(t) => Some(t as &dyn TableLike),
        }
    }

    fn is_table_like(&self) -> bool {
        self.as_table_like().is_some()
    }

    fn as_value(&self) -> Option<&'t Value> {
        match self {
            Entry::Item(i) => i.as_value(),
            Entry::Table(_) => None,
        }
    }

    #[cfg(test)]
    fn item(&self) -> Option<&'t Item> {
        match self {
            Entry::Item(i) => Some(i),
            Entry::Table(_) => None,
        }
    }
}

impl<'t> Node<'t> {
    /// The key's name, unquoted: for user-chosen names (frontends,
    /// backends, servers, ...), which keep their case.
    pub(crate) fn name(&self) -> &'t str {
        self.key.map(Key::get).unwrap_or("")
    }

    pub(crate) fn tree(&self) -> &'t Tree {
        self.tree
    }

    /// Where the item starts: the value for a key/value pair, the `[header]`
    /// for a table. Type and value errors point here.
    pub(crate) fn location(&self) -> Location {
        let span = self.item.span().or_else(|| self.key_span());
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
        location.key = join(&self.path, name);
        location
    }

    fn key_span(&self) -> Option<Range<usize>> {
        self.key.and_then(Key::span)
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
        let table = self.item.as_table_like()?;
        let mut found = table
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, item)| self.child(table, k, item));
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

    /// Like [`Node::get`], but the child must be a table: `[name]` or an
    /// inline table. Anything else is reported and yields `None`.
    pub(crate) fn section(&self, name: &'static str) -> Option<Node<'t>> {
        self.get(name).filter(Node::expect_table)
    }

    /// All children, in file order, each marked read: for tables whose keys
    /// are user-chosen names such as `[frontends]`.
    pub(crate) fn children(&self) -> Vec<Node<'t>> {
        let Some(table) = self.item.as_table_like() else {
            return Vec::new();
        };
        let children: Vec<Node<'t>> = table
            .iter()
            .map(|(k, item)| self.child(table, k, item))
            .collect();
        for child in &children {
            self.tree.mark_read(&child.path);
        }
        children
    }

    /// Marks this item and everything below it as read: for sections that
    /// are recognised but deliberately ignored (one warning is enough).
    pub(crate) fn read_subtree(&self) {
        let mut state = self.tree.state.borrow_mut();
        state.read.insert(self.path.clone());
        state.read_subtree.insert(self.path.clone());
    }

    fn child(&self, table: &'t dyn TableLike, name: &str, item: &'t Item) -> Node<'t> {
        let key = table.key(name);
        let path = join(&self.path, &self.tree.key_text(name, key));
        Node {
            tree: self.tree,
            item: Entry::Item(item),
            key,
            path,
        }
    }

    /// The tables of an array of tables (`[[name]]`), or this one table when
    /// it was written `[name]` (Traefik 1.7 decoded both into a list). Each
    /// element's path is `name[i]`. Anything else is reported.
    pub(crate) fn table_list(&self) -> Vec<Node<'t>> {
        let single = |item| {
            vec![Node {
                tree: self.tree,
                item,
                key: self.key,
                path: self.path.clone(),
            }]
        };
        match self.item {
            Entry::Item(Item::ArrayOfTables(array)) => array
                .iter()
                .enumerate()
                .map(|(i, table)| {
                    let path = format!("{}[{i}]", self.path);
                    self.tree.mark_read(&path);
                    Node {
                        tree: self.tree,
                        item: Entry::Table(table),
                        key: self.key,
                        path,
                    }
                })
                .collect(),
            Entry::Item(Item::Table(_)) | Entry::Table(_) => single(self.item),
            Entry::Item(Item::Value(Value::InlineTable(_))) => single(self.item),
            _ => {
                self.type_error("a list of tables ([[...]])");
                Vec::new()
            }
        }
    }

    fn key_display(&self) -> String {
        self.tree.key_text(self.name(), self.key)
    }

    /// True for tables; otherwise reports `expected a table, found ...`.
    pub(crate) fn expect_table(&self) -> bool {
        if self.item.is_table_like() {
            return true;
        }
        self.type_error("a table");
        false
    }

    fn value(&self) -> Option<&'t Value> {
        self.item.as_value()
    }

    pub(crate) fn str(&self) -> Option<&'t str> {
        let s = self.value().and_then(Value::as_str);
        if s.is_none() {
            self.type_error("a string");
        }
        s
    }

    pub(crate) fn bool(&self) -> Option<bool> {
        let b = self.value().and_then(Value::as_bool);
        if b.is_none() {
            self.type_error("a boolean (true or false)");
        }
        b
    }

    pub(crate) fn integer(&self) -> Option<i64> {
        let i = self.value().and_then(Value::as_integer);
        if i.is_none() {
            self.type_error("an integer");
        }
        i
    }

    /// The raw TOML value, for callers that accept several types.
    pub(crate) fn raw_value(&self) -> Option<&'t Value> {
        self.value()
    }

    /// An array of strings. Each bad element is reported at its own place.
    pub(crate) fn str_list(&self) -> Option<Vec<String>> {
        let list = self.str_list_located()?;
        Some(list.into_iter().map(|(s, _)| s).collect())
    }

    /// An array of strings, each with its position (path `key[i]`), for
    /// checks that point at one element.
    pub(crate) fn str_list_located(&self) -> Option<Vec<(String, Location)>> {
        let Some(array) = self.value().and_then(Value::as_array) else {
            self.type_error("an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for (i, element) in array.iter().enumerate() {
            let path = format!("{}[{i}]", self.path);
            let location = self.tree.location(element.span(), &path);
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

    /// This item and everything under it as JSON (for plugin configs, which
    /// tollgate does not interpret); the whole subtree counts as read.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        self.read_subtree();
        match self.item {
            Entry::Item(item) => item_to_json(item),
            Entry::Table(table) => table_to_json(table),
        }
    }

    /// `a string`, `an integer`, `a table`, ... for messages.
    pub(crate) fn type_description(&self) -> String {
        match self.item {
            Entry::Table(_) => "a table".to_owned(),
            Entry::Item(Item::Value(Value::InlineTable(_)) | Item::Table(_)) => {
                "a table".to_owned()
            }
            Entry::Item(other) => article(other.type_name()),
        }
    }

    fn type_error(&self, expected: &str) {
        let found = self.type_description();
        self.error(format!("expected {expected}, found {found}"));
    }
}

/// `integer` → `an integer`, `string` → `a string`.
fn article(type_name: &str) -> String {
    let name = match type_name {
        "inline table" => "table",
        "datetime" => "date-time",
        other => other,
    };
    let vowel = name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {name}", if vowel { "an" } else { "a" })
}

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

fn syntax_error(
    file: &Arc<Path>,
    text: &str,
    repairs: &[Repair],
    error: &toml_edit::TomlError,
) -> ConfigError {
    let lines = LineIndex::new(text, repairs.to_vec());
    let (line, column) = match error.span() {
        Some(span) => lines.position(text, span.start),
        None => (0, 0),
    };
    let location = Location {
        file: file.clone(),
        line,
        column,
        key: SYNTAX_KEY.to_owned(),
    };
    ConfigError::one(Diagnostic::at(location, error.message()))
}

/// Byte offsets to 1-based (line, column-in-characters).
struct LineIndex {
    starts: Vec<usize>,
    /// Lines where a bracket was inserted: columns after it shift back by one
    /// so positions refer to the file as the user sees it.
    repairs: Vec<Repair>,
}

impl LineIndex {
    fn new(text: &str, repairs: Vec<Repair>) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts, repairs }
    }

    fn position(&self, text: &str, offset: usize) -> (u32, u32) {
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
            .repairs
            .iter()
            .any(|r| r.line == line && column > r.inserted_column);
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

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A header line with one bracket missing, and how it was read.
#[derive(Debug, Clone)]
struct Repair {
    /// 1-based line.
    line: u32,
    /// Column of the header's first character.
    column: u32,
    /// Column, in the repaired line, of the inserted bracket.
    inserted_column: u32,
    /// The header's name, e.g. `entryPoints.https.tls.certificates`.
    name: String,
    /// The header as written, e.g. `[entryPoints.https.tls.certificates]]`.
    written: String,
}

impl Repair {
    fn location(&self, file: &Arc<Path>) -> Location {
        Location {
            file: file.clone(),
            line: self.line,
            column: self.column,
            key: self.name.clone(),
        }
    }

    fn message(&self) -> String {
        format!(
            "\"{}\" has a bracket missing; read as [[{}]]",
            self.written, self.name
        )
    }
}

/// Rewrites each line that reads `[name]]` or `[[name]` into `[[name]]`.
fn repair_headers(text: &str) -> (String, Vec<Repair>) {
    let mut out = String::with_capacity(text.len() + 8);
    let mut repairs = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        match repair_line(line, to_u32(index + 1)) {
            Some((fixed, repair)) => {
                out.push_str(&fixed);
                repairs.push(repair);
            }
            None => out.push_str(line),
        }
    }
    (out, repairs)
}

fn repair_line(line: &str, number: u32) -> Option<(String, Repair)> {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let header = strip_comment(body).trim_end();
    let rest = &body[header.len()..];
    let (inner, fixed_header) = if header.starts_with("[[") && !header.ends_with("]]") {
        let inner = header.strip_prefix("[[")?.strip_suffix(']')?;
        (inner, format!("{header}]"))
    } else if !header.starts_with("[[") && header.ends_with("]]") {
        let inner = header.strip_prefix('[')?.strip_suffix("]]")?;
        (inner, format!("[{header}"))
    } else {
        return None;
    };
    if !is_header_name(inner) {
        return None;
    }
    let column = to_u32(indent.chars().count() + 1);
    let inserted_column = if fixed_header.starts_with("[[") && !header.starts_with("[[") {
        column
    } else {
        column + to_u32(header.chars().count())
    };
    let repair = Repair {
        line: number,
        column,
        inserted_column,
        name: inner.trim().to_owned(),
        written: header.to_owned(),
    };
    Some((format!("{indent}{fixed_header}{rest}"), repair))
}

/// A plausible table name: no brackets, no value syntax.
fn is_header_name(inner: &str) -> bool {
    !inner.trim().is_empty() && !inner.contains(['[', ']', '=', ',', '{', '}'])
}

/// The line up to a `#` that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[..i],
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line
}

fn item_to_json(item: &Item) -> serde_json::Value {
    match item {
        Item::None => serde_json::Value::Null,
        Item::Value(v) => value_to_json(v),
        Item::Table(t) => table_to_json(t),
        Item::ArrayOfTables(a) => a.iter().map(|t| table_to_json(t)).collect(),
    }
}

fn table_to_json(table: &dyn TableLike) -> serde_json::Value {
    table
        .iter()
        .map(|(k, v)| (k.to_owned(), item_to_json(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn value_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::String(s) => s.value().clone().into(),
        Value::Integer(i) => (*i.value()).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Boolean(b) => (*b.value()).into(),
        Value::Datetime(d) => d.value().to_string().into(),
        Value::Array(a) => a.iter().map(value_to_json).collect(),
        Value::InlineTable(t) => table_to_json(t),
    }
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
        assert!(matches!(certs.item.item(), Some(Item::ArrayOfTables(_))));
        assert_eq!(certs.key_location().to_string(), "t.toml:2:7: a.certs");
        let more = a.get("more").expect("more");
        assert!(matches!(more.item.item(), Some(Item::ArrayOfTables(_))));
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
}
