//! CIFAR-10 and CIFAR-100, python version: the layout torchvision downloads and reads
//! (Krizhevsky 2009, <https://www.cs.toronto.edu/~kriz/cifar.html>).
//!
//! - CIFAR-10: `cifar-10-batches-py/data_batch_1` .. `data_batch_5` (10000 images each) and
//!   `test_batch`; each a pickled dict with `b"data"` and `b"labels"` (0..9).
//! - CIFAR-100: `cifar-100-python/train` (50000) and `test` (10000); each a pickled dict
//!   with `b"data"`, `b"fine_labels"` (0..99) and `b"coarse_labels"` (0..19).
//!
//! The files were written by Python 2's `cPickle` (protocol 2), so the keys are byte
//! strings; keys pickled as text (a file re-pickled by Python 3) are accepted too. `data` is
//! a `uint8` numpy array of N x 3072: per image the red, green and blue 32x32 planes, each
//! row-major, which is already the CHW layout of [`ImageU8`](crate::ImageU8). numpy pickles
//! an array as `numpy.core.multiarray._reconstruct(ndarray, (0,), b"b")` followed by a
//! `BUILD` with the state `(version, shape, dtype, is_fortran, raw bytes)`; this reader
//! takes the shape and the raw bytes from that state (numpy is not needed), and also reads
//! the protocol-5 form `numpy.core.numeric._frombuffer(buffer, dtype, shape, order)`.
//! The labels are lists of ints. Both label lists of CIFAR-100 are range-checked whichever
//! one is the target (as the binary reader does), the other one only when present.
//!
//! The result is a [`CifarDataset`], the same type the binary reader returns.

use std::collections::BTreeMap;
use std::path::Path;

use serde_pickle::{DeOptions, HashableValue, Value};

use crate::cifar::{resolve_folder, Cifar100Labels, CifarDataset, IMAGE_BYTES};
use crate::{Error, Result, Split};

/// The folder torchvision extracts CIFAR-10's python version to.
pub const CIFAR10_FOLDER: &str = "cifar-10-batches-py";
/// The folder torchvision extracts CIFAR-100's python version to.
pub const CIFAR100_FOLDER: &str = "cifar-100-python";

/// A label list: its key and the number of classes.
type LabelKey = (&'static str, usize);

const CIFAR10_LABELS: LabelKey = ("labels", 10);
const CIFAR100_FINE: LabelKey = ("fine_labels", 100);
const CIFAR100_COARSE: LabelKey = ("coarse_labels", 20);

impl CifarDataset {
    /// CIFAR-10, python version: the five `data_batch_*` files or `test_batch`. `dir` is
    /// `cifar-10-batches-py` or the folder that holds it.
    pub fn cifar10_pickle(dir: &Path, split: Split) -> Result<CifarDataset> {
        let files: &[&str] = match split {
            Split::Train => &["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"],
            Split::Test => &["test_batch"],
        };
        read(dir, CIFAR10_FOLDER, files, CIFAR10_LABELS, None)
    }

    /// CIFAR-100, python version: `train` or `test`, with the fine or the coarse label as
    /// target. `dir` is `cifar-100-python` or the folder that holds it.
    pub fn cifar100_pickle(dir: &Path, split: Split, labels: Cifar100Labels) -> Result<CifarDataset> {
        let file = match split {
            Split::Train => "train",
            Split::Test => "test",
        };
        let (target, other) = match labels {
            Cifar100Labels::Fine => (CIFAR100_FINE, CIFAR100_COARSE),
            Cifar100Labels::Coarse => (CIFAR100_COARSE, CIFAR100_FINE),
        };
        read(dir, CIFAR100_FOLDER, &[file], target, Some(other))
    }
}

fn read(dir: &Path, folder: &str, files: &[&str], target: LabelKey, other: Option<LabelKey>) -> Result<CifarDataset> {
    let folder = resolve_folder(dir, folder, files[0]);
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for name in files {
        let path = folder.join(name);
        let batch = read_batch(&path, target, other)?;
        pixels.extend_from_slice(&batch.pixels);
        labels.extend_from_slice(&batch.labels);
    }
    Ok(CifarDataset::from_parts(pixels, labels, target.1, folder))
}

/// The images and target labels of one file.
struct Batch {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

fn read_batch(path: &Path, target: LabelKey, other: Option<LabelKey>) -> Result<Batch> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // keep_restore_state: a reduced object (the numpy array) keeps its arguments and its
    // BUILD state instead of becoming an empty dict; replace_unresolved_globals: the numpy
    // classes named in the file become None rather than an error.
    let options = DeOptions::new().keep_restore_state().replace_unresolved_globals();
    let value =
        serde_pickle::value_from_slice(&bytes, options).map_err(|e| Error::bad_data(path, format!("not a readable pickle: {e}")))?;
    let Value::Dict(dict) = value else {
        return Err(Error::bad_data(path, format!("expected a pickled dict, found {}", kind(&value))));
    };
    let data = entry(&dict, "data").ok_or_else(|| missing_key(path, "data", &dict))?;
    let (rows, pixels) = image_rows(data).map_err(|fault| Error::bad_data(path, format!("b\"data\": {fault}")))?;
    let labels = label_list(path, &dict, target, rows)?.ok_or_else(|| missing_key(path, target.0, &dict))?;
    if let Some(other) = other {
        label_list(path, &dict, other, rows)?;
    }
    Ok(Batch { pixels, labels })
}

/// The value under `key`, pickled as bytes (Python 2) or as text (Python 3).
fn entry<'a>(dict: &'a BTreeMap<HashableValue, Value>, key: &str) -> Option<&'a Value> {
    dict.get(&HashableValue::Bytes(key.as_bytes().to_vec())).or_else(|| dict.get(&HashableValue::String(key.to_owned())))
}

