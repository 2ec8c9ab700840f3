//! `bench-classify datasets`: which classification datasets are under the data folder, with
//! their sizes and per-class counts, and how long one shuffled epoch of loading takes.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use glcan_data::folder::ImageFolder;
use glcan_data::loader::{BatchLoader, ClassificationCollate, LoaderConfig};
use glcan_data::{ClassLabel, Dataset, DynDataset};

use crate::datasets::DatasetName;

pub fn run(data_dir: &Path) -> Result<()> {
    println!("classification datasets under {}:", data_dir.display());
    for name in DatasetName::ALL {
        if name == DatasetName::Imagenet {
            // Decoding 1.28 million JPEGs to count labels would take hours: count files.
            match ImageFolder::open(data_dir.join(name.folder()).join("train")) {
                Ok(train) => println!("  {:<14} train {:>7} images in {} class folders", name.name(), train.len(), train.classes().len()),
                Err(error) => println!("  {:<14} not available: {error}", name.name()),
            }
            continue;
        }
        match name.open_both(data_dir) {
            Ok((train, test)) => {
                let (channels, size, classes) = name.geometry();
                let counts = class_counts(&train, classes as usize)?;
                let (min, max) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
                let seconds = loading_epoch_seconds(train, name)?;
                println!(
                    "  {:<14} train {:>6}  test {:>6}  {}x{}x{}  {} classes ({}..{} train images each)  load epoch (batch 128, augmented) {:.2} s",
                    name.name(),
                    counts.iter().sum::<usize>(),
                    test.len(),
                    channels,
                    size,
                    size,
                    classes,
                    min,
                    max,
                    seconds
                );
            }
            Err(error) => println!("  {:<14} not available: {:#}", name.name(), error),
        }
    }
    Ok(())
}

fn class_counts(dataset: &DynDataset<ClassLabel>, classes: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0; classes];
    for i in 0..dataset.len() {
        let label = dataset.get(i)?.target;
        anyhow::ensure!((0..classes as i64).contains(&label), "sample {i} has label {label}, outside 0..{classes}");
        counts[label as usize] += 1;
    }
    Ok(counts)
}

fn loading_epoch_seconds(train: DynDataset<ClassLabel>, name: DatasetName) -> Result<f64> {
    let collate = ClassificationCollate::new(name.augmentation(), name.normalization());
    let loader = BatchLoader::new(Arc::new(train), collate, LoaderConfig::train(128, 0))?;
    let started = Instant::now();
    for batch in loader.epoch(0) {
        batch?;
    }
    Ok(started.elapsed().as_secs_f64())
}
