//! IDX files: the format of MNIST (LeCun, Cortes & Burges, <http://yann.lecun.com/exdb/mnist/>)
//! and Fashion-MNIST (Xiao et al. 2017, <https://github.com/zalandoresearch/fashion-mnist>).
//!
//! An IDX file is a big-endian header followed by raw values:
//! - magic: two zero bytes, a type byte (0x08 = unsigned byte) and the number of dimensions;
//!   images are `0x00000803` (2051: N x rows x cols), labels `0x00000801` (2049: N);
//! - one `u32` per dimension;
//! - the values, row-major, exactly `product(dims)` bytes.
//!
//! The files are distributed gzip-compressed (`*-ubyte.gz`) and often unpacked; either form is
//! read, told apart by the gzip magic `1f 8b`, not by the extension.
//!
//! The format knows neither the image size nor the number of classes of a dataset: a user of
//! MNIST checks both with [`IdxDataset::expect`] and an [`IdxShape`], so that a label past
//! the last class or a file of other geometry is an error naming the file, not a crash in
//! the loss or a network trained on the wrong images.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{index_error, ClassLabel, Dataset, ImageU8, Sample, Split};
use crate::{Error, Result};

/// Magic number of an unsigned-byte IDX file with three dimensions (images).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an unsigned-byte IDX file with one dimension (labels).
const LABELS_MAGIC: u32 = 0x0000_0801;

/// What a dataset stored as IDX must hold: its image size and its number of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxShape {
    pub rows: usize,
    pub cols: usize,
    /// Labels run over `0..classes`.
    pub classes: usize,
}

impl IdxShape {
    /// MNIST and Fashion-MNIST: 28x28 images, 10 classes.
    pub const MNIST: IdxShape = IdxShape { rows: 28, cols: 28, classes: 10 };
}

/// A pair of IDX files (images and labels) held in memory: 47 MB for the 60000 MNIST training
/// images, so `get` copies one image's bytes and never touches the disk.
#[derive(Debug, Clone)]
pub struct IdxDataset {
    /// All images back to back, `rows * cols` bytes each.
    pixels: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
    images_path: PathBuf,
    labels_path: PathBuf,
}

impl IdxDataset {
    /// Reads an images file and a labels file, each raw or gzip-compressed.
    pub fn open(images: &Path, labels: &Path) -> Result<IdxDataset> {
        let (dims, pixels) = read_idx(images, IMAGES_MAGIC, "unsigned-byte images, 3 dimensions")?;
        let (label_dims, label_bytes) = read_idx(labels, LABELS_MAGIC, "unsigned-byte labels, 1 dimension")?;
        let (count, rows, cols) = (dims[0], dims[1], dims[2]);
        if rows == 0 || cols == 0 {
            return Err(Error::bad_data(images, format!("images of {rows}x{cols} pixels")));
        }
        if label_dims[0] != count {
            return Err(Error::bad_data(labels, format!("holds {} labels, but {} holds {count} images", label_dims[0], images.display())));
        }
        Ok(IdxDataset { pixels, labels: label_bytes, rows, cols, images_path: images.to_path_buf(), labels_path: labels.to_path_buf() })
    }

    /// Checks that the images are `shape.rows x shape.cols` and every label is below
    /// `shape.classes`; errors name the file, and the record of the first bad label.
    pub fn expect(self, shape: IdxShape) -> Result<IdxDataset> {
        if (self.rows, self.cols) != (shape.rows, shape.cols) {
            return Err(Error::bad_data(
                &self.images_path,
                format!("images of {}x{} pixels, but the dataset's images are {}x{}", self.rows, self.cols, shape.rows, shape.cols),
            ));
        }
        if let Some((index, label)) = self.labels.iter().enumerate().find(|&(_, &label)| usize::from(label) >= shape.classes) {
            return Err(Error::bad_data(&self.labels_path, format!("record {index}: label {label} is out of range 0..{}", shape.classes)));
        }
        Ok(self)
    }

