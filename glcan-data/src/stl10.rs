//! STL-10, binary version (Coates, Lee & Ng 2011, <https://cs.stanford.edu/~acoates/stl10/>).
//!
//! The archive unpacks to `stl10_binary/`:
//! - `train_X.bin` (5000 images), `test_X.bin` (8000), `unlabeled_X.bin` (100000, 2.7 GB):
//!   3x96x96 `uint8` images back to back, no header. Each channel plane is stored
//!   COLUMN-major (the data was written from MATLAB), so within one image the value at
//!   channel `c`, row `y`, column `x` sits at `c * 9216 + x * 96 + y`;
//! - `train_y.bin`, `test_y.bin`: one byte per image, the classes numbered 1..10.
//!
//! Targets here are 0-based (`label - 1`). The labelled sets are held in memory (220 MB for
//! the test set); the unlabelled set is read image by image from disk.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{index_error, ClassLabel, Dataset, ImageU8, Sample, Split};
use crate::{Error, Result};

/// Image side.
const SIDE: usize = 96;
/// Bytes of one image: 3 planes of 96x96.
const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Folder the official archive unpacks to.
const FOLDER: &str = "stl10_binary";
/// Number of classes.
pub const NUM_CLASSES: usize = 10;

/// The labelled train or test set of STL-10, images 3x96x96.
#[derive(Debug, Clone)]
pub struct Stl10Dataset {
    /// The images as stored (column-major planes); `get` transposes one at a time.
    pixels: Vec<u8>,
    /// 0-based targets.
    labels: Vec<u8>,
    images_path: PathBuf,
}

impl Stl10Dataset {
    /// Reads `train_X.bin` + `train_y.bin` or `test_X.bin` + `test_y.bin`. `dir` is
    /// `stl10_binary` or the folder that holds it.
    pub fn open(dir: &Path, split: Split) -> Result<Stl10Dataset> {
        let (x_name, y_name) = match split {
            Split::Train => ("train_X.bin", "train_y.bin"),
            Split::Test => ("test_X.bin", "test_y.bin"),
        };
        let folder = resolve_folder(dir, x_name);
        let images_path = folder.join(x_name);
        let labels_path = folder.join(y_name);
        let pixels = std::fs::read(&images_path).map_err(|e| Error::io(&images_path, e))?;
        let count = image_count(&images_path, pixels.len() as u64)?;
        let mut labels = std::fs::read(&labels_path).map_err(|e| Error::io(&labels_path, e))?;
        if labels.len() != count {
            return Err(Error::bad_data(
                &labels_path,
                format!("holds {} labels, but {} holds {count} images", labels.len(), images_path.display()),
            ));
        }
        for (index, label) in labels.iter_mut().enumerate() {
            if !(1..=NUM_CLASSES as u8).contains(label) {
                return Err(Error::bad_data(&labels_path, format!("label {index} is {label}, outside the classes 1..={NUM_CLASSES}")));
            }
            *label -= 1;
        }
        Ok(Stl10Dataset { pixels, labels, images_path })
    }

    /// One 0-based target per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// How many images each of the 10 classes holds.
    pub fn class_counts(&self) -> Vec<usize> {
        super::count_labels(&self.labels, NUM_CLASSES)
    }
}

impl Dataset for Stl10Dataset {
    type Target = ClassLabel;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
        let Some(&label) = self.labels.get(index) else {
            return Err(index_error(&self.images_path.display().to_string(), index, self.labels.len()));
        };
        let stored = &self.pixels[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES];
        Ok(Sample { image: to_chw(stored), target: ClassLabel::from(label) })
    }
}

/// The 100000 unlabelled STL-10 images (`unlabeled_X.bin`), read from disk on each `get`:
/// 2.7 GB is too much to hold. Positioned reads need no lock, so loader threads share it.
#[derive(Debug)]
pub struct Stl10Unlabeled {
    file: File,
    path: PathBuf,
    count: usize,
}

impl Stl10Unlabeled {
    /// Opens `unlabeled_X.bin` in `dir` (`stl10_binary` or the folder that holds it) and checks
    /// that its length is a whole number of images.
    pub fn open(dir: &Path) -> Result<Stl10Unlabeled> {
        let name = "unlabeled_X.bin";
        let path = resolve_folder(dir, name).join(name);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let count = image_count(&path, len)?;
        Ok(Stl10Unlabeled { file, path, count })
    }
}

