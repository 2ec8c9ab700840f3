//! The classification suite as the runner's [`Suite`]: datasets x networks of a preset
//! (`configs/quick.toml`), each trained by every method, K and seed. The runner
//! (`glcan_runner`) does the rest: checks, run directories, skip/resume, rows, shards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use glcan_core::aux::Method;
use glcan_core::models::{NetworkName, UnitNetwork};
use glcan_core::optim::OptimizerConfig;
use glcan_core::split::SplitStrategy;
use glcan_core::train::{train_classifier, Classification, ClassificationData};
use glcan_data::subset::Subset;
use glcan_data::Dataset;
use glcan_runner::{Grid, Run, RunJob, SpeedTask, Suite, Trained};
use glcan_store::ResultRow;

use crate::datasets::DatasetName;
use crate::progress::RunProgress;

/// A classification preset's own fields. The rest (methods, K, seeds, the recipe) are the
/// runner's [`glcan_runner::Common`]; defaults are InfoPro's recipe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub datasets: Vec<DatasetName>,
    pub networks: Vec<NetworkName>,
    /// Train on the first N training images only (all when absent).
    #[serde(default)]
    pub train_subset: Option<usize>,
    /// Evaluate on the first N test images only (all when absent).
    #[serde(default)]
    pub test_subset: Option<usize>,
    /// Hold out the last N training images and evaluate on them instead of the test set:
    /// for choosing options without looking at the test set. Training then draws from the
    /// images before them, and rows name the dataset `<dataset>-val`.
    #[serde(default)]
    pub validation: Option<usize>,
    #[serde(default)]
    pub split: SplitStrategy,
}

/// One dataset and network of the grid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Point {
    pub dataset: DatasetName,
    pub network: NetworkName,
}

/// The classification suite: its data folder.
pub struct Classify {
    data_dir: PathBuf,
}

/// Every method trains classifiers.
const METHODS: [Method; 8] = Method::ALL;

impl Suite for Classify {
    type Section = Section;
    type Point = Point;
    const TASK: &'static str = "classify";
    const BINARY: &'static str = "bench-classify";
    const METHODS: &'static [Method] = &METHODS;
    const ITERATED: &'static [&'static str] = &["datasets", "networks"];

    fn default_optimizer() -> OptimizerConfig {
        OptimizerConfig::infopro_sgd()
    }

    fn check(section: &Section) -> Result<()> {
        for (field, empty) in [("datasets", section.datasets.is_empty()), ("networks", section.networks.is_empty())] {
            if empty {
                bail!("{field} is empty");
            }
        }
        Ok(())
    }

    fn points(section: &Section) -> Vec<Point> {
        section
            .datasets
            .iter()
            .flat_map(|&dataset| section.networks.iter().map(move |network| Point { dataset, network: network.clone() }))
            .collect()
    }

    fn point_id(_: &Section, point: &Point) -> String {
        format!("{}-{}", point.dataset, point.network)
    }

    /// `-val` marks runs evaluated on held-out training images.
    fn row_labels(section: &Section, point: &Point) -> (String, String) {
        let dataset = match section.validation {
            Some(_) => format!("{}-val", point.dataset.name()),
            None => point.dataset.name().to_owned(),
        };
        (dataset, point.network.to_string())
    }

    fn network(_: &Section, point: &Point) -> Result<Box<dyn UnitNetwork>> {
        let (channels, size, classes) = point.dataset.geometry();
        Ok(point.network.build(channels, classes, size)?)
    }

    fn split(section: &Section, _: &dyn UnitNetwork, _: usize) -> Result<SplitStrategy> {
        Ok(section.split.clone())
    }

    fn eval_batch_size(_: &Section) -> usize {
        500
    }

    fn speed_task(&mut self, grid: &Grid<Section>, point: &Point) -> Result<SpeedTask> {
        let (channels, size, _) = point.dataset.geometry();
        Ok(SpeedTask { task: Box::new(Classification), network: Self::network(&grid.suite, point)?, channels, size })
    }

    fn open(_: &Grid<Section>, data_dir: &Path) -> Result<Self> {
        Ok(Classify { data_dir: data_dir.to_owned() })
    }

    fn train(&mut self, grid: &Grid<Section>, run: &Run<Point>, job: &RunJob) -> Result<Trained> {
        let section = &grid.suite;
        let network = Self::network(section, &run.point)?;
        let (train, test) = run.point.dataset.open_both(&self.data_dir)?;
        let train = Arc::new(train);
        let (train, test) = match section.validation {
            None => (
                Subset::first(train, section.train_subset.unwrap_or(usize::MAX)),
                Arc::new(Subset::first(Arc::new(test), section.test_subset.unwrap_or(usize::MAX))),
            ),
            Some(held_out) => {
                let (kept, validation) = validation_split(train.len(), section.train_subset, held_out)?;
                (Subset::new(train.clone(), kept.collect())?, Arc::new(Subset::new(train, validation.collect())?))
            }
        };
        let train = Arc::new(train);
        let (train_images, test_images) = (train.len(), test.len());
        let (channels, size, _) = run.point.dataset.geometry();
        let data = ClassificationData {
            train,
            test,
            augmentation: run.point.dataset.augmentation(),
            size_transforms: run.point.dataset.size_transforms(),
            normalization: run.point.dataset.normalization(),
            image_channels: channels,
            image_size: size,
        };
        let mut progress = RunProgress::new(job.id.clone());
        let outcome =
            train_classifier(network.as_ref(), &data, &job.train_config, job.device, Some(&job.run_dir), job.resume, &mut progress)?;
        let row = ResultRow { test_images, test_accuracy: Some(outcome.last().test_metric), ..job.row.clone() };
        Ok(Trained { outcome, train_images, rows: vec![row] })
    }
}

