//! YAML files (Traefik 2 and 3 users mostly write theirs in YAML): parsed
//! with saphyr, which marks where each node starts, and read into the
//! format-neutral `Value`. One document per file; anchors and aliases are
//! resolved (saphyr copies the anchored node), and merge keys (`<<: *base`)
//! add the keys the mapping does not have; tags other than YAML's own are
//! refused with their place.

use std::path::Path;
use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::lines::LineIndex;
use super::value::{Data, Entry, Value};
use super::{join, SYNTAX_KEY};
use crate::config::diagnostic::{ConfigError, Diagnostic, Location};

pub(super) fn parse(file: &Arc<Path>, text: &str) -> Result<Value, ConfigError> {
    let offsets = Offsets::new(text);
    let lines = LineIndex::new(text, Vec::new());
    let fail = |index: usize, key: &str, message: String| {
        let (line, column) = lines.position(text, offsets.byte(index));
        let location = Location {
            file: file.clone(),
            line,
            column,
            key: key.to_owned(),
        };
        ConfigError::one(Diagnostic::at(location, message))
    };
    let documents = MarkedYaml::load_from_str(text)
        .map_err(|e| fail(e.marker().index(), SYNTAX_KEY, e.info().to_owned()))?;
    let mut documents = documents.into_iter();
    let Some(first) = documents.next() else {
        return Ok(empty_root());
    };
    if let Some(second) = documents.next() {
        let message = "a second YAML document (after ---): write one per file".to_owned();
        return Err(fail(second.span.start.index(), SYNTAX_KEY, message));
    }
    let reader = Reader {
        offsets: &offsets,
        text,
    };
    let root = reader
        .value(&first, "")
        .map_err(|(index, path, message)| fail(index, &path, message))?;
    Ok(match root.data {
        Data::Null => empty_root(),
        _ => root,
    })
}

fn empty_root() -> Value {
    Value {
        data: Data::Table(Vec::new()),
        span: None,
    }
}

/// saphyr counts characters; spans are byte offsets.
struct Offsets(Vec<usize>);

impl Offsets {
    fn new(text: &str) -> Offsets {
        let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        v.push(text.len());
        Offsets(v)
    }

    fn byte(&self, char_index: usize) -> usize {
        self.0
            .get(char_index)
            .copied()
            .unwrap_or_else(|| *self.0.last().unwrap_or(&0))
    }
}

struct Reader<'a> {
    offsets: &'a Offsets,
    text: &'a str,
}

/// A node that cannot be read: its character index, key path and why.
type Refusal = (usize, String, String);

impl Reader<'_> {
    fn value(&self, node: &MarkedYaml<'_>, path: &str) -> Result<Value, Refusal> {
        let start = self.offsets.byte(node.span.start.index());
        let data = match &node.data {
            YamlData::Value(scalar) => scalar_data(scalar),
            YamlData::Representation(text, _, _) => Data::String(text.to_string()),
            YamlData::Sequence(items) => Data::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.value(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            YamlData::Mapping(map) => {
                let mut entries = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let name = self.key(key, path)?;
                    let key_text = if name.contains(['.', ' ', '"']) || name.is_empty() {
                        format!("{name:?}")
                    } else {
                        name.clone()
                    };
                    let child = join(path, &key_text);
                    let value = self.value(value, &child)?;
                    let key_start = self.offsets.byte(key.span.start.index());
                    let key_end = self.offsets.byte(key.span.end.index()).max(key_start);
                    entries.push(Entry {
                        key: name,
                        key_text,
                        key_span: Some(key_start..key_end),
                        value,
                    });
                }
                Data::Table(merge_keys(entries))
            }
            YamlData::Tagged(tag, inner) => {
                if !tag.is_yaml_core_schema() {
                    return Err(refuse(node, path, format!("unsupported YAML tag {tag}")));
                }
                return self.value(inner, path);
            }
            YamlData::Alias(_) => {
                return Err(refuse(
                    node,
                    path,
                    "YAML aliases (*name) are not supported: write the value out".to_owned(),
                ))
            }
            YamlData::BadValue => {
                return Err(refuse(node, path, "a value YAML cannot read".to_owned()))
            }
        };
        Ok(Value {
            data,
            span: Some(start..start.max(self.offsets.byte(node.span.end.index()))),
        })
    }

    /// A mapping key as a name: keys are scalars; a number or boolean is
    /// taken as written (`80:` is the key "80").
    fn key(&self, key: &MarkedYaml<'_>, path: &str) -> Result<String, Refusal> {
        match &key.data {
            YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
            YamlData::Representation(s, _, _) => Ok(s.to_string()),
            YamlData::Value(Scalar::Null) => Ok(String::new()),
            YamlData::Value(_) => {
                let start = self.offsets.byte(key.span.start.index());
                let end = self.offsets.byte(key.span.end.index());
                Ok(self
                    .text
                    .get(start..end)
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_owned())
            }
            _ => Err(refuse(
                key,
                path,
                "a mapping key must be a plain name".to_owned(),
            )),
        }
    }
}

/// YAML's merge key: `<<: *base` (or a list of them) adds the keys of the
/// merged mappings that this one does not write itself.
fn merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    if !entries.iter().any(|e| e.key == "<<") {
        return entries;
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.key == "<<");
    for merge in merges {
        let sources = match merge.value.data {
            Data::Table(entries) => vec![entries],
            Data::Array(list) => list
                .into_iter()
                .filter_map(|v| match v.data {
                    Data::Table(entries) => Some(entries),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for source in sources {
            for entry in source {
                if !own.iter().any(|e| e.key == entry.key) {
                    own.push(entry);
                }
            }
        }
    }
    own
}

fn refuse(node: &MarkedYaml<'_>, path: &str, message: String) -> Refusal {
    let path = if path.is_empty() { "(top level)" } else { path };
    (node.span.start.index(), path.to_owned(), message)
}

fn scalar_data(scalar: &Scalar<'_>) -> Data {
    match scalar {
        Scalar::Null => Data::Null,
        Scalar::Boolean(b) => Data::Boolean(*b),
        Scalar::Integer(i) => Data::Integer(*i),
        Scalar::FloatingPoint(f) => Data::Float(f.into_inner()),
        Scalar::String(s) => Data::String(s.to_string()),
    }
}
