//! The detection suite as the runner's [`Suite`]: one dataset and backbone of a preset
//! (`configs/detect-*.toml`), trained by every method, K and seed. The runner
//! (`glcan_runner`) does the rest: checks, run directories, skip/resume, rows, shards.
//!
//! Besides the runner's files, a run directory holds `detector.json`, the final
//! `evaluation.json` and `predictions.png` (test images with true (green) and predicted
//! (red) boxes).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use glcan_core::aux::Method;
use glcan_core::models::registry::Family;
use glcan_core::models::{NetworkName, UnitNetwork};
use glcan_core::optim::OptimizerConfig;
use glcan_core::split::SplitStrategy;
use glcan_core::train::{train_local, LogProgress, TrainOutcome};
use glcan_runner::{Grid, Run, RunJob, SpeedTask, Suite, Trained};
use glcan_store::ResultRow;

use crate::data::DetectionData;
use crate::datasets::{DatasetName, Format};
use crate::detector::{pyramid_taps, DetectionTask, DetectorConfig};
use crate::digits::DigitsConfig;

/// How the network is cut into K modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectSplit {
    /// At stage ends, the earliest first: after stage 1 (K = 2), after stage 1 and C3
    /// (K = 3), after stage 1, C3 and C4 (K = 4), then the stem. The early, high-resolution
    /// stages hold most of the activation memory and learn generic features locally, so
    /// cutting them off first saves the most memory for the least accuracy (InfoPro's
    /// memory-balanced splits cut early for the same reason).
    #[default]
    Early,
    /// At pyramid levels first: after C3 (K = 2), after C3 and C4 (K = 3), then the earlier
    /// stage ends, so that every aux net sits at a level of the pyramid.
    Pyramid,
    /// Nearly equal numbers of units per module.
    Even,
    /// The points minimising the largest module's memory, its aux net's (or the detection
    /// head's) included, measured on the training batch
    /// ([`glcan_core::unit_costs::module_memory_bytes`]).
    #[serde(rename = "memory_balanced")]
    MemoryBalanced,
}

/// A detection preset's own fields. The rest (methods, K, seeds, the recipe) are the
/// runner's [`glcan_runner::Common`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub dataset: DatasetName,
    /// For datasets written in both formats (digits): which reader to use.
    #[serde(default = "default_format")]
    pub format: Format,
    /// An ImageNet-style ResNet, whose four stages feed the feature pyramid: `resnetD` or
    /// `resnetD-wW` (depth D in 10, 18, 34, 50, ...; base width W, 64 when absent).
    pub network: NetworkName,
    /// Network input side; images of other sizes are resized.
    pub image_size: usize,
    /// > 0: hold out the last N training images and evaluate on them, not on the test set.
    #[serde(default)]
    pub validation: usize,
    #[serde(default)]
    pub train_subset: Option<usize>,
    #[serde(default)]
    pub split: DetectSplit,
    #[serde(default)]
    pub detector: DetectorConfig,
    /// The digit-detection set to generate when absent (dataset `digits`).
    #[serde(default)]
    pub digits: DigitsConfig,
    /// Folder of the digit set under the data folder.
    #[serde(default = "default_digits_dir")]
    pub digits_dir: PathBuf,
}

/// A detection grid has one dataset and network: its runs vary only method, K and seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Point {}

fn default_format() -> Format {
    Format::Coco
}

fn default_digits_dir() -> PathBuf {
    PathBuf::from("digits")
}

/// The split points of `strategy` for K modules.
pub fn split_strategy(network: &dyn UnitNetwork, k: usize, strategy: DetectSplit) -> Result<SplitStrategy> {
    match strategy {
        _ if k <= 1 => return Ok(SplitStrategy::Even),
        DetectSplit::Even => return Ok(SplitStrategy::Even),
        DetectSplit::MemoryBalanced => return Ok(SplitStrategy::MemoryBalanced),
        DetectSplit::Early | DetectSplit::Pyramid => {}
    }
    let (taps, _) = pyramid_taps(network)?;
    let units = network.units();
    // Ends of the stages before C3, deepest first (stage 1, then the stem).
    let mut early: Vec<usize> = (0..taps[0]).filter(|&i| units[i + 1].id.stage != units[i].id.stage).collect();
    early.reverse();
    let candidates: Vec<usize> = match strategy {
        DetectSplit::Pyramid => [taps[0], taps[1]].into_iter().chain(early).collect(),
        _ => early.first().copied().into_iter().chain([taps[0], taps[1]]).chain(early.iter().skip(1).copied()).collect(),
    };
    if k - 1 > candidates.len() {
        bail!("split {strategy:?}: {} has {} stage ends to cut at, K = {k} needs {}", network.name(), candidates.len(), k - 1);
    }
    let mut points: Vec<usize> = candidates[..k - 1].to_vec();
    points.sort_unstable();
    Ok(SplitStrategy::Points(points.into_iter().map(|i| units[i].id).collect()))
}