impl Dataset for Stl10Unlabeled {
    type Target = ();

    fn len(&self) -> usize {
        self.count
    }

    fn get(&self, index: usize) -> Result<Sample<()>> {
        if index >= self.count {
            return Err(index_error(&self.path.display().to_string(), index, self.count));
        }
        let mut stored = vec![0u8; IMAGE_BYTES];
        read_at(&self.file, &mut stored, index as u64 * IMAGE_BYTES as u64).map_err(|e| {
            // The file was checked at open; a short read means it shrank since.
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::bad_data(&self.path, format!("image {index} is cut short: the file shrank after it was opened"))
            } else {
                Error::io(&self.path, e)
            }
        })?;
        Ok(Sample { image: to_chw(&stored), target: () })
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Transposes each column-major 96x96 plane into the row-major planes of [`ImageU8`].
fn to_chw(stored: &[u8]) -> ImageU8 {
    let mut chw = vec![0u8; IMAGE_BYTES];
    for (out_plane, in_plane) in chw.chunks_exact_mut(SIDE * SIDE).zip(stored.chunks_exact(SIDE * SIDE)) {
        for (x, column) in in_plane.chunks_exact(SIDE).enumerate() {
            for (y, &value) in column.iter().enumerate() {
                out_plane[y * SIDE + x] = value;
            }
        }
    }
    ImageU8::from_chw(3, SIDE, SIDE, chw)
}

/// The number of images in an images file of `len` bytes: a whole number, at least one.
fn image_count(path: &Path, len: u64) -> Result<usize> {
    let image = IMAGE_BYTES as u64;
    if len == 0 {
        return Err(Error::bad_data(path, "empty file, no images"));
    }
    if !len.is_multiple_of(image) {
        return Err(Error::bad_data(
            path,
            format!(
                "truncated: {len} bytes is not a whole number of {image}-byte 3x96x96 images \
                 ({} images and {} bytes over)",
                len / image,
                len % image
            ),
        ));
    }
    usize::try_from(len / image).map_err(|_| Error::bad_data(path, format!("{len} bytes is too large")))
}

/// `dir` itself when it holds `probe`, else `dir/stl10_binary` when that holds it; otherwise
/// `dir`, so that the missing file is reported where the user pointed.
fn resolve_folder(dir: &Path, probe: &str) -> PathBuf {
    let inner = dir.join(FOLDER);
    if !dir.join(probe).exists() && inner.join(probe).exists() {
        inner
    } else {
        dir.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value written at channel `c`, row `y`, column `x` of image `n`: distinct along each
    /// axis, so a transposed plane or a swapped image would not match.
    fn value(n: usize, c: usize, y: usize, x: usize) -> u8 {
        (n * 7 + c * 50 + y * 3 + x * 5) as u8
    }

    /// Images in the official layout: planes column-major.
    fn images_file(count: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(count * IMAGE_BYTES);
        for n in 0..count {
            for c in 0..3 {
                for x in 0..SIDE {
                    for y in 0..SIDE {
                        bytes.push(value(n, c, y, x));
                    }
                }
            }
        }
        bytes
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn assert_image(image: &ImageU8, n: usize) {
        assert_eq!((image.channels(), image.height(), image.width()), (3, SIDE, SIDE));
        for (c, y, x) in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 5, 80), (2, 95, 3), (2, 95, 95)] {
            assert_eq!(image.at(c, y, x), value(n, c, y, x), "image {n} at ({c}, {y}, {x})");
        }
    }

    #[test]
    fn reads_labelled_sets_with_rows_and_columns_in_place() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("stl10_binary");
        write(&folder, "train_X.bin", &images_file(3));
        write(&folder, "train_y.bin", &[1, 10, 4]);
        write(&folder, "test_X.bin", &images_file(1));
        write(&folder, "test_y.bin", &[2]);
        let train = Stl10Dataset::open(root.path(), Split::Train).unwrap();
        assert_eq!(train.len(), 3);
        assert_eq!(train.labels(), &[0, 9, 3]);
        assert_eq!(train.class_counts(), vec![1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        for n in 0..3 {
            assert_image(&train.get(n).unwrap().image, n);
        }
        assert_eq!(train.get(1).unwrap().target, 9);
        let test = Stl10Dataset::open(&folder, Split::Test).unwrap();
        assert_eq!((test.len(), test.get(0).unwrap().target), (1, 1));
        let message = test.get(1).unwrap_err().to_string();
        assert!(message.contains("test_X.bin") && message.contains("sample 1"), "{message}");
    }

    #[test]
    fn reads_unlabeled_images_from_disk() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("stl10_binary");
        write(&folder, "unlabeled_X.bin", &images_file(4));
        let unlabeled = Stl10Unlabeled::open(root.path()).unwrap();
        assert_eq!(unlabeled.len(), 4);
        // Out of order, to exercise the positioned reads.
        for n in [3, 0, 2, 1] {
            assert_image(&unlabeled.get(n).unwrap().image, n);
        }
        let message = unlabeled.get(4).unwrap_err().to_string();
        assert!(message.contains("unlabeled_X.bin") && message.contains("sample 4"), "{message}");
    }

    #[test]
    fn unlabeled_file_that_shrinks_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "unlabeled_X.bin", &images_file(2));
        let unlabeled = Stl10Unlabeled::open(dir.path()).unwrap();
        std::fs::OpenOptions::new().write(true).open(dir.path().join("unlabeled_X.bin")).unwrap().set_len(IMAGE_BYTES as u64 + 10).unwrap();
        let message = unlabeled.get(1).unwrap_err().to_string();
        assert!(message.contains("unlabeled_X.bin") && message.contains("image 1 is cut short"), "{message}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let message = Stl10Dataset::open(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("train_X.bin"), "{message}");
        write(dir.path(), "test_X.bin", &images_file(1));
        let message = Stl10Dataset::open(dir.path(), Split::Test).unwrap_err().to_string();
        assert!(message.contains("test_y.bin"), "{message}");
        let message = Stl10Unlabeled::open(dir.path()).unwrap_err().to_string();
        assert!(message.contains("unlabeled_X.bin"), "{message}");
    }