fn missing_key(path: &Path, key: &str, dict: &BTreeMap<HashableValue, Value>) -> Error {
    let keys: Vec<String> = dict
        .keys()
        .map(|k| match k {
            HashableValue::Bytes(b) => format!("b\"{}\"", b.escape_ascii()),
            HashableValue::String(s) => format!("{s:?}"),
            other => format!("{other}"),
        })
        .collect();
    Error::bad_data(path, format!("no key b\"{key}\" in the pickled dict (its keys: {})", keys.join(", ")))
}

/// The labels under `key`, checked against the number of classes and the number of
/// images; `None` when the key is absent.
fn label_list(path: &Path, dict: &BTreeMap<HashableValue, Value>, (key, classes): LabelKey, rows: usize) -> Result<Option<Vec<u8>>> {
    let Some(value) = entry(dict, key) else {
        return Ok(None);
    };
    let items = match value {
        Value::List(items) | Value::Tuple(items) => items,
        other => return Err(Error::bad_data(path, format!("b\"{key}\": expected a list of ints, found {}", kind(other)))),
    };
    if items.len() != rows {
        return Err(Error::bad_data(path, format!("b\"{key}\" holds {} labels, but b\"data\" holds {rows} images", items.len())));
    }
    let mut labels = Vec::with_capacity(rows);
    for (index, item) in items.iter().enumerate() {
        let label = match item {
            Value::I64(v) => *v,
            other => return Err(Error::bad_data(path, format!("b\"{key}\"[{index}]: expected an int, found {}", kind(other)))),
        };
        match u8::try_from(label) {
            Ok(label) if usize::from(label) < classes => labels.push(label),
            _ => return Err(Error::bad_data(path, format!("b\"{key}\"[{index}]: label {label} is out of range 0..{classes}"))),
        }
    }
    Ok(Some(labels))
}

/// The number of images and the pixel bytes of the pickled `uint8` array N x 3072.
fn image_rows(value: &Value) -> std::result::Result<(usize, Vec<u8>), String> {
    let (shape, dtype, raw) = ndarray_parts(value)?;
    let (rows, columns) = match shape.as_slice() {
        &[rows, columns] => (rows, columns),
        other => return Err(format!("expected a 2-D array N x {IMAGE_BYTES}, found shape {other:?}")),
    };
    if columns != IMAGE_BYTES {
        return Err(format!("expected {IMAGE_BYTES} values per image (3x32x32), found shape [{rows}, {columns}]"));
    }
    if rows == 0 {
        return Err("the array holds no images".to_owned());
    }
    // numpy's dtype state is (version, byte order, ...): '|' for 1-byte types, '<' or '>'
    // for wider ones. Missing or unrecognised state leaves the length check to decide.
    if let Some(order) = dtype_byte_order(dtype) {
        if order != "|" {
            return Err(format!("expected uint8 values, found a dtype of byte order {order:?} (wider than one byte)"));
        }
    }
    let expected = rows * IMAGE_BYTES;
    if raw.len() != expected {
        return Err(format!("shape [{rows}, {IMAGE_BYTES}] needs {expected} bytes of uint8 data, the payload holds {}", raw.len()));
    }
    Ok((rows, raw.to_vec()))
}

