//! The reference service's exports as rows of named values: CSV as `Export-Csv` writes it
//! (every field quoted, a `#TYPE ...` first line and a UTF-8 BOM from Windows PowerShell 5.1,
//! neither from PowerShell 7) and JSON as `ConvertTo-Json` writes it (an array of objects, or
//! one object for a single row). Each row keeps the line it starts at, so that a report can
//! point at it. Column names are matched without regard to case, as PowerShell matches them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::error::ImportError;
use crate::config_repo::load::{self, NodeKind};

/// Largest export read. 100,000 users as `Export-Csv` writes them take about 30 MB.
pub(crate) const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// One row of an export.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    /// The line the row starts at, from 1.
    pub(crate) line: u64,
    /// Values by lower-cased column name.
    values: BTreeMap<String, Value>,
}

impl Row {
    pub(crate) fn new(line: u64, values: impl IntoIterator<Item = (String, Value)>) -> Row {
        Row { line, values: values.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect() }
    }

    /// The value of `column` (any case) as PowerShell would print it: a string as is, a
    /// number in decimal, a boolean as `True` or `False`; `None` when absent, null or blank.
    pub(crate) fn text(&self, column: &str) -> Option<String> {
        let text = match self.values.get(&column.to_lowercase())? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(true) => "True".to_string(),
            Value::Bool(false) => "False".to_string(),
            Value::Null => return None,
            // A nested value (a bridge's service numbers) is read by `value`.
            other => other.to_string(),
        };
        (!text.is_empty()).then_some(text)
    }

    /// The raw value of `column` (any case), for nested JSON.
    pub(crate) fn value(&self, column: &str) -> Option<&Value> {
        self.values.get(&column.to_lowercase())
    }

    /// Whether the export has `column` (any case) for this row.
    pub(crate) fn has(&self, column: &str) -> bool {
        self.values.contains_key(&column.to_lowercase())
    }
}

/// An export: its rows, in file order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    /// The file as given, for reports.
    pub(crate) file: String,
    /// The rows.
    pub(crate) rows: Vec<Row>,
}

/// Reads an export, CSV or JSON: by its extension, else by its first character.
pub(crate) fn read(path: &Path) -> Result<Table, ImportError> {
    let file = path.display().to_string();
    let read_error = |source| ImportError::Read { file: file.clone(), source };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_BYTES {
        return Err(ImportError::Parse {
            file,
            line: 1,
            message: format!("{size} bytes is more than the {MAX_BYTES} an export may have"),
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    let text = String::from_utf8(bytes).map_err(|e| ImportError::Parse {
        file: file.clone(),
        line: line_of(e.as_bytes(), e.utf8_error().valid_up_to()),
        message:
            "not UTF-8 text: export with -Encoding UTF8 (Windows PowerShell's default is ASCII, which loses accents)"
                .into(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let json = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => true,
        Some("csv") => false,
        _ => matches!(text.trim_start().chars().next(), Some('[' | '{')),
    };
    if json { parse_json(&file, text) } else { parse_csv(&file, text) }
}

/// The 1-based line of byte `offset` of `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|b| **b == b'\n').count() as u64
}

/// CSV with a header row. A first line `#TYPE ...` (Windows PowerShell's type information)
/// is skipped; every row must have the header's number of fields.
pub(crate) fn parse_csv(file: &str, text: &str) -> Result<Table, ImportError> {
    let (body, skipped) = match text.strip_prefix("#TYPE") {
        Some(_) => match text.find('\n') {
            Some(end) => (&text[end + 1..], 1),
            None => ("", 1),
        },
        None => (text, 0),
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(body.as_bytes());
    let parse_error = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line()) + skipped;
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("{len} fields where the header has {expected_len}")
            }
            _ => e.to_string(),
        };
        ImportError::Parse { file: file.to_string(), line, message }
    };
    let headers: Vec<String> = reader.headers().map_err(parse_error)?.iter().map(|h| h.trim().to_string()).collect();
    if headers.iter().all(String::is_empty) {
        return Err(ImportError::Parse { file: file.to_string(), line: 1 + skipped, message: "no header row".into() });
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line()) + skipped;
                let values = headers.iter().cloned().zip(record.iter().map(|v| Value::String(v.to_string())));
                rows.push(Row::new(line, values));
            }
            Err(e) => return Err(parse_error(e)),
        }
    }
    Ok(Table { file: file.to_string(), rows })
}