/// The detection suite: its data folder.
pub struct Detect {
    data_dir: PathBuf,
}

/// Only the methods whose aux nets end in the task's own head train detectors.
const METHODS: [Method; 3] = Method::TASK_HEADED;

impl Suite for Detect {
    type Section = Section;
    type Point = Point;
    const TASK: &'static str = "detect";
    const BINARY: &'static str = "bench-detect";
    const METHODS: &'static [Method] = &METHODS;
    const ITERATED: &'static [&'static str] = &[];

    fn default_optimizer() -> OptimizerConfig {
        OptimizerConfig::Sgd { momentum: 0.9, nesterov: false, weight_decay: 1e-4 }
    }

    fn check(section: &Section) -> Result<()> {
        if section.network.family() != Family::ImageNet {
            bail!(
                "network {}: detection needs an ImageNet-style ResNet (resnetD or resnetD-wW), whose four stages feed the pyramid",
                section.network
            );
        }
        section.detector.validate()?;
        if section.dataset == DatasetName::Digits {
            section.digits.validate()?;
        }
        Ok(())
    }

    fn points(_: &Section) -> Vec<Point> {
        vec![Point {}]
    }

    fn point_id(section: &Section, _: &Point) -> String {
        format!("{}-{}", section.dataset.name(), section.network)
    }

    fn row_labels(section: &Section, _: &Point) -> (String, String) {
        (section.dataset.name().to_owned(), section.network.to_string())
    }

    /// The backbone for 10 classes: the split reads only its units.
    fn network(section: &Section, _: &Point) -> Result<Box<dyn UnitNetwork>> {
        Ok(section.network.build(3, 10, section.image_size as i64)?)
    }

    fn split(section: &Section, network: &dyn UnitNetwork, k: usize) -> Result<SplitStrategy> {
        split_strategy(network, k, section.split)
    }

    fn eval_batch_size(_: &Section) -> usize {
        100
    }

    fn open(_: &Grid<Section>, data_dir: &Path) -> Result<Self> {
        Ok(Detect { data_dir: data_dir.to_owned() })
    }

    /// The detector as its runs build it (the dataset gives the classes), on square images.
    fn speed_task(&mut self, grid: &Grid<Section>, _: &Point) -> Result<SpeedTask> {
        let parts = RunParts::new(grid, &self.data_dir, 0, 1)?;
        let size = grid.suite.image_size as i64;
        Ok(SpeedTask { task: Box::new(parts.task), network: parts.network, channels: 3, size })
    }

    fn train(&mut self, grid: &Grid<Section>, run: &Run<Point>, job: &RunJob) -> Result<Trained> {
        let section = &grid.suite;
        let parts = RunParts::new(grid, &self.data_dir, run.seed, job.train_config.eval_batch_size)?;
        glcan_store::write_atomic(&job.run_dir.join("detector.json"), serde_json::to_string_pretty(&section.detector)?.as_bytes())?;
        let mut progress = LogProgress { label: job.id.clone() };
        let outcome = train_local(
            parts.network.as_ref(),
            &parts.task,
            &parts.data,
            &job.train_config,
            job.device,
            Some(&job.run_dir),
            job.resume,
            &mut progress,
        )?;
        let details: serde_json::Map<String, serde_json::Value> =
            std::iter::once(("AP50".to_owned(), outcome.final_evaluation.metric.into()))
                .chain(outcome.final_evaluation.details.iter().map(|(name, value)| (name.clone(), (*value).into())))
                .collect();
        glcan_store::write_atomic(&job.run_dir.join("evaluation.json"), serde_json::to_string_pretty(&details)?.as_bytes())?;
        let examples = parts.data.examples();
        if !examples.is_empty() {
            crate::draw::predictions_png(&examples, &job.run_dir.join("predictions.png"), 2, 0.3)?;
        }
        // A run resumed past its last epoch has no fresh details: AP is then unknown.
        let row = ResultRow {
            test_images: parts.data.test_images(),
            ap50: Some(outcome.last().test_metric),
            ap: detail(&outcome, "AP"),
            ..job.row.clone()
        };
        Ok(Trained { train_images: parts.data.train_images(), rows: vec![row], outcome })
    }
}

