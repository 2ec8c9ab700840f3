//! The image sets a preset names, and where they live under the data folder
//! (docs/DATA.md): our HR photo pool with its committed train/test lists, DIV2K with its
//! official bicubic LR images, and the HR-only benchmarks Set5, Set14, B100 and Urban100.

use std::path::Path;

use anyhow::{bail, Context, Result};
use glcan_data::sr::{Div2kDataset, Div2kSplit, HrFolderDataset};

use crate::data::{load_pairs, SrImage, TestSet};

/// An image set of the super-resolution suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrSource {
    /// `sr-pool/`: 37 natural photos; `train.txt` (30) and `test.txt` (7) split them.
    SrPool,
    /// `DIV2K/`: 800 training and 100 validation pairs (official bicubic LR).
    Div2k,
    Set5,
    Set14,
    B100,
    Urban100,
}

impl SrSource {
    /// The name in presets and result rows.
    pub fn name(self) -> &'static str {
        match self {
            SrSource::SrPool => "sr-pool",
            SrSource::Div2k => "div2k",
            SrSource::Set5 => "set5",
            SrSource::Set14 => "set14",
            SrSource::B100 => "b100",
            SrSource::Urban100 => "urban100",
        }
    }

    /// The training pairs at `scale`, decoded.
    pub fn open_train(self, data_dir: &Path, scale: usize) -> Result<Vec<SrImage>> {
        match self {
            SrSource::SrPool => {
                let dir = data_dir.join("sr-pool");
                let dataset = HrFolderDataset::from_list_file(&dir, dir.join("train.txt"), scale)?;
                load_folder(&dataset)
            }
            SrSource::Div2k => {
                let dataset = Div2kDataset::open(data_dir.join("DIV2K"), Div2kSplit::Train, scale)?;
                let ids = dataset.ids().to_vec();
                Ok(load_pairs(&dataset, |i| format!("{}.png", ids[i])).context("decoding DIV2K")?)
            }
            other => bail!("{} is a test set: train on sr-pool or div2k", other.name()),
        }
    }

    /// The test pairs at `scale`, decoded: LR made from the mod-cropped HR with the
    /// MATLAB-exact bicubic (DIV2K: its official LR).
    pub fn open_test(self, data_dir: &Path, scale: usize) -> Result<TestSet> {
        let images = match self {
            SrSource::SrPool => {
                let dir = data_dir.join("sr-pool");
                load_folder(&HrFolderDataset::from_list_file(&dir, dir.join("test.txt"), scale)?)?
            }
            SrSource::Div2k => {
                let dataset = Div2kDataset::open(data_dir.join("DIV2K"), Div2kSplit::Valid, scale)?;
                let ids = dataset.ids().to_vec();
                load_pairs(&dataset, |i| format!("{}.png", ids[i]))?
            }
            benchmark => {
                let folder = match benchmark {
                    SrSource::Set5 => "Set5",
                    SrSource::Set14 => "Set14",
                    SrSource::B100 => "B100",
                    _ => "Urban100",
                };
                load_folder(&HrFolderDataset::open(data_dir.join("sr-benchmarks").join(folder), scale)?)?
            }
        };
        Ok(TestSet { name: self.name().to_owned(), images })
    }
}

fn load_folder(dataset: &HrFolderDataset) -> Result<Vec<SrImage>> {
    let names: Vec<String> = dataset
        .paths()
        .iter()
        .map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()))
        .collect();
    Ok(load_pairs(dataset, |i| names[i].clone())?)
}
