//! SVHN, cropped digits (Netzer et al. 2011, <http://ufldl.stanford.edu/housenumbers/>):
//! `train_32x32.mat` (73257 images), `test_32x32.mat` (26032), `extra_32x32.mat` (531131).
//!
//! Each is a MATLAB Level 5 MAT-file (read by [`super::mat5`]) with two variables:
//! - `X`: `uint8`, 32x32x3xN, in MATLAB's column-major order, so `X(h, w, c, n)` sits at
//!   `h + 32 * (w + 32 * (c + 3 * n))`: image `n` is 3072 consecutive bytes whose channel
//!   planes are stored column by column;
//! - `y`: N x 1, the digits as labels 1..10, where 10 stands for the digit 0.
//!
//! Targets here are the digits themselves, 0..9.

use std::path::{Path, PathBuf};

use super::mat5::{MatArray, MatFile};
use super::{index_error, ClassLabel, Dataset, ImageU8, Sample, Split};
use crate::{Error, Result};

/// Image side.
const SIDE: usize = 32;
/// Bytes of one image: 3 planes of 32x32.
const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Number of classes (the ten digits).
pub const NUM_CLASSES: usize = 10;

/// One SVHN file held in memory (225 MB for the training set), images 3x32x32.
#[derive(Debug, Clone)]
pub struct SvhnDataset {
    /// `X` as stored (column-major planes); `get` transposes one image at a time.
    pixels: Vec<u8>,
    /// The digit of each image, 0..9.
    labels: Vec<u8>,
    path: PathBuf,
}

impl SvhnDataset {
    /// Reads one `*_32x32.mat` file (train, test or extra).
    pub fn open(path: &Path) -> Result<SvhnDataset> {
        let mut file = MatFile::open_only(path, &["X", "y"])?;
        let found: Vec<String> = file.arrays.iter().map(|a| a.name.clone()).collect();
        let missing = |name: &str, what: &str| Error::bad_data(path, format!("no variable '{name}' ({what}); the file holds {found:?}"));
        let x = file.remove("X").ok_or_else(|| missing("X", "the images"))?;
        let y = file.remove("y").ok_or_else(|| missing("y", "the labels"))?;

        // MATLAB drops trailing singleton dimensions: a file of one image has X of 32x32x3.
        let count = match x.dims.as_slice() {
            [SIDE, SIDE, 3] => 1,
            &[SIDE, SIDE, 3, n] => n,
            other => {
                return Err(Error::bad_data(path, format!("X is {}, expected 32x32x3xN", dims_text(other))));
            }
        };
        let pixels =
            numeric(path, x)?.into_u8().ok_or_else(|| Error::bad_data(path, "X holds values that are not whole numbers in 0..=255"))?;

        let label_count = match y.dims.as_slice() {
            &[n, 1] | &[1, n] => n,
            other => return Err(Error::bad_data(path, format!("y is {}, expected Nx1", dims_text(other)))),
        };
        if label_count != count {
            return Err(Error::bad_data(path, format!("y holds {label_count} labels, but X holds {count} images")));
        }
        let y_values = numeric(path, y)?;
        let mut labels = Vec::with_capacity(count);
        for index in 0..count {
            // `get_f64` cannot miss: the reader checked the value count against the dimensions.
            let value = y_values.get_f64(index).unwrap_or(f64::NAN);
            if value.fract() != 0.0 || !(1.0..=10.0).contains(&value) {
                return Err(Error::bad_data(path, format!("label {index} is {value}, outside the labels 1..=10")));
            }
            // Label 10 is the digit 0.
            labels.push(value as u8 % 10);
        }
        Ok(SvhnDataset { pixels, labels, path: path.to_path_buf() })
    }

    /// `train_32x32.mat` or `test_32x32.mat` in `dir`. (The extra set is read with
    /// [`SvhnDataset::open`] on `extra_32x32.mat`.)
    pub fn open_split(dir: &Path, split: Split) -> Result<SvhnDataset> {
        let name = match split {
            Split::Train => "train_32x32.mat",
            Split::Test => "test_32x32.mat",
        };
        Self::open(&dir.join(name))
    }

    /// The digit of each image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// How many images show each digit 0..9.
    pub fn class_counts(&self) -> Vec<usize> {
        super::count_labels(&self.labels, NUM_CLASSES)
    }
}

