//! The readers on the real data that `make data` fetched (see docs/DATA.md). These tests
//! fail, rather than skip, when the data is missing: `make test` fetches it first.

use std::path::PathBuf;
use std::sync::Arc;

use glcan_core::paths::data_root;
use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::folder::FileNameLabelled;
use glcan_data::idx::IdxDataset;
use glcan_data::loader::{BatchLoader, ClassificationCollate, LoaderConfig};
use glcan_data::voc::VocDataset;
use glcan_data::{Dataset, Split};

fn dataset_dir(name: &str) -> PathBuf {
    let dir = data_root().join(name);
    assert!(dir.is_dir(), "{} is missing: run `make data` first", dir.display());
    dir
}

#[test]
fn mnist_has_the_official_sizes_and_class_counts() {
    let dir = dataset_dir("mnist");
    let train = IdxDataset::open_split(&dir, Split::Train).unwrap();
    let test = IdxDataset::open_split(&dir, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.class_counts(10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(test.class_counts(10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    let first = train.get(0).unwrap();
    assert_eq!((first.image.channels(), first.image.height(), first.image.width()), (1, 28, 28));
    assert_eq!(first.target, 5, "the first MNIST training digit is a 5");
}

#[test]
fn fashion_mnist_is_balanced_6000_and_1000_per_class() {
    let dir = dataset_dir("fashion-mnist");
    let train = IdxDataset::open_split(&dir, Split::Train).unwrap();
    let test = IdxDataset::open_split(&dir, Split::Test).unwrap();
    assert_eq!(train.class_counts(10), [6000; 10]);
    assert_eq!(test.class_counts(10), [1000; 10]);
    assert_eq!(train.get(0).unwrap().target, 9, "the first Fashion-MNIST training image is an ankle boot");
}

#[test]
fn foolbox_cifar10_samples_carry_their_labels() {
    let samples = FileNameLabelled::open(dataset_dir("foolbox"), "cifar10").unwrap();
    assert_eq!(samples.len(), 20);
    let labels: Vec<i64> = (0..8).map(|i| samples.get(i).unwrap().target).collect();
    assert_eq!(labels, [3, 8, 8, 0, 6, 6, 1, 6]);
    let image = samples.get(0).unwrap().image;
    assert_eq!((image.channels(), image.height(), image.width()), (3, 32, 32));
}

#[test]
fn deepforest_annotations_hold_951_trees() {
    // One of the four files labels its trees "Alive" and "Dead" instead of "Tree".
    let forest = VocDataset::from_folder(dataset_dir("deepforest"), &["Tree", "Alive", "Dead"]).unwrap();
    assert_eq!(forest.len(), 4);
    assert_eq!(forest.num_objects(), 951);
    for i in 0..forest.len() {
        let sample = forest.get(i).unwrap();
        for object in &sample.target.objects {
            assert!(object.bbox.x_max <= sample.image.width() as f32 && object.bbox.y_max <= sample.image.height() as f32);
        }
    }
}

#[test]
fn a_shuffled_fashion_mnist_epoch_covers_each_image_once() {
    let train = Arc::new(IdxDataset::open_split(&dataset_dir("fashion-mnist"), Split::Train).unwrap());
    let collate = ClassificationCollate::new(Augmentation::NONE, Normalization::fashion_mnist());
    let loader = BatchLoader::new(train, collate, LoaderConfig { drop_last: false, ..LoaderConfig::train(128, 1) }).unwrap();
    let mut counts = [0i64; 10];
    let mut batches = 0;
    for batch in loader.epoch(0) {
        let batch = batch.unwrap();
        assert_eq!(batch.images.size()[1..], [1, 28, 28]);
        for label in Vec::<i64>::try_from(batch.labels).unwrap() {
            counts[label as usize] += 1;
        }
        batches += 1;
    }
    assert_eq!(batches, 469);
    assert_eq!(counts, [6000; 10]);
}

#[test]
fn sr_pool_lists_open_as_x2_pairs() {
    use glcan_data::sr::HrFolderDataset;
    let dir = dataset_dir("sr-pool");
    let train = HrFolderDataset::from_list_file(&dir, dir.join("train.txt"), 2).unwrap();
    let test = HrFolderDataset::from_list_file(&dir, dir.join("test.txt"), 2).unwrap();
    assert_eq!((train.len(), test.len()), (30, 7));
    let pair = test.get(0).unwrap();
    let (lr, hr) = (&pair.image, &pair.target);
    assert_eq!((lr.height() * 2, lr.width() * 2), (hr.height(), hr.width()));
    assert!(hr.height().min(hr.width()) >= 400, "pool photos are at least 400 px on their short side");
}

#[test]
fn every_real_photo_decodes_and_half_a_real_jpeg_is_refused() {
    use glcan_data::ImageU8;
    let mut jpegs = Vec::new();
    for name in ["foolbox", "sr-pool", "deepforest"] {
        for entry in std::fs::read_dir(dataset_dir(name)).unwrap() {
            let path = entry.unwrap().path();
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            if !["jpg", "jpeg", "png", "tif", "tiff", "bmp"].contains(&extension.as_str()) {
                continue;
            }
            let image = ImageU8::open_rgb(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(image.height() > 0 && image.width() > 0, "{}", path.display());
            if extension.starts_with("jp") {
                jpegs.push(path);
            }
        }
    }
    assert!(jpegs.len() >= 45, "{} JPEGs: foolbox's 20, the pool's 25 and deepforest's", jpegs.len());
    jpegs.sort();
    let bytes = std::fs::read(&jpegs[0]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("half.jpg");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let message = ImageU8::open_rgb(&half).unwrap_err().to_string();
    assert!(message.starts_with(&format!("{}: truncated JPEG", half.display())), "{message}");
}