    #[test]
    fn truncated_images_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut images = images_file(2);
        images.truncate(IMAGE_BYTES + 100);
        write(dir.path(), "train_X.bin", &images);
        write(dir.path(), "train_y.bin", &[1, 2]);
        write(dir.path(), "unlabeled_X.bin", &images);
        let expected = "truncated: 27748 bytes is not a whole number of 27648-byte 3x96x96 images \
                        (1 images and 100 bytes over)";
        let message = Stl10Dataset::open(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("train_X.bin") && message.contains(expected), "{message}");
        let message = Stl10Unlabeled::open(dir.path()).unwrap_err().to_string();
        assert!(message.contains("unlabeled_X.bin") && message.contains(expected), "{message}");
    }

    #[test]
    fn empty_images_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "unlabeled_X.bin", &[]);
        let message = Stl10Unlabeled::open(dir.path()).unwrap_err().to_string();
        assert!(message.contains("unlabeled_X.bin") && message.contains("empty file"), "{message}");
    }

    #[test]
    fn label_count_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "test_X.bin", &images_file(2));
        write(dir.path(), "test_y.bin", &[1, 2, 3]);
        let message = Stl10Dataset::open(dir.path(), Split::Test).unwrap_err().to_string();
        assert!(message.contains("test_y.bin") && message.contains("holds 3 labels"), "{message}");
        assert!(message.contains("holds 2 images"), "{message}");
    }

    #[test]
    fn labels_outside_1_to_10_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "test_X.bin", &images_file(2));
        // A 0-based label file (0 is not a class) and one past the last class.
        for (labels, fault) in [([3, 0], "label 1 is 0"), ([11, 1], "label 0 is 11")] {
            write(dir.path(), "test_y.bin", &labels);
            let message = Stl10Dataset::open(dir.path(), Split::Test).unwrap_err().to_string();
            assert!(message.contains("test_y.bin") && message.contains(fault), "{message}");
            assert!(message.contains("outside the classes 1..=10"), "{message}");
        }
    }
}