impl Dataset for SvhnDataset {
    type Target = ClassLabel;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
        let Some(&label) = self.labels.get(index) else {
            return Err(index_error(&self.path.display().to_string(), index, self.labels.len()));
        };
        let stored = &self.pixels[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES];
        // Each stored plane is column-major (w outer, h inner); ImageU8 wants rows.
        let mut chw = vec![0u8; IMAGE_BYTES];
        for (out_plane, in_plane) in chw.chunks_exact_mut(SIDE * SIDE).zip(stored.chunks_exact(SIDE * SIDE)) {
            for (w, column) in in_plane.chunks_exact(SIDE).enumerate() {
                for (h, &value) in column.iter().enumerate() {
                    out_plane[h * SIDE + w] = value;
                }
            }
        }
        Ok(Sample { image: ImageU8::from_chw(3, SIDE, SIDE, chw), target: ClassLabel::from(label) })
    }
}

/// The values of a numeric, real array, or an error saying what the variable is instead.
fn numeric(path: &Path, array: MatArray) -> Result<super::mat5::MatValues> {
    let (name, class, complex) = (array.name.clone(), array.class, array.complex);
    array.values.ok_or_else(|| {
        let kind = if complex { "a complex".to_string() } else { format!("a {class:?}") };
        Error::bad_data(path, format!("{name} is {kind} array, expected real numbers"))
    })
}

/// MATLAB's way of writing a size: `32x32x3x10`.
fn dims_text(dims: &[usize]) -> String {
    dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
}

#[cfg(test)]
mod tests {
    use super::super::mat5::tests::{compressed, doubles, matrix, write_mat, CLASS_DOUBLE, CLASS_UINT8};
    use super::*;

    /// MAT-file element types used here.
    const MI_UINT8: u32 = 2;
    const MI_DOUBLE: u32 = 9;

    /// The pixel of image `n` at channel `c`, row `h`, column `w`: distinct along each axis.
    fn value(n: usize, c: usize, h: usize, w: usize) -> u8 {
        (n * 11 + c * 80 + h * 3 + w * 7) as u8
    }