/// Training and validation indices when the last `held_out` of `total` training images are
/// held out: the two never overlap.
fn validation_split(
    total: usize,
    train_subset: Option<usize>,
    held_out: usize,
) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    if held_out == 0 || held_out >= total {
        bail!("validation = {held_out} must be between 1 and {} (the training images less one)", total.saturating_sub(1));
    }
    let kept = (total - held_out).min(train_subset.unwrap_or(usize::MAX));
    Ok((0..kept, total - held_out..total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(extra: &str) -> String {
        format!("preset = \"t\"\ndatasets = [\"fashion-mnist\"]\nnetworks = [\"resnet8\"]\nmethods = [\"e2e\", \"dgl\", \"glcan\"]\nks = [2, 4]\nseeds = [0, 1]\nepochs = 1\nbatch_size = 32\nlr = 0.05\ncpu_isa = \"native\"\n{extra}")
    }

    fn load(text: &str, overrides: &[&str]) -> Result<Grid<Section>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        Grid::load::<Classify>(&path, &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn e2e_runs_once_per_seed_at_k1() {
        let grid = load(&preset(""), &[]).unwrap();
        let runs = grid.runs::<Classify>();
        assert_eq!(runs.len(), 2 + 2 * 2 * 2);
        assert!(runs.iter().filter(|r| r.method == Method::E2e).all(|r| r.k == 1));
        assert_eq!(grid.run_id::<Classify>(&runs[2]), "fashion-mnist-resnet8-dgl-k2-s0");
        assert_eq!(grid.common.optimizer, OptimizerConfig::infopro_sgd());
    }

    #[test]
    fn bad_presets_name_the_problem() {
        for (text, expected) in [
            (preset("learning_rate = 1\n"), "learning_rate"),
            (preset("").replace("ks = [2, 4]", "ks = [2, 9]"), "K = 9"),
            (preset("").replace("seeds = [0, 1]", "seeds = []"), "seeds is empty"),
            (preset("").replace("\"dgl\"", "\"backprop\""), "backprop"),
            (preset("").replace("resnet8", "resnet9"), "6m + 2"),
            (preset("").replace("datasets = [\"fashion-mnist\"]", "datasets = []"), "datasets is empty"),
            (preset("threads = 0\n"), "threads is 0"),
            (preset("[aux.glcan]\nglobal_width = 9.0\n"), "aux.glcan.global_width"),
            ("preset = \n".to_owned(), "malformed preset"),
        ] {
            let message = format!("{:#}", load(&text, &[]).unwrap_err());
            assert!(message.contains(expected) && message.contains("p.toml"), "{expected}: {message}");
        }
    }

    #[test]
    fn overrides_change_the_preset() {
        let overrides = ["epochs=5", "seeds=[3]", "methods=[\"glcan\"]", "aux.glcan.fusion=\"gated-sum\"", "device=cpu"];
        let grid = load(&preset(""), &overrides).unwrap();
        assert_eq!((grid.common.epochs, grid.common.seeds.clone(), grid.common.methods.clone()), (5, vec![3], vec![Method::Glcan]));
        assert_eq!(grid.common.aux.glcan.fusion, glcan_core::aux::glcan::Fusion::GatedSum);
        let message = format!("{:#}", load(&preset(""), &["epochs"]).unwrap_err());
        assert!(message.contains("field=value"), "{message}");
        let message = format!("{:#}", load(&preset(""), &["epoch=5"]).unwrap_err());
        assert!(message.contains("epoch"), "{message}");
    }

    #[test]
    fn validation_images_come_after_every_training_image() {
        assert_eq!(validation_split(60000, Some(2000), 2000).unwrap(), (0..2000, 58000..60000));
        assert_eq!(validation_split(100, None, 30).unwrap(), (0..70, 70..100));
        assert_eq!(validation_split(100, Some(90), 30).unwrap(), (0..70, 70..100));
        assert!(format!("{:#}", validation_split(100, None, 100).unwrap_err()).contains("between 1 and 99"));
        assert!(validation_split(100, None, 0).is_err());
    }

    /// The paper preset loads through the runner, and every run's network builds with its
    /// split and aux nets (on the CPU, without training): InfoPro's published points for
    /// ResNet-32 and ResNet-110 at K = 2, 4, 8 and 16.
    #[test]
    fn the_paper_preset_builds_every_run() {
        use glcan_core::split::published_points;
        use glcan_core::train::{Classification, LocalNetwork};
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/paper.toml");
        let native = ["cpu_isa=\"native\"".to_owned()];
        let grid = Grid::load::<Classify>(&path, &native).unwrap_or_else(|e| panic!("{e:#}"));
        let runs = grid.runs::<Classify>();
        // 2 networks x (E2E once + 5 local methods x 4 K) x 3 seeds.
        assert_eq!(runs.len(), 2 * (1 + 5 * 4) * 3);
        let mut built = 0;
        for run in runs.iter().filter(|r| r.seed == grid.common.seeds[0]) {
            let id = grid.run_id::<Classify>(run);
            let network = Classify::network(&grid.suite, &run.point).unwrap();
            let config = grid.train_config::<Classify>(run, network.as_ref()).unwrap();
            let (channels, size, _) = run.point.dataset.geometry();
            tch::manual_seed(0);
            let net = LocalNetwork::build(network.as_ref(), &Classification, &config, channels, size, tch::Device::Cpu)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(net.k(), run.k, "{id}");
            if run.k > 1 {
                let published = published_points(&network.name(), run.k, false).unwrap_or_else(|| panic!("{id}: no published points"));
                assert_eq!(net.split().points(network.as_ref()), published, "{id}");
            }
            built += 1;
        }
        assert_eq!(built, 2 * (1 + 5 * 4));
    }

    /// InfoPro's memory-balanced points exist for ResNet-110 at K = 2, 3, 4 only: the paper
    /// preset asks for them there, and elsewhere the error names the network and K.
    #[test]
    fn balanced_splits_load_where_published_and_are_refused_by_name_elsewhere() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/paper.toml");
        let set = |extra: &[&str]| -> Vec<String> {
            ["cpu_isa=\"native\"", "split=\"published_balanced\""].iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let balanced = ["networks=[\"resnet110\"]", "ks=[2, 3, 4]", "aux.infopro.recipe=\"cifar10-balanced\""];
        let grid = Grid::load::<Classify>(&path, &set(&balanced)).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(grid.runs::<Classify>().len(), (1 + 5 * 3) * 3);
        let message = format!("{:#}", Grid::load::<Classify>(&path, &set(&[])).unwrap_err());
        assert!(message.contains("resnet32 at K = 2") && message.contains("memory_balanced"), "{message}");
        let message = format!("{:#}", Grid::load::<Classify>(&path, &set(&["networks=[\"resnet110\"]"])).unwrap_err());
        assert!(message.contains("resnet110 at K = 8"), "{message}");
    }

    #[test]
    fn the_committed_presets_are_valid() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        // Other tests of this process have run kernels already: see `cpu_kernels::pin`.
        let native = ["cpu_isa=\"native\"".to_owned()];
        for name in ["smoke.toml", "quick.toml", "long.toml"] {
            let grid = Grid::load::<Classify>(&configs.join(name), &native).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!grid.runs::<Classify>().is_empty(), "{name}");
        }
    }
}
