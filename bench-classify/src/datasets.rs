//! The classification datasets by name: where their files are under the data folder, their
//! image geometry, normalisation and training augmentation (InfoPro's recipe: pad-4 crop
//! and flip for CIFAR/SVHN/STL-10; none for the digit and clothing sets, where flips and
//! shifts are not in the usual recipe; random resized crops and flips for ImageNet).

use std::path::Path;

use anyhow::{Context, Result};
use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::cifar::{Cifar100Labels, CifarDataset};
use glcan_data::folder::ImageFolder;
use glcan_data::idx::{IdxDataset, IdxShape};
use glcan_data::size_transform::SizeTransform;
use glcan_data::stl10::Stl10Dataset;
use glcan_data::svhn::SvhnDataset;
use glcan_data::{ClassLabel, DynDataset, Split};

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
    /// ImageNet-1k in class folders (`imagenet/train/<wnid>/`, `imagenet/val/<wnid>/`).
    Imagenet,
}

impl DatasetName {
    pub const ALL: [DatasetName; 7] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Cifar100,
        DatasetName::Svhn,
        DatasetName::Stl10,
        DatasetName::Imagenet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Cifar100 => "cifar100",
            DatasetName::Svhn => "svhn",
            DatasetName::Stl10 => "stl10",
            DatasetName::Imagenet => "imagenet",
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
            DatasetName::Imagenet => "imagenet",
        }
    }

    /// (channels, image size, classes).
    pub fn geometry(self) -> (i64, i64, i64) {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => (1, 28, 10),
            DatasetName::Cifar10 | DatasetName::Svhn => (3, 32, 10),
            DatasetName::Cifar100 => (3, 32, 100),
            DatasetName::Stl10 => (3, 96, 10),
            DatasetName::Imagenet => (3, 224, 1000),
        }
    }

    pub fn normalization(self) -> Normalization {
        match self {
            DatasetName::Mnist => Normalization::mnist(),
            DatasetName::FashionMnist => Normalization::fashion_mnist(),
            DatasetName::Cifar10 => Normalization::cifar10(),
            DatasetName::Cifar100 => Normalization::cifar100(),
            DatasetName::Svhn | DatasetName::Stl10 => Normalization::symmetric(3),
            DatasetName::Imagenet => Normalization::imagenet(),
        }
    }

    pub fn augmentation(self) -> Augmentation {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => Augmentation::NONE,
            DatasetName::Cifar10 | DatasetName::Cifar100 | DatasetName::Svhn => Augmentation::pad_crop_flip(4),
            DatasetName::Stl10 => Augmentation::pad_crop_flip(12),
            // The random resized crop does the geometric work; add the flip.
            DatasetName::Imagenet => Augmentation { pad_crop: 0, horizontal_flip: true },
        }
    }

    /// (training, evaluation) transforms to one image size, for photos of differing sizes.
    pub fn size_transforms(self) -> Option<(SizeTransform, SizeTransform)> {
        (self == DatasetName::Imagenet).then(|| (SizeTransform::imagenet(true), SizeTransform::imagenet(false)))
    }

    /// Opens one split from `data_dir`.
    pub fn open(self, data_dir: &Path, split: Split) -> Result<DynDataset<ClassLabel>> {
        let dir = data_dir.join(self.folder());
        let dataset: DynDataset<ClassLabel> = match self {
            DatasetName::Mnist | DatasetName::FashionMnist => {
                // IDX files do not know the dataset: check its geometry and label range here.
                let (_, size, classes) = self.geometry();
                let shape = IdxShape { rows: size as usize, cols: size as usize, classes: classes as usize };
                Box::new(IdxDataset::open_split(&dir, split)?.expect(shape)?)
            }
            DatasetName::Cifar10 => Box::new(CifarDataset::cifar10(&dir, split)?),
            DatasetName::Cifar100 => Box::new(CifarDataset::cifar100(&dir, split, Cifar100Labels::Fine)?),
            DatasetName::Svhn => Box::new(SvhnDataset::open_split(&dir, split)?),
            DatasetName::Stl10 => Box::new(Stl10Dataset::open(&dir, split)?),
            DatasetName::Imagenet => {
                let train = ImageFolder::open(dir.join("train"))?;
                match split {
                    Split::Train => Box::new(train),
                    // Validation folders take the training class order.
                    Split::Test => Box::new(ImageFolder::with_classes(dir.join("val"), train.classes())?),
                }
            }
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