/// Shape, dtype and raw bytes of a pickled numpy array, in either of numpy's forms:
/// - the `BUILD` state of `_reconstruct`: `(version, shape, dtype, is_fortran, raw)`;
/// - the arguments of protocol 5's `_frombuffer`: `(buffer, dtype, shape, order)`.
fn ndarray_parts(value: &Value) -> std::result::Result<(Vec<usize>, &Value, &[u8]), String> {
    let not_array = || format!("expected a pickled numpy array, found {}", kind(value));
    let Value::Tuple(parts) = value else {
        return Err(not_array());
    };
    match parts.as_slice() {
        [Value::I64(_), shape, dtype, Value::Bool(fortran), Value::Bytes(raw)] => {
            if *fortran {
                return Err("a Fortran-ordered array (column-major), expected C order".to_owned());
            }
            Ok((dims(shape)?, dtype, raw))
        }
        [Value::Bytes(raw), dtype, shape, order] => {
            let order = match order {
                Value::String(s) => s.clone(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            if order != "C" {
                return Err(format!("array order {order:?}, expected \"C\""));
            }
            Ok((dims(shape)?, dtype, raw))
        }
        [_, _, _, _, Value::List(_)] => Err("an object array (Python objects, not raw bytes)".to_owned()),
        _ => Err(not_array()),
    }
}

fn dims(shape: &Value) -> std::result::Result<Vec<usize>, String> {
    let Value::Tuple(items) = shape else {
        return Err(format!("array shape is {}, expected a tuple", kind(shape)));
    };
    items
        .iter()
        .map(|item| match item {
            Value::I64(d) => usize::try_from(*d).map_err(|_| format!("negative array dimension {d}")),
            other => Err(format!("array dimension is {}, expected an int", kind(other))),
        })
        .collect()
}

/// The byte-order character of a numpy dtype's pickled state, when it has one.
fn dtype_byte_order(dtype: &Value) -> Option<String> {
    let Value::Tuple(state) = dtype else {
        return None;
    };
    match state.get(1)? {
        Value::String(s) => Some(s.clone()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// What a pickled value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::I64(_) | Value::Int(_) => "an int",
        Value::F64(_) => "a float",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "a str",
        Value::List(_) => "a list",
        Value::Tuple(_) => "a tuple",
        Value::Set(_) | Value::FrozenSet(_) => "a set",
        Value::Dict(_) => "a dict",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Pickles written opcode by opcode as Python 2's cPickle (protocol 2) writes the files
    //! torchvision downloads: a memoised dict of SHORT_BINSTRING keys, the numpy array as
    //! `_reconstruct` + `BUILD`, labels as a list of small ints.

    use std::path::PathBuf;

    use super::*;
    use crate::{ClassLabel, Dataset};

    /// A protocol-2 pickle under construction.
    pub(crate) struct Pickle {
        bytes: Vec<u8>,
        memo: u8,
        /// Keys and text as Python 3 writes them (BINUNICODE) instead of Python 2's str.
        text_keys: bool,
    }

    impl Pickle {
        pub(crate) fn new(text_keys: bool) -> Pickle {
            Pickle { bytes: vec![0x80, 2], memo: 0, text_keys }
        }

        fn op(&mut self, bytes: &[u8]) -> &mut Self {
            self.bytes.extend_from_slice(bytes);
            self
        }

        /// BINPUT, as cPickle does after nearly every object.
        fn put(&mut self) -> &mut Self {
            self.memo += 1;
            let memo = self.memo;
            self.op(&[b'q', memo])
        }

        fn global(&mut self, module: &str, name: &str) -> &mut Self {
            self.op(format!("c{module}\n{name}\n").as_bytes()).put()
        }

        /// A Python 2 str (bytes): SHORT_BINSTRING or BINSTRING.
        fn str2(&mut self, s: &[u8]) -> &mut Self {
            if s.len() < 256 {
                self.op(&[b'U', s.len() as u8]);
            } else {
                self.op(b"T").op(&(s.len() as u32).to_le_bytes());
            }
            self.op(s).put()
        }

        fn key(&mut self, key: &str) -> &mut Self {
            if self.text_keys {
                self.op(b"X").op(&(key.len() as u32).to_le_bytes()).op(key.as_bytes()).put()
            } else {
                self.str2(key.as_bytes())
            }
        }

        fn int(&mut self, v: i64) -> &mut Self {
            match v {
                0..=255 => self.op(&[b'K', v as u8]),
                256..=65535 => self.op(b"M").op(&(v as u16).to_le_bytes()),
                _ => self.op(b"J").op(&(v as i32).to_le_bytes()),
            }
        }

        /// numpy's dtype('u1') (or another 1-letter-code type, with its byte order).
        fn dtype(&mut self, code: &[u8], order: &[u8]) -> &mut Self {
            self.global("numpy", "dtype").str2(code).int(0).int(1).op(&[0x87, b'R']).put();
            self.op(b"(").int(3).str2(order).op(b"NNN").int(-1).int(-1).int(0).op(b"tb")
        }

        /// A C-ordered array of `shape` whose raw data is `raw`, as numpy 1.x pickles it.
        pub(crate) fn ndarray(&mut self, shape: &[i64], raw: &[u8], dtype: &[u8], order: &[u8]) -> &mut Self {
            self.global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
            self.int(0).op(&[0x85]).str2(b"b").op(&[0x87, b'R']).put();
            self.op(b"(").int(1);
            for &d in shape {
                self.int(d);
            }
            self.op(match shape.len() {
                1 => &[0x85],
                2 => &[0x86],
                _ => panic!("1-D or 2-D"),
            });
            self.dtype(dtype, order).op(&[0x89]).str2(raw).op(b"tb")
        }

        pub(crate) fn labels(&mut self, labels: &[i64]) -> &mut Self {
            self.op(b"]").put().op(b"(");
            for &label in labels {
                self.int(label);
            }
            self.op(b"e")
        }

        /// `{key: value, ...}` with the values written by `items`, then STOP.
        pub(crate) fn dict(mut self, items: impl FnOnce(&mut Pickle)) -> Vec<u8> {
            self.op(b"}").put().op(b"(");
            items(&mut self);
            self.op(b"u.");
            self.bytes
        }
    }

    /// `n` images whose pixel at (c, y, x) of image i is `seed + i + 100 c + y + x` (mod 256).
    pub(crate) fn images(n: usize, seed: u8) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(n * IMAGE_BYTES);
        for i in 0..n {
            for c in 0..3u8 {
                for y in 0..32u8 {
                    for x in 0..32u8 {
                        bytes.push(seed.wrapping_add(i as u8).wrapping_add(100 * c).wrapping_add(y).wrapping_add(x));
                    }
                }
            }
        }
        bytes
    }

    /// A CIFAR-10 batch file as the real ones are laid out (batch_label, labels, data,
    /// filenames).
    pub(crate) fn cifar10_batch(labels: &[i64], seed: u8) -> Vec<u8> {
        let pixels = images(labels.len(), seed);
        Pickle::new(false).dict(|p| {
            p.key("batch_label").str2(b"training batch 1 of 5");
            p.key("labels").labels(labels);
            p.key("data").ndarray(&[labels.len() as i64, 3072], &pixels, b"u1", b"|");
            p.key("filenames").op(b"]").put().op(b"(");
            for i in 0..labels.len() {
                p.str2(format!("image_{i}.png").as_bytes());
            }
            p.op(b"e");
        })
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A complete `cifar-10-batches-py`: batch `b` holds images labelled `b` and `9 - b`.
    fn cifar10_folder(dir: &Path) {
        for b in 1..=5u8 {
            write(dir, &format!("data_batch_{b}"), &cifar10_batch(&[i64::from(b), i64::from(9 - b)], 10 * b));
        }
        write(dir, "test_batch", &cifar10_batch(&[3], 7));
    }

    fn error_of(bytes: &[u8]) -> String {
        let root = tempfile::tempdir().unwrap();
        cifar10_folder(root.path());
        write(root.path(), "test_batch", bytes);
        CifarDataset::cifar10_pickle(root.path(), Split::Test).unwrap_err().to_string()
    }

    #[test]
    fn reads_cifar10_python_train_and_test() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join(CIFAR10_FOLDER);
        cifar10_folder(&folder);
        let train = CifarDataset::cifar10_pickle(root.path(), Split::Train).unwrap();
        assert_eq!((train.len(), train.num_classes()), (10, 10));
        assert_eq!(train.labels(), &[1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
        let sample = train.get(3).unwrap();
        assert_eq!(sample.target, 7 as ClassLabel);
        assert_eq!((sample.image.channels(), sample.image.height(), sample.image.width()), (3, 32, 32));
        // Image 3 is the second of batch 2: seed 20, index 1 in its file.
        assert_eq!(sample.image.at(0, 0, 0), 21);
        assert_eq!(sample.image.at(1, 2, 5), 21 + 100 + 2 + 5);
        assert_eq!(sample.image.at(2, 31, 31), (21u32 + 200 + 62) as u8);
        let test = CifarDataset::cifar10_pickle(&folder, Split::Test).unwrap();
        assert_eq!((test.len(), test.get(0).unwrap().target), (1, 3));
    }

    #[test]
    fn python_and_binary_versions_give_the_same_samples() {
        let root = tempfile::tempdir().unwrap();
        let labels = [0i64, 9, 4];
        let pixels = images(3, 5);
        write(root.path(), "test_batch", &cifar10_batch(&labels, 5));
        let records: Vec<u8> =
            labels.iter().zip(pixels.chunks(IMAGE_BYTES)).flat_map(|(&l, image)| [&[l as u8][..], image].concat()).collect();
        write(root.path(), "test_batch.bin", &records);
        let pickled = CifarDataset::cifar10_pickle(root.path(), Split::Test).unwrap();
        let binary = CifarDataset::cifar10(root.path(), Split::Test).unwrap();
        assert_eq!(pickled.len(), binary.len());
        for i in 0..3 {
            assert_eq!(pickled.get(i).unwrap(), binary.get(i).unwrap());
        }
    }

    #[test]
    fn reads_cifar100_python_fine_and_coarse_with_text_keys() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join(CIFAR100_FOLDER);
        for (name, text_keys) in [("train", false), ("test", true)] {
            let bytes = Pickle::new(text_keys).dict(|p| {
                p.key("filenames").labels(&[]);
                p.key("fine_labels").labels(&[99, 42, 0]);
                p.key("coarse_labels").labels(&[19, 3, 0]);
                p.key("data").ndarray(&[3, 3072], &images(3, 1), b"u1", b"|");
            });
            write(&folder, name, &bytes);
        }
        let fine = CifarDataset::cifar100_pickle(root.path(), Split::Train, Cifar100Labels::Fine).unwrap();
        assert_eq!((fine.len(), fine.num_classes(), fine.labels()), (3, 100, &[99u8, 42, 0][..]));
        assert_eq!(fine.get(1).unwrap().image.at(0, 0, 1), 3);
        let coarse = CifarDataset::cifar100_pickle(&folder, Split::Test, Cifar100Labels::Coarse).unwrap();
        assert_eq!((coarse.num_classes(), coarse.labels()), (20, &[19u8, 3, 0][..]));
    }

    #[test]
    fn reads_the_protocol_5_array_form() {
        let root = tempfile::tempdir().unwrap();
        let pixels = images(2, 9);
        let bytes = Pickle::new(true).dict(|p| {
            p.key("labels").labels(&[1, 2]);
            p.key("data");
            // _frombuffer(bytearray, dtype, shape, 'C'): MARK + 4 items + TUPLE, REDUCE.
            p.global("numpy.core.numeric", "_frombuffer").op(b"(");
            p.op(&[0x96]).op(&(pixels.len() as u64).to_le_bytes()).op(&pixels);
            p.dtype(b"u1", b"|").int(2).int(3072).op(&[0x86]).op(b"X\x01\x00\x00\x00C").op(b"tR");
        });
        write(root.path(), "test_batch", &bytes);
        let test = CifarDataset::cifar10_pickle(root.path(), Split::Test).unwrap();
        assert_eq!(test.labels(), &[1, 2]);
        assert_eq!(test.get(1).unwrap().image.as_slice(), &pixels[IMAGE_BYTES..]);
    }

    #[test]
    fn truncated_pickle_names_the_file() {
        let mut bytes = cifar10_batch(&[1, 2], 0);
        bytes.truncate(bytes.len() / 2);
        let message = error_of(&bytes);
        assert!(message.contains("test_batch") && message.contains("not a readable pickle"), "{message}");
        let message = error_of(b"");
        assert!(message.contains("test_batch") && message.contains("not a readable pickle"), "{message}");
        let message = error_of(b"this is not a pickle at all");
        assert!(message.contains("test_batch") && message.contains("not a readable pickle"), "{message}");
    }

    #[test]
    fn missing_keys_are_named() {
        let no_labels = Pickle::new(false).dict(|p| {
            p.key("data").ndarray(&[1, 3072], &images(1, 0), b"u1", b"|");
            p.key("fine_labels").labels(&[1]);
        });
        let message = error_of(&no_labels);
        assert!(message.contains("test_batch") && message.contains("no key b\"labels\""), "{message}");
        assert!(message.contains("(its keys: b\"data\", b\"fine_labels\")"), "the keys found are listed: {message}");
        let no_data = Pickle::new(false).dict(|p| {
            p.key("labels").labels(&[1]);
        });
        let message = error_of(&no_data);
        assert!(message.contains("no key b\"data\""), "{message}");
        // A pickle that is not a dict at all.
        let message = error_of(&[0x80, 2, b']', b'.']);
        assert!(message.contains("expected a pickled dict, found a list"), "{message}");
    }

    #[test]
    fn wrong_data_length_and_shape_are_reported() {
        let short = Pickle::new(false).dict(|p| {
            p.key("labels").labels(&[1, 2]);
            p.key("data").ndarray(&[2, 3072], &images(1, 0), b"u1", b"|");
        });
        let message = error_of(&short);
        assert!(message.contains("test_batch") && message.contains("needs 6144 bytes"), "{message}");
        assert!(message.contains("payload holds 3072"), "{message}");
        let wrong_shape = Pickle::new(false).dict(|p| {
            p.key("labels").labels(&[1, 2]);
            p.key("data").ndarray(&[3, 2048], &images(2, 0), b"u1", b"|");
        });
        let message = error_of(&wrong_shape);
        assert!(message.contains("expected 3072 values per image") && message.contains("[3, 2048]"), "{message}");
        let floats = Pickle::new(false).dict(|p| {
            p.key("labels").labels(&[1]);
            p.key("data").ndarray(&[1, 3072], &images(1, 0), b"f4", b"<");
        });
        let message = error_of(&floats);
        assert!(message.contains("expected uint8 values"), "{message}");
        let not_array = Pickle::new(false).dict(|p| {
            p.key("labels").labels(&[1]);
            p.key("data").labels(&[1, 2, 3]);
        });
        let message = error_of(&not_array);
        assert!(message.contains("b\"data\": expected a pickled numpy array, found a list"), "{message}");
    }

    #[test]
    fn label_count_and_range_are_checked() {
        let count = Pickle::new(false).dict(|p| {
            p.key("labels").labels(&[1, 2, 3]);
            p.key("data").ndarray(&[2, 3072], &images(2, 0), b"u1", b"|");
        });
        let message = error_of(&count);
        assert!(message.contains("test_batch") && message.contains("holds 3 labels, but b\"data\" holds 2 images"), "{message}");
        let message = error_of(&cifar10_batch(&[0, 10], 0));
        assert!(message.contains("test_batch") && message.contains("b\"labels\"[1]: label 10 is out of range 0..10"), "{message}");
        let message = error_of(&cifar10_batch(&[-1], 0));
        assert!(message.contains("label -1 is out of range"), "{message}");
        // CIFAR-100: the coarse list is checked when the fine one is the target.
        let root = tempfile::tempdir().unwrap();
        let bytes = Pickle::new(false).dict(|p| {
            p.key("fine_labels").labels(&[5]);
            p.key("coarse_labels").labels(&[20]);
            p.key("data").ndarray(&[1, 3072], &images(1, 0), b"u1", b"|");
        });
        write(root.path(), "test", &bytes);
        let message = CifarDataset::cifar100_pickle(root.path(), Split::Test, Cifar100Labels::Fine).unwrap_err().to_string();
        assert!(message.contains("b\"coarse_labels\"[0]: label 20 is out of range 0..20"), "{message}");
    }

    #[test]
    fn missing_batch_is_named() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join(CIFAR10_FOLDER);
        cifar10_folder(&folder);
        std::fs::remove_file(folder.join("data_batch_3")).unwrap();
        let message = CifarDataset::cifar10_pickle(root.path(), Split::Train).unwrap_err().to_string();
        assert!(message.contains("cifar-10-batches-py/data_batch_3"), "{message}");
    }
}
