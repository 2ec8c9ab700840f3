//! `config.json` of a run directory: the trainer's resolved [`TrainConfig`], and for a run
//! of a grid also what the grid keys the run by ([`RunConfig`]: `config_hash`, the run's
//! identity `run` and its resolved `preset`), as top-level fields beside the trainer's. The
//! grid writes the file before training ([`write_grid_run_config`]); the trainer then
//! checks only its own part, so a run directory stays tied to one configuration.

use std::path::Path;

use glcan_store::{write_atomic, RunConfig};
use serde_json::Value;

use super::TrainConfig;
use crate::models::InitMode;
use crate::{Error, Result};

/// The fields a grid adds to the trainer's.
const GRID_FIELDS: [&str; 3] = ["config_hash", "run", "preset"];

/// The file's layout for a grid run: the hash first, the long preset last.
#[derive(serde::Serialize)]
struct GridRunFile<'a> {
    config_hash: &'a str,
    run: &'a Value,
    #[serde(flatten)]
    train: &'a TrainConfig,
    preset: &'a Value,
}

/// The text of a `config.json` holding `config`, and `grid`'s fields for a grid run.
pub(crate) fn to_json(config: &TrainConfig, grid: Option<&RunConfig>) -> String {
    match grid {
        None => serde_json::to_string_pretty(config),
        Some(grid) => serde_json::to_string_pretty(&GridRunFile {
            config_hash: &grid.config_hash,
            run: &grid.run,
            train: config,
            preset: &grid.preset,
        }),
    }
    .expect("configs serialise")
}

/// The trainer's part of the `config.json` at `path` whose text is `text`.
pub(crate) fn train_config(path: &Path, text: &str) -> Result<TrainConfig> {
    let bad = |e: serde_json::Error| Error::bad_data(path, format!("not a run configuration: {e}"));
    let mut value: Value = serde_json::from_str(text).map_err(bad)?;
    if let Value::Object(fields) = &mut value {
        for name in GRID_FIELDS {
            fields.remove(name);
        }
        // Written before `init` existed, when every run started from tch's defaults: such a
        // folder must not pass for a run of today's default.
        fields.entry("init").or_insert_with(|| Value::from(InitMode::Tch.name()));
    }
    serde_json::from_value(value).map_err(bad)
}

/// Records a grid run's config in `run_dir` (created if missing) before it trains. A
/// `config.json` already there must say the same: a run directory belongs to one run.
pub fn write_grid_run_config(run_dir: &Path, config: &TrainConfig, grid: &RunConfig) -> Result<()> {
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let path = run_dir.join("config.json");
    let json = to_json(config, Some(grid));
    match std::fs::read_to_string(&path) {
        Ok(existing) => {
            let same =
                serde_json::from_str::<Value>(&existing).is_ok_and(|old| serde_json::from_str::<Value>(&json).is_ok_and(|new| old == new));
            if !same {
                return Err(Error::bad_data(&path, "this run directory belongs to a different configuration; choose another directory"));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(write_atomic(&path, json.as_bytes())?),
        Err(e) => Err(Error::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aux::Method;

    #[test]
    fn a_grid_run_file_reads_back_as_its_train_config_and_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let config = TrainConfig::new(Method::Dgl, 2, 3, 32, 0.05);
        let grid =
            RunConfig::new(&serde_json::json!({"epochs": 3, "seeds": [0]}), &["seeds"], &serde_json::json!({"method": "dgl"})).unwrap();
        write_grid_run_config(dir.path(), &config, &grid).unwrap();
        let path = dir.path().join("config.json");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(train_config(&path, &text).unwrap(), config);
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (json["config_hash"].as_str(), &json["preset"]["epochs"], &json["run"]["method"]),
            (Some(grid.config_hash.as_str()), &Value::from(3), &Value::from("dgl"))
        );
        write_grid_run_config(dir.path(), &config, &grid).expect("the same run may write it again");
        let other = TrainConfig { lr: 0.5, ..config };
        let message = write_grid_run_config(dir.path(), &other, &grid).unwrap_err().to_string();
        assert!(message.contains("config.json") && message.contains("different configuration"), "{message}");
    }

    #[test]
    fn a_file_from_before_init_reads_as_tch() {
        let path = Path::new("runs/old/config.json");
        let config = TrainConfig::new(Method::E2e, 1, 2, 32, 0.05);
        let text = to_json(&config, None);
        assert!(text.contains("\"init\": \"reference\""), "{text}");
        assert_eq!(train_config(path, &text).unwrap(), config);
        let mut old: Value = serde_json::from_str(&text).unwrap();
        old.as_object_mut().unwrap().remove("init");
        let read = train_config(path, &old.to_string()).unwrap();
        assert_eq!(read.init, InitMode::Tch, "runs before the setting started from tch's defaults");
        assert_ne!(read, config, "so today's default does not take over their folder");
    }
}