/// JSON: an array of objects, or one object. Read with the config repository's loader (JSON
/// is YAML), which keeps every value's line and bounds what hostile input can cost.
pub(crate) fn parse_json(file: &str, text: &str) -> Result<Table, ImportError> {
    let docs = load::parse_str(file, text).map_err(|e| ImportError::Load(Box::new(e)))?;
    let Some(doc) = docs.into_iter().next() else {
        return Ok(Table { file: file.to_string(), rows: Vec::new() });
    };
    let items = match doc.root.kind {
        NodeKind::Seq(items) => items,
        NodeKind::Map(_) => vec![doc.root],
        NodeKind::Scalar { .. } => {
            return Err(ImportError::Parse {
                file: file.to_string(),
                line: u64::from(doc.root.pos.line),
                message: "expected an array of objects (ConvertTo-Json of the cmdlet's output)".into(),
            });
        }
    };
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let line = u64::from(item.pos.line);
        let NodeKind::Map(entries) = item.kind else {
            return Err(ImportError::Parse {
                file: file.to_string(),
                line,
                message: "expected an object for each row".into(),
            });
        };
        rows.push(Row::new(line, entries.into_iter().map(|e| (e.key, e.value.to_json()))));
    }
    Ok(Table { file: file.to_string(), rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS_CSV: &str = "\u{feff}#TYPE Deserialized.Microsoft.Rtc.Management.Hosted.Bridge.DialInConferencingUser\n\
\"Identity\",\"DisplayName\",\"ConferenceId\",\"ServiceNumber\",\"SipAddress\"\n\
\"a1\",\"Smith, Alice\",\"1234567\",\"14255550100\",\"sip:alice@contoso.com\"\n\
\"b2\",\"Bob \"\"the\"\" Builder\",\"7654321\",\"14255550100\",\"sip:bob@contoso.com\"\n";

    #[test]
    fn windows_powershell_csv_with_type_line_bom_and_quotes() {
        let text = WINDOWS_CSV.strip_prefix('\u{feff}').expect("bom");
        let t = parse_csv("users.csv", text).expect("parses");
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].line, 3);
        assert_eq!(t.rows[0].text("displayname").as_deref(), Some("Smith, Alice"));
        assert_eq!(t.rows[1].text("DisplayName").as_deref(), Some("Bob \"the\" Builder"));
        assert_eq!(t.rows[1].text("SIPADDRESS").as_deref(), Some("sip:bob@contoso.com"));
        assert_eq!(t.rows[1].line, 4);
    }

    #[test]
    fn a_short_row_names_its_line() {
        let err = parse_csv("u.csv", "\"A\",\"B\"\n\"1\",\"2\"\n\"3\"\n").expect_err("short row");
        let text = err.to_string();
        assert!(text.starts_with("u.csv:3:"), "{text}");
        assert!(text.contains("1 fields where the header has 2"), "{text}");
    }

    #[test]
    fn json_arrays_and_single_objects_keep_their_lines() {
        let text = "[\n  {\n    \"ConferenceId\": \"1234567\",\n    \"AllowTollFreeDialIn\": true\n  },\n  {\n    \"ConferenceId\": 7654321,\n    \"ServiceNumber\": null\n  }\n]\n";
        let t = parse_json("u.json", text).expect("parses");
        assert_eq!(t.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 6]);
        assert_eq!(t.rows[0].text("allowtollfreedialin").as_deref(), Some("True"));
        assert_eq!(t.rows[1].text("ConferenceId").as_deref(), Some("7654321"));
        assert_eq!(t.rows[1].text("ServiceNumber"), None);
        assert!(t.rows[1].has("ServiceNumber"));
        let one = parse_json("u.json", "{\"ConferenceId\": \"1\"}").expect("one object");
        assert_eq!(one.rows.len(), 1);
    }

    #[test]
    fn hostile_json_is_bounded_by_the_loader() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_json("u.json", &deep).is_err());
        assert!(parse_json("u.json", "\"just a string\"").is_err());
    }
}