    /// Reads the official file pair of `split` from `dir`: `train-images-idx3-ubyte` and
    /// `train-labels-idx1-ubyte`, or `t10k-*` for the test split, each with or without `.gz`
    /// (the dotted spelling `train-images.idx3-ubyte` of some mirrors is accepted too).
    pub fn open_split(dir: &Path, split: Split) -> Result<IdxDataset> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images = find_file(dir, prefix, "images", "idx3")?;
        let labels = find_file(dir, prefix, "labels", "idx1")?;
        Self::open(&images, &labels)
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// One label per image, as stored.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// How many images carry each label `0..num_classes`; labels at or above `num_classes`
    /// are not counted.
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        super::count_labels(&self.labels, num_classes)
    }
}

impl Dataset for IdxDataset {
    type Target = ClassLabel;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
        let Some(&label) = self.labels.get(index) else {
            return Err(index_error(&self.images_path.display().to_string(), index, self.labels.len()));
        };
        let size = self.rows * self.cols;
        let pixels = self.pixels[index * size..(index + 1) * size].to_vec();
        Ok(Sample { image: ImageU8::from_chw(1, self.rows, self.cols, pixels), target: ClassLabel::from(label) })
    }
}

/// The first of the accepted spellings of one official file that exists in `dir`.
fn find_file(dir: &Path, prefix: &str, kind: &str, idx: &str) -> Result<PathBuf> {
    let stems = [format!("{prefix}-{kind}-{idx}-ubyte"), format!("{prefix}-{kind}.{idx}-ubyte")];
    let candidates: Vec<String> = stems.iter().flat_map(|stem| [stem.clone(), format!("{stem}.gz")]).collect();
    for name in &candidates {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    let fault = format!("no IDX {kind} file: looked for {}", candidates.join(", "));
    Err(Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, fault)))
}

/// Reads one IDX file, checks its magic number and its length, and returns its dimensions
/// and its values (the header removed).
fn read_idx(path: &Path, magic: u32, what: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let mut bytes = read_maybe_gzip(path)?;
    let word = |at: usize| -> Option<u32> {
        let four = bytes.get(at..at + 4)?;
        Some(u32::from_be_bytes([four[0], four[1], four[2], four[3]]))
    };
    let found = word(0).ok_or_else(|| Error::bad_data(path, format!("{} bytes, too short for an IDX header", bytes.len())))?;
    if found != magic {
        return Err(Error::bad_data(path, format!("magic number {found:#010x}, expected {magic:#010x} ({what})")));
    }
    // The low byte of the magic number is the number of dimensions.
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    let mut dims = Vec::with_capacity(ndims);
    for d in 0..ndims {
        let size = word(4 + 4 * d)
            .ok_or_else(|| Error::bad_data(path, format!("truncated header: {} bytes, the header needs {header}", bytes.len())))?;
        dims.push(size as usize);
    }
    // Checked arithmetic: the sizes come from the file and may be garbage.
    let announced = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(expected) = announced.and_then(|n| n.checked_add(header)) else {
        return Err(Error::bad_data(path, format!("dimensions {dims:?} are too large")));
    };
    if bytes.len() != expected {
        let fault = if bytes.len() < expected { "truncated" } else { "trailing bytes" };
        return Err(Error::bad_data(path, format!("{fault}: dimensions {dims:?} need {expected} bytes, the file holds {}", bytes.len())));
    }
    bytes.drain(..header);
    Ok((dims, bytes))
}

