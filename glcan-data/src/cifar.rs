//! CIFAR-10 and CIFAR-100, binary version (Krizhevsky 2009,
//! <https://www.cs.toronto.edu/~kriz/cifar.html>).
//!
//! Each file is a plain sequence of fixed-size records, no header:
//! - CIFAR-10 (`cifar-10-batches-bin/data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`,
//!   10000 records each): 1 label byte (0..9), then 3072 pixel bytes;
//! - CIFAR-100 (`cifar-100-binary/train.bin` with 50000 records, `test.bin` with 10000):
//!   1 coarse label byte (0..19), 1 fine label byte (0..99), then 3072 pixel bytes.
//!
//! The pixels are the red, green and blue 32x32 planes one after the other, each row-major:
//! already the CHW layout of [`ImageU8`]. The python version of both (pickles, the layout
//! torchvision downloads) is read by [`crate::cifar_pickle`] into the same type.

use std::path::{Path, PathBuf};

use super::{index_error, ClassLabel, Dataset, ImageU8, Sample, Split};
use crate::{Error, Result};

/// Bytes of one image: 3 planes of 32x32.
pub(crate) const IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which CIFAR-100 label becomes the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cifar100Labels {
    /// The 100 classes.
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// The record layout of one variant.
struct Layout {
    /// Folder name inside the archive.
    folder: &'static str,
    /// Label bytes in front of each image, with the number of classes of each.
    label_ranges: &'static [(&'static str, u8)],
    /// Which of those label bytes is the target.
    target: usize,
}

const CIFAR10: Layout = Layout { folder: "cifar-10-batches-bin", label_ranges: &[("label", 10)], target: 0 };
const CIFAR100_FINE: Layout = Layout { folder: "cifar-100-binary", label_ranges: &[("coarse label", 20), ("fine label", 100)], target: 1 };
const CIFAR100_COARSE: Layout = Layout { target: 0, ..CIFAR100_FINE };

/// CIFAR-10 or CIFAR-100 held in memory (150 MB for a training set), images 3x32x32.
#[derive(Debug, Clone)]
pub struct CifarDataset {
    /// All images back to back, [`IMAGE_BYTES`] each, in CHW order.
    pixels: Vec<u8>,
    labels: Vec<u8>,
    num_classes: usize,
    /// The folder read, for messages.
    dir: PathBuf,
}

impl CifarDataset {
    /// CIFAR-10: the five `data_batch_*.bin` files or `test_batch.bin`. `dir` is
    /// `cifar-10-batches-bin` or the folder that holds it.
    pub fn cifar10(dir: &Path, split: Split) -> Result<CifarDataset> {
        let files: &[&str] = match split {
            Split::Train => &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
            Split::Test => &["test_batch.bin"],
        };
        Self::read(dir, files, &CIFAR10)
    }

    /// CIFAR-100: `train.bin` or `test.bin`, with the fine or the coarse label as target.
    /// `dir` is `cifar-100-binary` or the folder that holds it.
    pub fn cifar100(dir: &Path, split: Split, labels: Cifar100Labels) -> Result<CifarDataset> {
        let file = match split {
            Split::Train => "train.bin",
            Split::Test => "test.bin",
        };
        let layout = match labels {
            Cifar100Labels::Fine => &CIFAR100_FINE,
            Cifar100Labels::Coarse => &CIFAR100_COARSE,
        };
        Self::read(dir, &[file], layout)
    }

    fn read(dir: &Path, files: &[&str], layout: &Layout) -> Result<CifarDataset> {
        let folder = resolve_folder(dir, layout.folder, files[0]);
        let record = layout.label_ranges.len() + IMAGE_BYTES;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for name in files {
            let path = folder.join(name);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            check_size(&path, bytes.len(), record)?;
            pixels.reserve(bytes.len() / record * IMAGE_BYTES);
            for (index, chunk) in bytes.chunks_exact(record).enumerate() {
                let (label_bytes, image) = chunk.split_at(layout.label_ranges.len());
                // Every label byte is checked, the unused one too: a wrong value means the file
                // is not what its name says (e.g. a CIFAR-10 file read as CIFAR-100).
                for (&value, &(what, classes)) in label_bytes.iter().zip(layout.label_ranges) {
                    if value >= classes {
                        return Err(Error::bad_data(&path, format!("record {index}: {what} {value} is out of range 0..{classes}")));
                    }
                }
                labels.push(label_bytes[layout.target]);
                pixels.extend_from_slice(image);
            }
        }
        let num_classes = usize::from(layout.label_ranges[layout.target].1);
        Ok(CifarDataset { pixels, labels, num_classes, dir: folder })
    }

