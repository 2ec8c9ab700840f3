//! Preset files of the grid runners: a TOML table, edited by `--set field=value` overrides
//! before it is read into a suite's own config type.

use std::path::Path;

use crate::{Error, Result};

/// Reads the TOML file at `path` and applies `overrides` in order (see [`apply_override`]).
pub fn load_table(path: &Path, overrides: &[String]) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| Error::bad_data(path, format!("malformed preset: {e}")))?;
    for assignment in overrides {
        apply_override(&mut table, assignment).map_err(|fault| Error::config("--set", format!("bad override {assignment:?}: {fault}")))?;
    }
    Ok(table)
}

/// Reads the preset at `path` with `overrides` applied (see [`load_table`]) as the suite's
/// preset type `T`; a missing or unknown field is an error naming the file.
pub fn load<T: serde::de::DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T> {
    load_table(path, overrides)?.try_into().map_err(|e| Error::bad_data(path, format!("malformed preset: {e}")))
}

/// Sets `dotted.key = value` in `table` (the value in TOML syntax: `epochs=5`,
/// `seeds=[0,1]`, `aux.glcan.fusion="gated-sum"`); a value that is not valid TOML is taken
/// as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> std::result::Result<(), String> {
    let (key, raw) = assignment.split_once('=').ok_or("expected field=value")?;
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut parsed) => parsed.remove("v").expect("just parsed"),
        Err(_) => toml::Value::String(raw.trim().to_owned()),
    };
    let mut parts: Vec<&str> = key.trim().split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).ok_or("empty field name")?;
    let mut current = table;
    for part in parts {
        current = current
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("{part} is not a table"))?;
    }
    current.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_set_nested_fields_and_refuse_nonsense() {
        let mut table: toml::Table = toml::from_str("epochs = 1\n[aux]\nx = 1\n").unwrap();
        apply_override(&mut table, "epochs=5").unwrap();
        apply_override(&mut table, "aux.glcan.fusion=gated-sum").unwrap();
        assert_eq!(table["epochs"].as_integer(), Some(5));
        assert_eq!(table["aux"]["glcan"]["fusion"].as_str(), Some("gated-sum"));
        assert!(apply_override(&mut table, "epochs").unwrap_err().contains("field=value"));
        assert!(apply_override(&mut table, "epochs.x=1").unwrap_err().contains("not a table"));
    }
}