    /// `X` in MATLAB order: `X(h, w, c, n)` at `h + 32 * (w + 32 * (c + 3 * n))`.
    fn x_bytes(count: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; count * IMAGE_BYTES];
        for n in 0..count {
            for c in 0..3 {
                for w in 0..SIDE {
                    for h in 0..SIDE {
                        bytes[h + SIDE * (w + SIDE * (c + 3 * n))] = value(n, c, h, w);
                    }
                }
            }
        }
        bytes
    }

    fn x_matrix(count: usize) -> Vec<u8> {
        matrix("X", CLASS_UINT8, &[32, 32, 3, count as i32], MI_UINT8, &x_bytes(count))
    }

    /// `y` as MATLAB saves it: a double array, stored as bytes when the values allow.
    fn y_as_bytes(labels: &[u8]) -> Vec<u8> {
        matrix("y", CLASS_DOUBLE, &[labels.len() as i32, 1], MI_UINT8, labels)
    }

    fn y_as_doubles(labels: &[f64]) -> Vec<u8> {
        matrix("y", CLASS_DOUBLE, &[labels.len() as i32, 1], MI_DOUBLE, &doubles(labels))
    }

    fn open_error(elements: &[Vec<u8>]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write_mat(dir.path(), "broken_32x32.mat", elements);
        SvhnDataset::open(&path).unwrap_err().to_string()
    }

    fn assert_images(data: &SvhnDataset) {
        for n in 0..data.len() {
            let image = data.get(n).unwrap().image;
            assert_eq!((image.channels(), image.height(), image.width()), (3, 32, 32));
            for (c, h, w) in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 7, 30), (2, 31, 2), (2, 31, 31)] {
                assert_eq!(image.at(c, h, w), value(n, c, h, w), "image {n} at ({c}, {h}, {w})");
            }
        }
    }

    #[test]
    fn reads_plain_file_with_byte_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_mat(dir.path(), "train_32x32.mat", &[x_matrix(3), y_as_bytes(&[10, 1, 9])]);
        let data = SvhnDataset::open(&path).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.labels(), &[0, 1, 9]);
        assert_eq!(data.get(0).unwrap().target, 0);
        assert_eq!(data.get(2).unwrap().target, 9);
        assert_eq!(data.class_counts(), vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_images(&data);
        let message = data.get(3).unwrap_err().to_string();
        assert!(message.contains("train_32x32.mat") && message.contains("sample 3"), "{message}");
    }

    #[test]
    fn reads_compressed_file_with_double_labels() {
        let dir = tempfile::tempdir().unwrap();
        // y first, X last, and an unrelated variable between: order does not matter.
        let other = matrix("note", CLASS_DOUBLE, &[1, 1], MI_DOUBLE, &doubles(&[3.0]));
        write_mat(dir.path(), "test_32x32.mat", &[compressed(&y_as_doubles(&[4.0, 10.0])), compressed(&other), compressed(&x_matrix(2))]);
        let data = SvhnDataset::open_split(dir.path(), Split::Test).unwrap();
        assert_eq!(data.labels(), &[4, 0]);
        assert_images(&data);
    }

    #[test]
    fn reads_a_single_image_file() {
        // MATLAB drops the trailing 1 of X's 32x32x3x1.
        let x = matrix("X", CLASS_UINT8, &[32, 32, 3], MI_UINT8, &x_bytes(1));
        let dir = tempfile::tempdir().unwrap();
        let path = write_mat(dir.path(), "one.mat", &[x, y_as_bytes(&[5])]);
        let data = SvhnDataset::open(&path).unwrap();
        assert_eq!((data.len(), data.labels()), (1, &[5u8][..]));
        assert_images(&data);
    }

    #[test]
    fn missing_variables_are_reported() {
        let message = open_error(&[y_as_bytes(&[1])]);
        assert!(message.contains("broken_32x32.mat") && message.contains("no variable 'X'"), "{message}");
        assert!(message.contains("[\"y\"]"), "{message}");
        let message = open_error(&[x_matrix(1)]);
        assert!(message.contains("broken_32x32.mat") && message.contains("no variable 'y'"), "{message}");
    }

    #[test]
    fn wrong_dimensions_are_reported() {
        let x = matrix("X", CLASS_UINT8, &[32, 3, 32, 1], MI_UINT8, &x_bytes(1));
        let message = open_error(&[x, y_as_bytes(&[1])]);
        assert!(message.contains("broken_32x32.mat"), "{message}");
        assert!(message.contains("X is 32x3x32x1, expected 32x32x3xN"), "{message}");
        let y = matrix("y", CLASS_DOUBLE, &[1, 1, 1], MI_UINT8, &[1]);
        let message = open_error(&[x_matrix(1), y]);
        assert!(message.contains("y is 1x1x1, expected Nx1"), "{message}");
    }

    #[test]
    fn count_mismatch_is_reported() {
        let message = open_error(&[x_matrix(2), y_as_bytes(&[1, 2, 3])]);
        assert!(message.contains("broken_32x32.mat"), "{message}");
        assert!(message.contains("y holds 3 labels, but X holds 2 images"), "{message}");
    }

    #[test]
    fn labels_outside_1_to_10_are_reported() {
        let message = open_error(&[x_matrix(2), y_as_bytes(&[3, 0])]);
        assert!(message.contains("broken_32x32.mat") && message.contains("label 1 is 0, outside"), "{message}");
        let message = open_error(&[x_matrix(2), y_as_doubles(&[2.5, 1.0])]);
        assert!(message.contains("label 0 is 2.5"), "{message}");
        let message = open_error(&[x_matrix(2), y_as_doubles(&[1.0, 11.0])]);
        assert!(message.contains("label 1 is 11"), "{message}");
    }

    #[test]
    fn x_of_the_wrong_kind_is_reported() {
        // Pixels saved as doubles with a fraction cannot be bytes.
        let mut pixels = vec![1.0; IMAGE_BYTES];
        pixels[5] = 0.5;
        let x = matrix("X", CLASS_DOUBLE, &[32, 32, 3, 1], MI_DOUBLE, &doubles(&pixels));
        let message = open_error(&[x, y_as_bytes(&[1])]);
        assert!(message.contains("X holds values that are not whole numbers in 0..=255"), "{message}");
    }

    #[test]
    fn truncated_file_is_reported() {
        let mut x = compressed(&x_matrix(2));
        x.truncate(x.len() / 2);
        let message = open_error(&[y_as_bytes(&[1, 2]), x]);
        assert!(message.contains("broken_32x32.mat") && message.contains("truncated"), "{message}");
    }

    #[test]
    fn bad_header_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_32x32.mat");
        std::fs::write(&path, [b"MATLAB 7.3 MAT-file".to_vec(), vec![0; 600]].concat()).unwrap();
        let message = SvhnDataset::open_split(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("train_32x32.mat") && message.contains("MATLAB 7.3"), "{message}");
    }
}
