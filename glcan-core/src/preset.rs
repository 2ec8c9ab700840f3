//! Preset files of the grid runners: a TOML table that may inherit from other presets
//! (`base = "quick.toml"` or a list), edited by `--set field=value` overrides before it is
//! read into a suite's own config type.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The field naming the presets a preset inherits from; it is resolved away on loading.
pub const BASE: &str = "base";

/// Reads the preset at `path` with its bases merged in (see [`resolve`]), then applies
/// `overrides` in order (see [`apply_override`]).
pub fn load_table(path: &Path, overrides: &[String]) -> Result<toml::Table> {
    let mut table = resolve(path, &mut Vec::new())?;
    for assignment in overrides {
        apply_override(&mut table, assignment).map_err(|fault| Error::config("--set", format!("bad override {assignment:?}: {fault}")))?;
    }
    Ok(table)
}

/// Reads the preset at `path` with bases and `overrides` applied (see [`load_table`]) as
/// the suite's preset type `T`; a missing or unknown field is an error naming the file.
pub fn load<T: serde::de::DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T> {
    load_table(path, overrides)?.try_into().map_err(|e| Error::bad_data(path, format!("malformed preset: {e}")))
}

/// The table of the preset at `path`: its bases (paths relative to its folder), merged in
/// the order listed, with the file's own fields merged over them. `chain` holds the presets
/// being resolved, to refuse a cycle.
fn resolve(path: &Path, chain: &mut Vec<PathBuf>) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut own: toml::Table = toml::from_str(&text).map_err(|e| Error::bad_data(path, format!("malformed preset: {e}")))?;
    let identity = path.canonicalize().map_err(|e| Error::io(path, e))?;
    if chain.contains(&identity) {
        let names: Vec<String> = chain.iter().chain([&identity]).map(|p| p.display().to_string()).collect();
        return Err(Error::bad_data(path, format!("presets inherit in a cycle: {}", names.join(" -> "))));
    }
    let bases = match own.remove(BASE) {
        None => Vec::new(),
        Some(toml::Value::String(one)) => vec![one],
        Some(toml::Value::Array(list)) => list
            .into_iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| Error::bad_data(path, "base must be a file name or a list of file names")))
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::bad_data(path, "base must be a file name or a list of file names")),
    };
    chain.push(identity);
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut table = toml::Table::new();
    for base in bases {
        let inherited = resolve(&folder.join(&base), chain).map_err(|e| Error::bad_data(path, format!("base {base:?}: {e}")))?;
        merge(&mut table, inherited);
    }
    chain.pop();
    merge(&mut table, own);
    Ok(table)
}

/// Merges `over` into `table`: tables merge field by field, except that a table naming
/// another `kind` (an SGD optimizer over an inherited Adam) replaces the inherited one, as
/// does any other value.
fn merge(table: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (table.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value))
                if !value.get("kind").is_some_and(|kind| inner.get("kind") != Some(kind)) =>
            {
                merge(inner, value)
            }
            (_, value) => {
                table.insert(key, value);
            }
        }
    }
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
    if parts.is_empty() && last == BASE {
        return Err("base is resolved when the preset is read; name the preset to inherit from in the file".into());
    }
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
        assert!(apply_override(&mut table, "base=\"x.toml\"").unwrap_err().contains("base"));
    }

    #[test]
    fn presets_inherit_in_order_and_state_only_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.toml", "preset = \"a\"\nepochs = 1\nseeds = [0, 1]\n[aux.glcan]\nlocal_layers = 2\nfusion = \"concat\"\n[optimizer]\nkind = \"adam\"\neps = 1e-8\n");
        write("b.toml", "epochs = 2\n[detector]\nwidth = 8\n[schedule]\nkind = \"cosine\"\nwarmup_epochs = 0.2\n");
        write(
            "c.toml",
            "base = [\"a.toml\", \"b.toml\"]\npreset = \"c\"\nseeds = [3]\n[aux.glcan]\nfusion = \"top-down\"\n[optimizer]\nkind = \"sgd\"\nmomentum = 0.9\n[schedule]\nwarmup_epochs = 0.5\n",
        );
        let table = load_table(&dir.path().join("c.toml"), &["epochs=4".to_owned()]).unwrap();
        let expected: toml::Table = toml::from_str(
            "preset = \"c\"\nepochs = 4\nseeds = [3]\n[aux.glcan]\nlocal_layers = 2\nfusion = \"top-down\"\n[optimizer]\nkind = \"sgd\"\nmomentum = 0.9\n\
             [detector]\nwidth = 8\n[schedule]\nkind = \"cosine\"\nwarmup_epochs = 0.5\n",
        )
        .unwrap();
        assert_eq!(table, expected);
    }

    #[test]
    fn bad_bases_name_the_file_and_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("loop1.toml", "base = \"loop2.toml\"\n");
        write("loop2.toml", "base = \"loop1.toml\"\n");
        write("missing.toml", "base = \"nowhere.toml\"\n");
        write("number.toml", "base = 3\n");
        write("broken.toml", "base = \"bad.toml\"\n");
        write("bad.toml", "epochs = \n");
        for (file, expected) in [
            ("loop1.toml", "cycle"),
            ("missing.toml", "nowhere.toml"),
            ("number.toml", "base must be"),
            ("broken.toml", "bad.toml: malformed preset"),
        ] {
            let message = load_table(&dir.path().join(file), &[]).unwrap_err().to_string();
            assert!(message.contains(expected) && message.contains(file), "{file}: {message}");
        }
    }
}
