//! The classification datasets by name: where their files are under the data folder, their
//! image geometry, normalisation and training augmentation (InfoPro's recipe: pad-4 crop
//! and flip for CIFAR/SVHN/STL-10; none for the digit and clothing sets, where flips and
//! shifts are not in the usual recipe).

use std::path::Path;

use anyhow::{Context, Result};
use glcan_core::data::augment::{Augmentation, Normalization};
use glcan_core::data::cifar::{Cifar100Labels, CifarDataset};
use glcan_core::data::idx::IdxDataset;
use glcan_core::data::stl10::Stl10Dataset;
use glcan_core::data::svhn::SvhnDataset;
use glcan_core::data::{ClassLabel, DynDataset, Split};

/// A classification dataset this suite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Mnist,
    FashionMnist,
    Cifar10,
    Cifar100,
    Svhn,
    Stl10,
}

impl DatasetName {
    pub const ALL: [DatasetName; 6] =
        [DatasetName::Mnist, DatasetName::FashionMnist, DatasetName::Cifar10, DatasetName::Cifar100, DatasetName::Svhn, DatasetName::Stl10];

    pub fn name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Cifar100 => "cifar100",
            DatasetName::Svhn => "svhn",
            DatasetName::Stl10 => "stl10",
        }
    }

    /// The folder under the data folder (docs/DATA.md).
    pub fn folder(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar-10-batches-bin",
            DatasetName::Cifar100 => "cifar-100-binary",
            DatasetName::Svhn => "svhn",
            DatasetName::Stl10 => "stl10_binary",
        }
    }

    /// (channels, image size, classes).
    pub fn geometry(self) -> (i64, i64, i64) {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => (1, 28, 10),
            DatasetName::Cifar10 | DatasetName::Svhn => (3, 32, 10),
            DatasetName::Cifar100 => (3, 32, 100),
            DatasetName::Stl10 => (3, 96, 10),
        }
    }

    pub fn normalization(self) -> Normalization {
        match self {
            DatasetName::Mnist => Normalization::mnist(),
            DatasetName::FashionMnist => Normalization::fashion_mnist(),
            DatasetName::Cifar10 => Normalization::cifar10(),
            DatasetName::Cifar100 => Normalization::cifar100(),
            DatasetName::Svhn | DatasetName::Stl10 => Normalization::symmetric(3),
        }
    }

    pub fn augmentation(self) -> Augmentation {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => Augmentation::NONE,
            DatasetName::Cifar10 | DatasetName::Cifar100 | DatasetName::Svhn => Augmentation::pad_crop_flip(4),
            DatasetName::Stl10 => Augmentation::pad_crop_flip(12),
        }
    }

    /// Opens one split from `data_dir`.
    pub fn open(self, data_dir: &Path, split: Split) -> Result<DynDataset<ClassLabel>> {
        let dir = data_dir.join(self.folder());
        let dataset: DynDataset<ClassLabel> = match self {
            DatasetName::Mnist | DatasetName::FashionMnist => Box::new(IdxDataset::open_split(&dir, split)?),
            DatasetName::Cifar10 => Box::new(CifarDataset::cifar10(&dir, split)?),
            DatasetName::Cifar100 => Box::new(CifarDataset::cifar100(&dir, split, Cifar100Labels::Fine)?),
            DatasetName::Svhn => Box::new(SvhnDataset::open_split(&dir, split)?),
            DatasetName::Stl10 => Box::new(Stl10Dataset::open(&dir, split)?),
        };
        Ok(dataset)
    }

    /// Both splits, with a hint when the folder is missing.
    pub fn open_both(self, data_dir: &Path) -> Result<(DynDataset<ClassLabel>, DynDataset<ClassLabel>)> {
        let hint = || {
            format!(
                "cannot open {} under {} (expected folder {}; `make data` fetches MNIST and Fashion-MNIST, docs/DATA.md shows the layout of the others)",
                self.name(),
                data_dir.display(),
                self.folder()
            )
        };
        Ok((self.open(data_dir, Split::Train).with_context(hint)?, self.open(data_dir, Split::Test).with_context(hint)?))
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