    /// A dataset of already checked parts: `pixels` holds `labels.len()` images.
    pub(crate) fn from_parts(pixels: Vec<u8>, labels: Vec<u8>, num_classes: usize, dir: PathBuf) -> CifarDataset {
        debug_assert_eq!(pixels.len(), labels.len() * IMAGE_BYTES);
        CifarDataset { pixels, labels, num_classes, dir }
    }

    /// 10, 100 or 20: the range of the targets.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// One target per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// How many images each class holds.
    pub fn class_counts(&self) -> Vec<usize> {
        super::count_labels(&self.labels, self.num_classes)
    }
}

impl Dataset for CifarDataset {
    type Target = ClassLabel;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
        let Some(&label) = self.labels.get(index) else {
            return Err(index_error(&self.dir.display().to_string(), index, self.labels.len()));
        };
        let pixels = self.pixels[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES].to_vec();
        Ok(Sample { image: ImageU8::from_chw(3, 32, 32, pixels), target: ClassLabel::from(label) })
    }
}

/// `dir` itself when it holds `probe`, else `dir/folder` when that holds it; otherwise `dir`,
/// so that the missing file is reported where the user pointed.
pub(crate) fn resolve_folder(dir: &Path, folder: &str, probe: &str) -> PathBuf {
    let inner = dir.join(folder);
    if !dir.join(probe).exists() && inner.join(probe).exists() {
        inner
    } else {
        dir.to_path_buf()
    }
}