/// What a detection run trains: the backbone for the dataset's classes, the detection task
/// and the data.
pub struct RunParts {
    pub network: Box<dyn UnitNetwork>,
    pub task: DetectionTask,
    pub data: DetectionData,
}

impl RunParts {
    /// The parts of a run of `grid` seeded `seed`, its data read under `data_dir`.
    pub fn new(grid: &Grid<Section>, data_dir: &Path, seed: u64, eval_batch_size: usize) -> Result<Self> {
        let section = &grid.suite;
        let sets = section.dataset.open(
            data_dir,
            &section.digits_dir,
            &section.digits,
            section.format,
            section.validation,
            section.train_subset,
            section.image_size,
        )?;
        let network = section.network.build(3, sets.num_classes as i64, section.image_size as i64)?;
        let task = DetectionTask::new(network.as_ref(), sets.num_classes as i64, &section.detector)?;
        let data = DetectionData::new(
            sets.train,
            sets.test,
            sets.num_classes,
            section.image_size,
            sets.normalization,
            sets.horizontal_flip,
            grid.common.batch_size,
            eval_batch_size,
            seed,
            &section.detector,
        )?;
        Ok(RunParts { network, task, data })
    }
}

fn detail(outcome: &TrainOutcome, name: &str) -> Option<f64> {
    outcome.final_evaluation.details.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cut_at_stage_ends_in_the_order_of_their_strategy() {
        let net = "resnet10-w8".parse::<NetworkName>().unwrap().build(3, 10, 64).unwrap();
        let net = net.as_ref();
        // Units: stem [0,0], [1,0], [2,0] = C3, [3,0] = C4, [4,0] = C5.
        let points = |k, strategy| match split_strategy(net, k, strategy).unwrap() {
            SplitStrategy::Points(p) => p,
            other => panic!("{other:?}"),
        };
        use glcan_core::models::UnitId;
        let (stem, s1, c3, c4) = (UnitId::new(0, 0), UnitId::new(1, 0), UnitId::new(2, 0), UnitId::new(3, 0));
        assert_eq!(points(2, DetectSplit::Pyramid), [c3]);
        assert_eq!(points(3, DetectSplit::Pyramid), [c3, c4]);
        assert_eq!(points(4, DetectSplit::Pyramid), [s1, c3, c4]);
        assert_eq!(points(2, DetectSplit::Early), [s1]);
        assert_eq!(points(3, DetectSplit::Early), [s1, c3]);
        assert_eq!(points(5, DetectSplit::Early), [stem, s1, c3, c4]);
        assert!(split_strategy(net, 6, DetectSplit::Pyramid).is_err());
    }

    #[test]
    fn the_committed_presets_are_valid_and_bad_ones_named() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        // Other tests of this process have run kernels already: see `cpu_kernels::pin`.
        let native = |extra: &str| vec!["cpu_isa=\"native\"".to_owned(), extra.to_owned()];
        for name in ["detect-smoke.toml", "detect-quick.toml", "detect-paper.toml", "detect-deepforest.toml"] {
            let grid = Grid::load::<Detect>(&configs.join(name), &native("epochs=1")).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!grid.runs::<Detect>().is_empty(), "{name}");
        }
        let quick = configs.join("detect-quick.toml");
        for (setting, expected) in [
            ("network=\"resnet20\"", "ImageNet-style"),
            ("network=\"vgg\"", "unknown network"),
            ("methods=[\"infopro-contrast\"]", "bench-detect does not run infopro-contrast"),
            ("aux.glcan.ema_momentum=1.5", "aux.glcan.ema_momentum"),
        ] {
            let message = format!("{:#}", Grid::load::<Detect>(&quick, &native(setting)).unwrap_err());
            assert!(message.contains(expected) && message.contains("detect-quick.toml"), "{setting}: {message}");
        }
    }
}
