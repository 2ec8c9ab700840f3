//! The small real-data set-up the trainer's integration tests share.

use std::sync::Arc;

use glcan_core::models::ResNetCifar;
use glcan_core::paths::data_root;
use glcan_core::train::ClassificationData;
use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::idx::IdxDataset;
use glcan_data::subset::Subset;
use glcan_data::Split;

pub type Data = ClassificationData<Subset<IdxDataset>, Subset<IdxDataset>>;

/// 512 training and 256 test images of real Fashion-MNIST.
pub fn fashion_subset() -> Data {
    let dir = data_root().join("fashion-mnist");
    assert!(dir.is_dir(), "{} is missing: run `make data` first", dir.display());
    let train = Arc::new(IdxDataset::open_split(&dir, Split::Train).unwrap());
    let test = Arc::new(IdxDataset::open_split(&dir, Split::Test).unwrap());
    ClassificationData {
        train: Arc::new(Subset::first(train, 512)),
        test: Arc::new(Subset::first(test, 256)),
        augmentation: Augmentation::NONE,
        size_transforms: None,
        normalization: Normalization::fashion_mnist(),
        image_channels: 1,
        image_size: 28,
    }
}

/// ResNet-8: a stem and one block per stage, 4 units (K = 4 puts one unit in each module).
pub fn network() -> ResNetCifar {
    ResNetCifar::new(8, 1, 10, 28).unwrap()
}
