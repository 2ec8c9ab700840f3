//! The classification datasets by name: where their files are under the data folder, their
//! image geometry, normalisation and training augmentation (InfoPro's recipe: pad-4 crop
//! and flip for CIFAR/SVHN/STL-10; none for the digit and clothing sets, where flips and
//! shifts are not in the usual recipe; random resized crops and flips for ImageNet).

use std::path::Path;

use anyhow::{Context, Result};
use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::cifar::{Cifar100Labels, CifarDataset};
use glcan_data::cifar_pickle::{CIFAR100_FOLDER, CIFAR10_FOLDER};
use glcan_data::folder::ImageFolder;
use glcan_data::idx::{IdxDataset, IdxShape};
use glcan_data::imagenet;
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

    /// Opens one split from `data_dir`. CIFAR's python version (torchvision's download) is
    /// read when the binary folder is absent; ImageNet's validation images may be the flat
    /// folder of the official archive, labelled by the devkit beside it.
    pub fn open(self, data_dir: &Path, split: Split) -> Result<DynDataset<ClassLabel>> {
        let dir = data_dir.join(self.folder());
        let python = |folder: &str| (!dir.exists() && data_dir.join(folder).is_dir()).then(|| data_dir.join(folder));
        let dataset: DynDataset<ClassLabel> = match self {
            DatasetName::Mnist | DatasetName::FashionMnist => {
                // IDX files do not know the dataset: check its geometry and label range here.
                let (_, size, classes) = self.geometry();
                let shape = IdxShape { rows: size as usize, cols: size as usize, classes: classes as usize };
                Box::new(IdxDataset::open_split(&dir, split)?.expect(shape)?)
            }
            DatasetName::Cifar10 => match python(CIFAR10_FOLDER) {
                Some(pickles) => Box::new(CifarDataset::cifar10_pickle(&pickles, split)?),
                None => Box::new(CifarDataset::cifar10(&dir, split)?),
            },
            DatasetName::Cifar100 => match python(CIFAR100_FOLDER) {
                Some(pickles) => Box::new(CifarDataset::cifar100_pickle(&pickles, split, Cifar100Labels::Fine)?),
                None => Box::new(CifarDataset::cifar100(&dir, split, Cifar100Labels::Fine)?),
            },
            DatasetName::Svhn => Box::new(SvhnDataset::open_split(&dir, split)?),
            DatasetName::Stl10 => Box::new(Stl10Dataset::open(&dir, split)?),
            DatasetName::Imagenet => {
                let train = ImageFolder::open(dir.join("train"))?;
                match split {
                    Split::Train => Box::new(train),
                    // Validation folders take the training class order.
                    Split::Test if is_flat_val(&dir) => Box::new(imagenet::open_val_with_classes(&dir, train.classes())?),
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

/// Whether `imagenet` holds the devkit and a validation folder without class folders (the
/// flat layout of `ILSVRC2012_img_val.tar`).
fn is_flat_val(imagenet: &Path) -> bool {
    let has_subfolder =
        std::fs::read_dir(imagenet.join("val")).map(|entries| entries.flatten().any(|e| e.path().is_dir())).unwrap_or(false);
    imagenet.join(imagenet::DEVKIT_FOLDER).is_dir() && !has_subfolder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cifar_python_folder_is_read_when_the_binary_one_is_absent() {
        let data = tempfile::tempdir().unwrap();
        for folder in [CIFAR10_FOLDER, CIFAR100_FOLDER] {
            std::fs::create_dir_all(data.path().join(folder)).unwrap();
        }
        std::fs::write(data.path().join(CIFAR10_FOLDER).join("test_batch"), b"not a pickle").unwrap();
        let message = format!("{:#}", DatasetName::Cifar10.open(data.path(), Split::Test).err().unwrap());
        assert!(message.contains("cifar-10-batches-py/test_batch") && message.contains("not a readable pickle"), "{message}");
        let message = format!("{:#}", DatasetName::Cifar100.open(data.path(), Split::Train).err().unwrap());
        assert!(message.contains("cifar-100-python/train"), "{message}");
        // With the binary folder present, it is the one read.
        std::fs::create_dir_all(data.path().join("cifar-10-batches-bin")).unwrap();
        let message = format!("{:#}", DatasetName::Cifar10.open(data.path(), Split::Test).err().unwrap());
        assert!(message.contains("cifar-10-batches-bin/test_batch.bin"), "{message}");
    }

    #[test]
    fn flat_imagenet_validation_folder_is_recognised() {
        let data = tempfile::tempdir().unwrap();
        let root = data.path().join("imagenet");
        std::fs::create_dir_all(root.join("val")).unwrap();
        assert!(!is_flat_val(&root));
        std::fs::create_dir_all(root.join(imagenet::DEVKIT_FOLDER)).unwrap();
        std::fs::write(root.join("val/ILSVRC2012_val_00000001.JPEG"), b"").unwrap();
        assert!(is_flat_val(&root));
        std::fs::create_dir_all(root.join("val/n01440764")).unwrap();
        assert!(!is_flat_val(&root));
    }
}
