//! TOML files: parsed with toml_edit (which keeps every key's and value's
//! place in the file) and read into the format-neutral `Value`.
//!
//! A document that only fails because of a header with one bracket missing
//! (`[a.b]]`, `[[a.b]`) is read as `[[a.b]]` with a warning: published
//! Traefik configs (including our seed) contain this typo, and the intent
//! is unambiguous. Valid TOML is never rewritten: inside a multi-line
//! array, a line such as `[1]]` is legitimate and must keep its meaning.

use std::path::Path;
use std::sync::Arc;

use toml_edit::{Document, Item, TableLike};

use super::lines::{to_u32, LineIndex, Shift};
use super::value::{Data, Entry, Value};
use super::SYNTAX_KEY;
use crate::config::diagnostic::{ConfigError, Diagnostic, Location};

/// A TOML file read: its root, the text its spans index (repaired, if a
/// bracket was added) and the repairs made.
pub(super) struct Parsed {
    pub root: Value,
    pub text: String,
    pub repairs: Vec<Repair>,
}

pub(super) fn parse(file: &Arc<Path>, text: &str) -> Result<Parsed, ConfigError> {
    let first_error = match Document::parse(text.to_owned()) {
        Ok(doc) => return Ok(read(doc, Vec::new())),
        Err(e) => e,
    };
    let (repaired, repairs) = repair_headers(text);
    if repairs.is_empty() {
        return Err(syntax_error(file, text, &[], &first_error));
    }
    match Document::parse(repaired.clone()) {
        Ok(doc) => Ok(read(doc, repairs)),
        Err(e) => Err(syntax_error(file, &repaired, &repairs, &e)),
    }
}

fn read(doc: Document<String>, repairs: Vec<Repair>) -> Parsed {
    let raw = doc.raw();
    let root = Value {
        data: Data::Table(entries(doc.as_table(), raw)),
        span: None,
    };
    Parsed {
        root,
        text: raw.to_owned(),
        repairs,
    }
}

fn entries(table: &dyn TableLike, raw: &str) -> Vec<Entry> {
    table
        .iter()
        .map(|(name, item)| {
            let key = table.key(name);
            let key_span = key.and_then(|k| k.span());
            let key_text = key_span
                .clone()
                .and_then(|span| raw.get(span))
                .map_or_else(|| name.to_owned(), str::to_owned);
            Entry {
                key: name.to_owned(),
                key_text,
                key_span,
                value: item_value(item, raw),
            }
        })
        .collect()
}

fn item_value(item: &Item, raw: &str) -> Value {
    let data = match item {
        Item::None => Data::Null,
        Item::Value(v) => return value(v, raw),
        Item::Table(t) => Data::Table(entries(t, raw)),
        Item::ArrayOfTables(a) => Data::TableArray(
            a.iter()
                .map(|t| Value {
                    data: Data::Table(entries(t, raw)),
                    span: t.span(),
                })
                .collect(),
        ),
    };
    Value {
        data,
        span: item.span(),
    }
}

fn value(v: &toml_edit::Value, raw: &str) -> Value {
    use toml_edit::Value as V;
    let data = match v {
        V::String(s) => Data::String(s.value().clone()),
        V::Integer(i) => Data::Integer(*i.value()),
        V::Float(f) => Data::Float(*f.value()),
        V::Boolean(b) => Data::Boolean(*b.value()),
        V::Datetime(d) => Data::Datetime(d.value().to_string()),
        V::Array(a) => Data::Array(a.iter().map(|e| value(e, raw)).collect()),
        V::InlineTable(t) => Data::Table(entries(t, raw)),
    };
    Value {
        data,
        span: v.span(),
    }
}

fn syntax_error(
    file: &Arc<Path>,
    text: &str,
    repairs: &[Repair],
    error: &toml_edit::TomlError,
) -> ConfigError {
    let lines = LineIndex::new(text, shifts(repairs));
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

/// Where columns shift, for the line index.
pub(super) fn shifts(repairs: &[Repair]) -> Vec<Shift> {
    repairs
        .iter()
        .map(|r| Shift {
            line: r.line,
            inserted_column: r.inserted_column,
        })
        .collect()
}

/// A header line with one bracket missing, and how it was read.
#[derive(Debug, Clone)]
pub(super) struct Repair {
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
    pub(super) fn location(&self, file: &Arc<Path>) -> Location {
        Location {
            file: file.clone(),
            line: self.line,
            column: self.column,
            key: self.name.clone(),
        }
    }

    pub(super) fn message(&self) -> String {
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