/// The content of `path`, gunzipped when it starts with the gzip magic.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut decoded)
        .map_err(|e| Error::bad_data(path, format!("corrupt gzip stream: {e}")))?;
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// An IDX file of unsigned bytes with the given dimensions.
    fn idx_bytes(magic: u32, dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(values);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Three 2x3 images whose pixels are `10 * image + position`, labels 7, 0, 7.
    fn sample_files() -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..3).flat_map(|n| (0..6).map(move |p| 10 * n + p)).collect();
        (idx_bytes(IMAGES_MAGIC, &[3, 2, 3], &pixels), idx_bytes(LABELS_MAGIC, &[3], &[7, 0, 7]))
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn open_error(images: &[u8], labels: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let images = write(dir.path(), "images-idx3-ubyte", images);
        let labels = write(dir.path(), "labels-idx1-ubyte", labels);
        IdxDataset::open(&images, &labels).unwrap_err().to_string()
    }

    #[test]
    fn reads_raw_files() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = sample_files();
        let data = IdxDataset::open(&write(dir.path(), "i", &images), &write(dir.path(), "l", &labels)).unwrap();
        assert_eq!((data.len(), data.rows(), data.cols()), (3, 2, 3));
        let sample = data.get(1).unwrap();
        assert_eq!((sample.image.channels(), sample.image.height(), sample.image.width()), (1, 2, 3));
        assert_eq!(sample.image.as_slice(), &[10, 11, 12, 13, 14, 15]);
        assert_eq!(sample.image.at(0, 1, 0), 13);
        assert_eq!(sample.target, 0);
        assert_eq!(data.get(2).unwrap().target, 7);
        assert_eq!(data.labels(), &[7, 0, 7]);
        assert_eq!(data.class_counts(10), vec![1, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
        // A label beyond `num_classes` is left out of the counts.
        assert_eq!(data.class_counts(5), vec![1, 0, 0, 0, 0]);
    }

    #[test]
    fn reads_gzip_by_content_not_extension() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = sample_files();
        // Compressed data under a name without `.gz`, raw data under a name with it.
        let data = IdxDataset::open(&write(dir.path(), "images", &gzip(&images)), &write(dir.path(), "labels.gz", &labels)).unwrap();
        assert_eq!(data.get(2).unwrap().image.as_slice(), &[20, 21, 22, 23, 24, 25]);
        assert_eq!(data.labels(), &[7, 0, 7]);
    }

    #[test]
    fn open_split_finds_official_names() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = sample_files();
        write(dir.path(), "train-images-idx3-ubyte", &images);
        write(dir.path(), "train-labels-idx1-ubyte.gz", &gzip(&labels));
        write(dir.path(), "t10k-images-idx3-ubyte.gz", &gzip(&idx_bytes(IMAGES_MAGIC, &[1, 2, 3], &[9; 6])));
        write(dir.path(), "t10k-labels.idx1-ubyte", &idx_bytes(LABELS_MAGIC, &[1], &[4]));
        let train = IdxDataset::open_split(dir.path(), Split::Train).unwrap();
        assert_eq!(train.len(), 3);
        let test = IdxDataset::open_split(dir.path(), Split::Test).unwrap();
        assert_eq!(test.len(), 1);
        assert_eq!(test.get(0).unwrap().target, 4);
    }

    #[test]
    fn open_split_lists_what_it_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let (images, _) = sample_files();
        write(dir.path(), "t10k-images-idx3-ubyte", &images);
        let message = IdxDataset::open_split(dir.path(), Split::Test).unwrap_err().to_string();
        assert!(message.contains(&dir.path().display().to_string()), "{message}");
        assert!(message.contains("t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte.gz"), "{message}");
        let message = IdxDataset::open_split(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("train-images-idx3-ubyte.gz"), "{message}");
    }

    #[test]
    fn index_past_the_end_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = sample_files();
        let data = IdxDataset::open(&write(dir.path(), "i", &images), &write(dir.path(), "l", &labels)).unwrap();
        let message = data.get(3).unwrap_err().to_string();
        assert!(message.contains("sample 3") && message.contains("holds 3"), "{message}");
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (_, labels) = sample_files();
        let labels = write(dir.path(), "labels", &labels);
        let message = IdxDataset::open(&dir.path().join("absent-images"), &labels).unwrap_err().to_string();
        assert!(message.contains("absent-images"), "{message}");
    }

    #[test]
    fn swapped_files_report_the_magic_number() {
        let (images, labels) = sample_files();
        let message = open_error(&labels, &images);
        assert!(message.contains("images-idx3-ubyte"), "{message}");
        assert!(message.contains("magic number 0x00000801, expected 0x00000803"), "{message}");
    }

    #[test]
    fn truncated_images_are_reported() {
        let (images, labels) = sample_files();
        let message = open_error(&images[..images.len() - 1], &labels);
        assert!(message.contains("images-idx3-ubyte") && message.contains("truncated"), "{message}");
        assert!(message.contains("need 34 bytes, the file holds 33"), "{message}");
        // Cut inside the header.
        let message = open_error(&images[..10], &labels);
        assert!(message.contains("images-idx3-ubyte") && message.contains("truncated header"), "{message}");
        let message = open_error(&images[..2], &labels);
        assert!(message.contains("too short for an IDX header"), "{message}");
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let (images, mut labels) = sample_files();
        labels.push(3);
        let message = open_error(&images, &labels);
        assert!(message.contains("labels-idx1-ubyte") && message.contains("trailing bytes"), "{message}");
    }

    #[test]
    fn count_mismatch_is_reported() {
        let (images, _) = sample_files();
        let message = open_error(&images, &idx_bytes(LABELS_MAGIC, &[2], &[1, 2]));
        assert!(message.contains("labels-idx1-ubyte") && message.contains("holds 2 labels"), "{message}");
        assert!(message.contains("holds 3 images"), "{message}");
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let (images, labels) = sample_files();
        let mut compressed = gzip(&images);
        compressed.truncate(compressed.len() / 2);
        let message = open_error(&compressed, &labels);
        assert!(message.contains("images-idx3-ubyte") && message.contains("corrupt gzip stream"), "{message}");
    }

    fn expect_error(images: &[u8], labels: &[u8], shape: IdxShape) -> String {
        let dir = tempfile::tempdir().unwrap();
        let images = write(dir.path(), "images-idx3-ubyte", images);
        let labels = write(dir.path(), "labels-idx1-ubyte", labels);
        IdxDataset::open(&images, &labels).unwrap().expect(shape).unwrap_err().to_string()
    }

    #[test]
    fn expect_accepts_the_right_shape() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = sample_files();
        let data = IdxDataset::open(&write(dir.path(), "i", &images), &write(dir.path(), "l", &labels)).unwrap();
        let data = data.expect(IdxShape { rows: 2, cols: 3, classes: 8 }).unwrap();
        assert_eq!(data.len(), 3);
    }

    #[test]
    fn a_label_out_of_range_names_the_file_the_record_and_the_range() {
        let (images, _) = sample_files();
        let message = expect_error(&images, &idx_bytes(LABELS_MAGIC, &[3], &[1, 200, 9]), IdxShape { rows: 2, cols: 3, classes: 10 });
        assert!(message.contains("labels-idx1-ubyte: record 1: label 200 is out of range 0..10"), "{message}");
        // The last class is the first one out.
        let message = expect_error(&images, &idx_bytes(LABELS_MAGIC, &[3], &[1, 2, 10]), IdxShape { rows: 2, cols: 3, classes: 10 });
        assert!(message.contains("record 2: label 10 is out of range 0..10"), "{message}");
    }

    #[test]
    fn other_geometry_names_the_file_and_both_shapes() {
        let (images, labels) = sample_files();
        let message = expect_error(&images, &labels, IdxShape { rows: 3, cols: 2, classes: 10 });
        assert!(message.contains("images-idx3-ubyte: images of 2x3 pixels, but the dataset's images are 3x2"), "{message}");
    }

    #[test]
    fn huge_dimensions_do_not_overflow() {
        let (_, labels) = sample_files();
        let message = open_error(&idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]), &labels);
        assert!(message.contains("images-idx3-ubyte"), "{message}");
        assert!(message.contains("dimensions [4294967295, 4294967295, 4294967295] are too large"), "{message}");
    }
}