/// A file of whole records, at least one.
fn check_size(path: &Path, len: usize, record: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::bad_data(path, "empty file, no records"));
    }
    let extra = len % record;
    if extra != 0 {
        return Err(Error::bad_data(
            path,
            format!(
                "truncated: {len} bytes is not a whole number of {record}-byte records \
                 ({} records and {extra} bytes over)",
                len / record
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record: the label bytes, then a 3x32x32 image whose pixel at (c, y, x) is
    /// `seed + 100 c + y + x` (mod 256), so planes and rows are told apart.
    fn record(labels: &[u8], seed: u8) -> Vec<u8> {
        let mut bytes = labels.to_vec();
        for c in 0..3u8 {
            for y in 0..32u8 {
                for x in 0..32u8 {
                    bytes.push(seed.wrapping_add(100 * c).wrapping_add(y).wrapping_add(x));
                }
            }
        }
        bytes
    }

    fn write_records(dir: &Path, name: &str, records: &[Vec<u8>]) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, records.concat()).unwrap();
        path
    }

    /// A complete CIFAR-10 folder, batch `b` holding two records labelled `b` and `9 - b`.
    fn cifar10_folder(dir: &Path) {
        for b in 1..=5u8 {
            write_records(dir, &format!("data_batch_{b}.bin"), &[record(&[b], b), record(&[9 - b], 50 + b)]);
        }
        write_records(dir, "test_batch.bin", &[record(&[3], 7)]);
    }

    #[test]
    fn reads_cifar10_train_and_test() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("cifar-10-batches-bin");
        cifar10_folder(&folder);
        // The parent folder and the batches folder itself both work.
        let train = CifarDataset::cifar10(root.path(), Split::Train).unwrap();
        assert_eq!(train.len(), 10);
        assert_eq!(train.num_classes(), 10);
        assert_eq!(train.labels(), &[1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
        assert_eq!(train.class_counts(), vec![0, 1, 1, 1, 2, 2, 1, 1, 1, 0]);
        let sample = train.get(3).unwrap();
        assert_eq!(sample.target, 7);
        assert_eq!((sample.image.channels(), sample.image.height(), sample.image.width()), (3, 32, 32));
        // Record 3 is the second of batch 2, seed 52.
        assert_eq!(sample.image.at(0, 0, 0), 52);
        assert_eq!(sample.image.at(1, 2, 5), 52 + 100 + 2 + 5);
        assert_eq!(sample.image.at(2, 31, 31), 58); // (52 + 200 + 31 + 31) mod 256
        let test = CifarDataset::cifar10(&folder, Split::Test).unwrap();
        assert_eq!(test.len(), 1);
        assert_eq!(test.get(0).unwrap().target, 3);
        let message = test.get(1).unwrap_err().to_string();
        assert!(message.contains("sample 1") && message.contains("holds 1"), "{message}");
    }

    #[test]
    fn reads_cifar100_fine_and_coarse() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("cifar-100-binary");
        write_records(&folder, "train.bin", &[record(&[19, 99], 1), record(&[0, 42], 2), record(&[0, 42], 3)]);
        write_records(&folder, "test.bin", &[record(&[5, 17], 4)]);
        let fine = CifarDataset::cifar100(root.path(), Split::Train, Cifar100Labels::Fine).unwrap();
        assert_eq!((fine.len(), fine.num_classes()), (3, 100));
        assert_eq!(fine.labels(), &[99, 42, 42]);
        assert_eq!(fine.class_counts()[42], 2);
        assert_eq!(fine.get(1).unwrap().image.at(0, 0, 1), 3);
        let coarse = CifarDataset::cifar100(&folder, Split::Train, Cifar100Labels::Coarse).unwrap();
        assert_eq!((coarse.num_classes(), coarse.labels()), (20, &[19u8, 0, 0][..]));
        assert_eq!(coarse.class_counts(), [vec![2], vec![0; 18], vec![1]].concat());
        let test = CifarDataset::cifar100(&folder, Split::Test, Cifar100Labels::Fine).unwrap();
        assert_eq!(test.get(0).unwrap().target, 17);
    }

    #[test]
    fn missing_batch_is_named() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("cifar-10-batches-bin");
        cifar10_folder(&folder);
        std::fs::remove_file(folder.join("data_batch_4.bin")).unwrap();
        let message = CifarDataset::cifar10(root.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("cifar-10-batches-bin/data_batch_4.bin"), "{message}");
        // Nothing at all: the file is looked for where the user pointed.
        let empty = tempfile::tempdir().unwrap();
        let message = CifarDataset::cifar100(empty.path(), Split::Test, Cifar100Labels::Fine).unwrap_err().to_string();
        assert!(message.contains(&empty.path().join("test.bin").display().to_string()), "{message}");
    }

    #[test]
    fn truncated_file_says_how_many_bytes() {
        let root = tempfile::tempdir().unwrap();
        cifar10_folder(root.path());
        let mut bytes = record(&[1], 0);
        bytes.truncate(1000);
        write_records(root.path(), "test_batch.bin", &[record(&[2], 0), bytes]);
        let message = CifarDataset::cifar10(root.path(), Split::Test).unwrap_err().to_string();
        assert!(message.contains("test_batch.bin") && message.contains("truncated"), "{message}");
        assert!(message.contains("4073 bytes") && message.contains("1 records and 1000 bytes over"), "{message}");
    }

    #[test]
    fn empty_file_is_reported() {
        let root = tempfile::tempdir().unwrap();
        write_records(root.path(), "test.bin", &[]);
        let message = CifarDataset::cifar100(root.path(), Split::Test, Cifar100Labels::Coarse).unwrap_err().to_string();
        assert!(message.contains("test.bin") && message.contains("empty file"), "{message}");
    }

    #[test]
    fn cifar10_label_out_of_range_names_the_record() {
        let root = tempfile::tempdir().unwrap();
        cifar10_folder(root.path());
        write_records(root.path(), "data_batch_2.bin", &[record(&[0], 0), record(&[10], 0)]);
        let message = CifarDataset::cifar10(root.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("data_batch_2.bin"), "{message}");
        assert!(message.contains("record 1: label 10 is out of range 0..10"), "{message}");
    }

    #[test]
    fn cifar100_labels_out_of_range_name_the_record() {
        let root = tempfile::tempdir().unwrap();
        write_records(root.path(), "train.bin", &[record(&[3, 3], 0), record(&[3, 3], 0), record(&[3, 100], 0)]);
        write_records(root.path(), "test.bin", &[record(&[20, 5], 0)]);
        // The fine label is checked even when the coarse one is the target, and the reverse.
        let message = CifarDataset::cifar100(root.path(), Split::Train, Cifar100Labels::Coarse).unwrap_err().to_string();
        assert!(message.contains("train.bin") && message.contains("record 2: fine label 100"), "{message}");
        let message = CifarDataset::cifar100(root.path(), Split::Test, Cifar100Labels::Fine).unwrap_err().to_string();
        assert!(message.contains("test.bin"), "{message}");
        assert!(message.contains("record 0: coarse label 20 is out of range 0..20"), "{message}");
    }

    #[test]
    fn cifar10_file_read_as_cifar100_is_caught() {
        // Two CIFAR-10 records are 6146 bytes, not a multiple of the 3074-byte CIFAR-100 record.
        let root = tempfile::tempdir().unwrap();
        write_records(root.path(), "test.bin", &[record(&[1], 0), record(&[2], 0)]);
        let message = CifarDataset::cifar100(root.path(), Split::Test, Cifar100Labels::Fine).unwrap_err().to_string();
        assert!(message.contains("test.bin") && message.contains("3074-byte records"), "{message}");
    }
}
