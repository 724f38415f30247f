//! A config document as the loader walks it, whatever its format: tables,
//! arrays and scalars, each with where it starts in the file. TOML
//! (`toml`) and YAML (`yaml`) files are read into it, so that every section
//! loader, default, check and error message is shared by both.

use std::ops::Range;

/// One value and where it is written (a byte range of the file's text).
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub data: Data,
    pub span: Option<Range<usize>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Data {
    /// A TOML table or inline table, a YAML mapping; keys in file order.
    Table(Vec<Entry>),
    /// TOML's `[[name]]`: a list of tables.
    TableArray(Vec<Value>),
    /// A TOML array, a YAML sequence.
    Array(Vec<Value>),
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// A TOML date-time, as written.
    Datetime(String),
    /// YAML's `~`, `null` or an empty value.
    Null,
}

/// One key of a table and its value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    /// The key as written (quotes included), for key paths in messages.
    pub key_text: String,
    pub key_span: Option<Range<usize>>,
    pub value: Value,
}

impl Value {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.data {
            Data::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_integer(&self) -> Option<i64> {
        match self.data {
            Data::Integer(i) => Some(i),
            _ => None,
        }
    }

    pub(crate) fn as_float(&self) -> Option<f64> {
        match self.data {
            Data::Float(f) => Some(f),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self.data {
            Data::Boolean(b) => Some(b),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Value]> {
        match &self.data {
            Data::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A table's entries; YAML's empty value (`ping:`) is an empty table,
    /// as Traefik reads it.
    pub(crate) fn entries(&self) -> Option<&[Entry]> {
        match &self.data {
            Data::Table(entries) => Some(entries),
            Data::Null => Some(&[]),
            _ => None,
        }
    }

    pub(crate) fn is_table(&self) -> bool {
        matches!(self.data, Data::Table(_) | Data::Null)
    }

    /// `string`, `integer`, ... for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.data {
            Data::Table(_) => "table",
            Data::TableArray(_) => "array of tables",
            Data::Array(_) => "array",
            Data::String(_) => "string",
            Data::Integer(_) => "integer",
            Data::Float(_) => "float",
            Data::Boolean(_) => "boolean",
            Data::Datetime(_) => "date-time",
            Data::Null => "null",
        }
    }

    /// As JSON (plugin configs, which tollgate hands on uninterpreted).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.data {
            Data::Table(entries) => entries
                .iter()
                .map(|e| (e.key.clone(), e.value.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            Data::TableArray(list) | Data::Array(list) => list.iter().map(Value::to_json).collect(),
            Data::String(s) | Data::Datetime(s) => s.clone().into(),
            Data::Integer(i) => (*i).into(),
            Data::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Data::Boolean(b) => (*b).into(),
            Data::Null => serde_json::Value::Null,
        }
    }
}
