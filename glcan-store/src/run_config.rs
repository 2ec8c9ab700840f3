//! A run's resolved config and its hash: the key by which a grid recognises a run it has
//! already done. The hash covers every field of the grid's preset that affects the run
//! (after `--set` overrides, aux options included) except the lists the grid iterates over
//! (adding a seed must not invalidate the seeds already done), plus the run's own identity
//! (dataset, network, method, K, seed, ...). A changed recipe is thus a new hash, a new run
//! directory and a new row, and never resumes or overwrites the old one.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Error;

/// The resolved config of one run of a grid, as its run directory's `config.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunConfig {
    /// The first 16 hex digits of the SHA-256 of `{"preset": .., "run": ..}` written as
    /// canonical JSON (keys sorted, no white space, null fields left out).
    pub config_hash: String,
    /// The grid's preset without the lists it iterates over.
    pub preset: Value,
    /// The run's identity.
    pub run: Value,
}

impl RunConfig {
    /// The config of the run `run` of the grid `preset`, whose fields `iterated` (the lists
    /// the grid iterates over) are left out. `preset` must serialise to a JSON object that
    /// holds every field of `iterated`.
    pub fn new(preset: &impl Serialize, iterated: &[&str], run: &impl Serialize) -> Result<Self, Error> {
        let Value::Object(mut fields) = to_value(preset)? else {
            return Err(Error::Config("the preset is not a table of fields".into()));
        };
        for name in iterated {
            fields.remove(*name).ok_or_else(|| Error::Config(format!("the preset has no field `{name}`")))?;
        }
        let preset = Value::Object(fields);
        let run = to_value(run)?;
        let hashed = Value::Object(Map::from_iter([("preset".to_owned(), preset.clone()), ("run".to_owned(), run.clone())]));
        let mut text = String::new();
        write_canonical(&hashed, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        let config_hash = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        Ok(RunConfig { config_hash, preset, run })
    }

    /// `<id>-<first 8 hex digits of the hash>`: the run directory's name, so that a changed
    /// recipe never lands in the folder of the old one.
    pub fn dir_name(&self, id: &str) -> String {
        format!("{id}-{}", &self.config_hash[..8])
    }
}

fn to_value(value: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Config(e.to_string()))
}

/// JSON with object keys sorted and null members left out: the same text for the same
/// config whatever the field order, and a new optional field (absent = null) leaves the
/// hashes of existing runs as they were.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(fields) => {
            let mut names: Vec<&String> = fields.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
            names.sort();
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(&fields[name], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ITERATED: [&str; 2] = ["methods", "seeds"];

    fn preset() -> Value {
        json!({"preset": "t", "methods": ["e2e", "dgl"], "seeds": [0], "epochs": 1, "lr": 0.05, "train_subset": null, "aux": {"glcan": {"fusion": "concat"}}})
    }

    fn hash(preset: &Value, method: &str, seed: u64) -> String {
        RunConfig::new(preset, &ITERATED, &json!({"method": method, "seed": seed})).unwrap().config_hash
    }

    #[test]
    fn the_hash_is_stable_and_short() {
        let config = RunConfig::new(&preset(), &ITERATED, &json!({"method": "e2e", "seed": 0})).unwrap();
        assert_eq!(config.config_hash.len(), 16);
        assert!(config.config_hash.chars().all(|c| c.is_ascii_hexdigit()));
        // Pinned: a change here would make every grid redo its finished runs. The same as
        // python3 -c 'import hashlib; print(hashlib.sha256(b"{\"preset\":{\"aux\":{\"glcan\":{\"fusion\":\"concat\"}},\"epochs\":1,\"lr\":0.05,\"preset\":\"t\"},\"run\":{\"method\":\"e2e\",\"seed\":0}}").hexdigest()[:16])'
        assert_eq!(config.config_hash, "18e3ff7b8d1bb1a0");
        assert_eq!(config.dir_name("fashion-mnist-e2e"), format!("fashion-mnist-e2e-{}", &config.config_hash[..8]));
        assert!(config.preset.get("seeds").is_none() && config.preset["epochs"] == 1);
    }

    #[test]
    fn the_iterated_lists_do_not_count_but_everything_else_does() {
        let base = hash(&preset(), "e2e", 0);
        let mut more_seeds = preset();
        more_seeds["seeds"] = json!([0, 1, 2]);
        more_seeds["methods"] = json!(["e2e"]);
        assert_eq!(hash(&more_seeds, "e2e", 0), base, "adding seeds keeps the finished ones");
        let mut null_dropped = preset();
        null_dropped.as_object_mut().unwrap().remove("train_subset");
        assert_eq!(hash(&null_dropped, "e2e", 0), base, "an absent optional field is no change");
        for (field, value) in [("epochs", json!(4)), ("lr", json!(0.5)), ("train_subset", json!(3000))] {
            let mut changed = preset();
            changed[field] = value;
            assert_ne!(hash(&changed, "e2e", 0), base, "{field}");
        }
        let mut aux = preset();
        aux["aux"]["glcan"]["fusion"] = json!("gated-sum");
        assert_ne!(hash(&aux, "e2e", 0), base, "aux options count");
        assert_ne!(hash(&preset(), "e2e", 1), base, "the seed is the run's identity");
        assert_ne!(hash(&preset(), "dgl", 0), base);
    }

    #[test]
    fn a_listed_field_that_is_missing_is_an_error() {
        let message = RunConfig::new(&json!({"seeds": [0]}), &ITERATED, &json!({})).unwrap_err().to_string();
        assert!(message.contains("`methods`"), "{message}");
        assert!(RunConfig::new(&json!([1]), &[], &json!({})).is_err());
    }
}
