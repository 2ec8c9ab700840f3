//! The digit-detection set: tight boxes inside the canvas, the same boxes read back through
//! the COCO and the VOC reader, and the same set for the same seed.

use std::path::PathBuf;

use bench_detect::digits::{self, class_names, DigitsConfig, INK};
use glcan_data::coco::CocoDataset;
use glcan_data::voc::VocDataset;
use glcan_data::Dataset;

fn mnist() -> PathBuf {
    let dir = glcan_core::paths::data_root().join("mnist");
    assert!(dir.exists(), "these tests read real MNIST from {} (run `make data`)", dir.display());
    dir
}

fn small() -> DigitsConfig {
    DigitsConfig { train: 12, test: 6, canvas: 64, min_digits: 2, max_digits: 3, min_scale: 0.5, max_scale: 2.0, seed: 7 }
}

#[test]
fn boxes_are_tight_inside_the_canvas_and_read_back_through_coco_and_voc() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits");
    assert!(digits::generate(&mnist(), &out, &small()).unwrap());
    let coco = CocoDataset::open(out.join("annotations/instances_train.json"), out.join("train")).unwrap();
    let names = class_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let voc = VocDataset::from_folder(out.join("train"), &names).unwrap();
    assert_eq!((coco.len(), voc.len()), (12, 12));
    let mut boxes = 0;
    for i in 0..coco.len() {
        let (c, v) = (coco.get(i).unwrap(), voc.get(i).unwrap());
        assert_eq!(c.image, v.image, "same canvas through both readers");
        assert_eq!(c.target.objects.len(), v.target.objects.len());
        assert!((2..=3).contains(&c.target.objects.len()) || !c.target.objects.is_empty());
        for (a, b) in c.target.objects.iter().zip(&v.target.objects) {
            assert_eq!((a.class, a.bbox), (b.class, b.bbox), "canvas {i}");
            let bb = a.bbox;
            assert!(bb.x_min >= 0.0 && bb.y_min >= 0.0 && bb.x_max <= 64.0 && bb.y_max <= 64.0 && bb.width() >= 1.0 && bb.height() >= 1.0);
            let (x1, y1, x2, y2) = (bb.x_min as usize, bb.y_min as usize, bb.x_max as usize, bb.y_max as usize);
            let ink = |x: usize, y: usize| c.image.at(0, y, x) >= INK;
            // Tight: ink on each of the four edges of the box.
            assert!((x1..x2).any(|x| ink(x, y1)) && (x1..x2).any(|x| ink(x, y2 - 1)), "canvas {i}: top/bottom edge without ink");
            assert!((y1..y2).any(|y| ink(x1, y)) && (y1..y2).any(|y| ink(x2 - 1, y)), "canvas {i}: left/right edge without ink");
            boxes += 1;
        }
    }
    assert!(boxes >= 12, "{boxes} boxes");
    let test = CocoDataset::open(out.join("annotations/instances_test.json"), out.join("test")).unwrap();
    assert_eq!(test.len(), 6);
}

#[test]
fn the_same_seed_gives_the_same_set_and_a_second_run_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    digits::generate(&mnist(), &a, &small()).unwrap();
    digits::generate(&mnist(), &b, &small()).unwrap();
    let read = |p: &PathBuf| std::fs::read_to_string(p.join("annotations/instances_test.json")).unwrap();
    assert_eq!(read(&a), read(&b));
    assert!(!digits::generate(&mnist(), &a, &small()).unwrap(), "already there");
    let other = DigitsConfig { seed: 8, ..small() };
    let message = format!("{:#}", digits::generate(&mnist(), &a, &other).unwrap_err());
    assert!(message.contains("another config"), "{message}");
    digits::generate(&mnist(), &dir.path().join("c"), &other).unwrap();
    assert_ne!(read(&a), read(&dir.path().join("c")));
}

#[test]
fn impossible_configs_are_refused() {
    for bad in [
        DigitsConfig { max_scale: 3.0, canvas: 64, ..small() },
        DigitsConfig { min_digits: 4, max_digits: 3, ..small() },
        DigitsConfig { train: 0, ..small() },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

#[test]
fn bad_mnist_files_are_refused_before_drawing() {
    let write_idx = |path: PathBuf, magic: u32, dims: &[u32], values: &[u8]| {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend_from_slice(&d.to_be_bytes()));
        bytes.extend_from_slice(values);
        std::fs::write(path, bytes).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let mnist = dir.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    for prefix in ["train", "t10k"] {
        write_idx(mnist.join(format!("{prefix}-images-idx3-ubyte")), 0x803, &[2, 28, 28], &[200; 2 * 28 * 28]);
        write_idx(mnist.join(format!("{prefix}-labels-idx1-ubyte")), 0x801, &[2], &[7, 200]);
    }
    let message = format!("{:#}", digits::generate(&mnist, &dir.path().join("a"), &small()).unwrap_err());
    assert!(message.contains("train-labels-idx1-ubyte: record 1: label 200 is out of range 0..10"), "{message}");
    // No images at all: nothing to draw from, said so rather than a panic.
    for prefix in ["train", "t10k"] {
        write_idx(mnist.join(format!("{prefix}-images-idx3-ubyte")), 0x803, &[0, 28, 28], &[]);
        write_idx(mnist.join(format!("{prefix}-labels-idx1-ubyte")), 0x801, &[0], &[]);
    }
    let message = format!("{:#}", digits::generate(&mnist, &dir.path().join("b"), &small()).unwrap_err());
    assert!(message.contains("the train split holds no images to draw from"), "{message}");
}
