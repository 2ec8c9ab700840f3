//! Preset files of the suites' grids: a TOML table from a file, with `--set field=value`
//! overrides applied before it is parsed into the suite's own preset type.

use std::path::Path;

use anyhow::{Context, Result};

/// Reads the TOML preset at `path`, applies `overrides` (`field=value`, the value in TOML
/// syntax, e.g. `epochs=5`, `seeds=[0,1]`, `aux.glcan.fusion="gated-sum"`) and parses it as
/// `T`; errors name the file or the override.
pub fn load<T: serde::de::DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read preset {}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text).with_context(|| format!("malformed preset {}", path.display()))?;
    for assignment in overrides {
        apply_override(&mut table, assignment).with_context(|| format!("bad override {assignment:?}"))?;
    }
    table.try_into().with_context(|| format!("malformed preset {}", path.display()))
}

/// Sets `dotted.key = value` in `table`; a value that is not valid TOML is taken as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let (key, raw) = assignment.split_once('=').context("expected field=value")?;
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut parsed) => parsed.remove("v").expect("just parsed"),
        Err(_) => toml::Value::String(raw.trim().to_owned()),
    };
    let mut parts: Vec<&str> = key.trim().split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).context("empty field name")?;
    let mut current = table;
    for part in parts {
        current = current
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("{part} is not a table"))?;
    }
    current.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_reach_nested_fields_and_strings() {
        let mut table: toml::Table = toml::from_str("epochs = 1\n[aux]\nx = 1\n").unwrap();
        for assignment in ["epochs=5", "aux.glcan.fusion=\"gated-sum\"", "device=cpu", "seeds=[0, 1]"] {
            apply_override(&mut table, assignment).unwrap();
        }
        let expected: toml::Table = toml::from_str("epochs = 5\ndevice = \"cpu\"\nseeds = [0, 1]\n[aux]\nx = 1\n[aux.glcan]\nfusion = \"gated-sum\"\n").unwrap();
        assert_eq!(table, expected);
        assert!(apply_override(&mut table, "epochs").unwrap_err().to_string().contains("field=value"));
        assert!(apply_override(&mut table, "epochs.x=1").unwrap_err().to_string().contains("epochs is not a table"));
    }
}
