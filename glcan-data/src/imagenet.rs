//! The ImageNet (ILSVRC-2012) validation set as unpacked from `ILSVRC2012_img_val.tar`: one
//! flat folder `val/ILSVRC2012_val_00000001.JPEG` .. `ILSVRC2012_val_00050000.JPEG`, labelled
//! by the development kit `ILSVRC2012_devkit_t12` (Russakovsky et al. 2015,
//! <https://arxiv.org/abs/1409.0575>):
//!
//! - `data/ILSVRC2012_validation_ground_truth.txt`: one ILSVRC2012_ID (1..1000) per line, the
//!   label of the images in file-name order;
//! - `data/meta.mat`: the struct array `synsets` with fields `ILSVRC2012_ID`, `WNID` and
//!   `num_children` (among others); the 1000 classes are the leaf synsets (no children).
//!
//! The class index is torchvision's: the position of the WNID among the sorted WNIDs of the
//! leaf synsets, which is also the index [`ImageFolder`] gives the training set's sorted
//! class folders (ILSVRC2012_ID order is a different one). Samples come in the order
//! torchvision's `ImageNet(split="val")` gives them once it has sorted the folder into class
//! folders: class-major, by file name within a class. The result is an [`ImageFolder`], the
//! type of the training set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::folder::{has_image_extension, list_dir, ImageFolder};
use crate::mat5::MatFile;
use crate::{ClassLabel, Error, Result};

/// The development kit's folder name.
pub const DEVKIT_FOLDER: &str = "ILSVRC2012_devkit_t12";
/// The ground-truth file, relative to the devkit folder.
pub const GROUND_TRUTH_FILE: &str = "data/ILSVRC2012_validation_ground_truth.txt";
/// The synset table, relative to the devkit folder.
pub const META_FILE: &str = "data/meta.mat";

/// What the devkit says: the WNID of each leaf ILSVRC2012_ID, and the validation labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Devkit {
    /// WNID of each leaf synset, by ILSVRC2012_ID.
    wnid_of_id: HashMap<u32, String>,
    /// The ILSVRC2012_ID of each validation image, in file-name order.
    ground_truth: Vec<u32>,
    /// The ground-truth file, for messages.
    ground_truth_path: PathBuf,
}

impl Devkit {
    /// Reads `devkit/data/meta.mat` and `devkit/data/ILSVRC2012_validation_ground_truth.txt`.
    pub fn open(devkit: &Path) -> Result<Devkit> {
        let meta = devkit.join(META_FILE);
        let wnid_of_id = read_meta(&meta)?;
        let ground_truth_path = devkit.join(GROUND_TRUTH_FILE);
        let text = std::fs::read_to_string(&ground_truth_path).map_err(|e| Error::io(&ground_truth_path, e))?;
        let mut ground_truth = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let id: u32 = line
                .parse()
                .map_err(|_| Error::bad_data(&ground_truth_path, format!("line {}: {line:?} is not an ILSVRC2012_ID", number + 1)))?;
            if !wnid_of_id.contains_key(&id) {
                return Err(Error::bad_data(
                    &ground_truth_path,
                    format!(
                        "line {}: ILSVRC2012_ID {id} is out of range: {} names {} leaf classes",
                        number + 1,
                        meta.display(),
                        wnid_of_id.len()
                    ),
                ));
            }
            ground_truth.push(id);
        }
        if ground_truth.is_empty() {
            return Err(Error::bad_data(&ground_truth_path, "no labels"));
        }
        Ok(Devkit { wnid_of_id, ground_truth, ground_truth_path })
    }

    /// The leaf WNIDs, sorted: class `i` is `classes()[i]`, as in torchvision.
    pub fn classes(&self) -> Vec<String> {
        let mut classes: Vec<String> = self.wnid_of_id.values().cloned().collect();
        classes.sort();
        classes
    }

    /// The WNID of each validation image, in file-name order.
    pub fn validation_wnids(&self) -> Vec<&str> {
        self.ground_truth.iter().map(|id| self.wnid_of_id[id].as_str()).collect()
    }
}

/// The leaf synsets of `meta.mat`: ILSVRC2012_ID -> WNID.
fn read_meta(path: &Path) -> Result<HashMap<u32, String>> {
    let mut file = MatFile::open_only(path, &["synsets"])?;
    let synsets = file.remove("synsets").ok_or_else(|| Error::bad_data(path, "no variable 'synsets'"))?;
    let Some(fields) = synsets.fields else {
        return Err(Error::bad_data(path, format!("'synsets' is a {:?} array, expected a struct array", synsets.class)));
    };
    let number = |index: usize, name: &str| -> Result<f64> {
        fields
            .field(index, name)
            .and_then(|a| a.values.as_ref())
            .filter(|v| v.len() == 1)
            .and_then(|v| v.get_f64(0))
            .ok_or_else(|| Error::bad_data(path, format!("synsets({}).{name}: missing or not a number", index + 1)))
    };
    let mut wnid_of_id = HashMap::new();
    for index in 0..fields.elements.len() {
        if number(index, "num_children")? != 0.0 {
            continue;
        }
        let id = number(index, "ILSVRC2012_ID")?;
        if id.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&id) {
            return Err(Error::bad_data(path, format!("synsets({}).ILSVRC2012_ID is {id}, expected a positive whole number", index + 1)));
        }
        let wnid = fields
            .field(index, "WNID")
            .and_then(|a| a.text.clone())
            .ok_or_else(|| Error::bad_data(path, format!("synsets({}).WNID: missing or not text", index + 1)))?;
        if let Some(before) = wnid_of_id.insert(id as u32, wnid.clone()) {
            return Err(Error::bad_data(path, format!("ILSVRC2012_ID {id} names both {before} and {wnid}")));
        }
    }
    if wnid_of_id.is_empty() {
        return Err(Error::bad_data(path, "'synsets' holds no leaf synset (num_children == 0)"));
    }
    Ok(wnid_of_id)
}

/// The validation set under `root` (which holds `val/` and `ILSVRC2012_devkit_t12/`), with
/// torchvision's classes: the sorted leaf WNIDs.
pub fn open_val(root: &Path) -> Result<ImageFolder> {
    let devkit = Devkit::open(&root.join(DEVKIT_FOLDER))?;
    let classes = devkit.classes();
    label_val(&root.join("val"), &devkit, classes)
}

/// The validation set under `root` with a class list fixed in advance, usually the training
/// set's [`ImageFolder::classes`]; a WNID of the ground truth that is not in `classes` is an
/// error.
pub fn open_val_with_classes(root: &Path, classes: &[impl AsRef<str>]) -> Result<ImageFolder> {
    let devkit = Devkit::open(&root.join(DEVKIT_FOLDER))?;
    let classes: Vec<String> = classes.iter().map(|c| c.as_ref().to_owned()).collect();
    label_val(&root.join("val"), &devkit, classes)
}

fn label_val(val: &Path, devkit: &Devkit, classes: Vec<String>) -> Result<ImageFolder> {
    let index: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let images: Vec<PathBuf> =
        list_dir(val)?.into_iter().map(|(_, path)| path).filter(|path| path.is_file() && has_image_extension(path)).collect();
    let wnids = devkit.validation_wnids();
    if images.len() != wnids.len() {
        return Err(Error::bad_data(
            &devkit.ground_truth_path,
            format!("lists {} labels, but {} holds {} images", wnids.len(), val.display(), images.len()),
        ));
    }
    let mut samples = Vec::with_capacity(images.len());
    for (path, wnid) in images.into_iter().zip(wnids) {
        let Some(&label) = index.get(wnid) else {
            return Err(Error::bad_data(&path, format!("its class {wnid} is not one of the {} given classes", classes.len())));
        };
        samples.push((path, label as ClassLabel));
    }
    // Class-major, by file name within a class: torchvision's order once sorted into folders.
    samples.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(ImageFolder::from_samples(val.to_path_buf(), classes, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mat5::tests::{char_matrix, compressed, doubles, matrix, struct_matrix, write_mat, CLASS_DOUBLE};
    use crate::Dataset;

    const MI_DOUBLE: u32 = 9;
    const MI_UINT16: u32 = 4;

    /// (ILSVRC2012_ID, WNID, num_children) of a small devkit: three leaves whose ID order is
    /// not their WNID order, and one inner synset.
    const SYNSETS: [(f64, &str, f64); 4] =
        [(1.0, "n02119789", 0.0), (2.0, "n01440764", 0.0), (3.0, "n03000000", 0.0), (4.0, "n00001740", 2.0)];

    fn meta(synsets: &[(f64, &str, f64)]) -> Vec<u8> {
        let number = |v: f64| matrix("", CLASS_DOUBLE, &[1, 1], MI_DOUBLE, &doubles(&[v]));
        let elements: Vec<Vec<Vec<u8>>> = synsets
            .iter()
            .map(|&(id, wnid, children)| {
                vec![number(id), char_matrix("", wnid, MI_UINT16), char_matrix("", "some words", MI_UINT16), number(children)]
            })
            .collect();
        compressed(&struct_matrix("synsets", &["ILSVRC2012_ID", "WNID", "words", "num_children"], &elements))
    }

    /// `root/val` with `images` tiny PNGs of grey value 10 i, `root/ILSVRC2012_devkit_t12`
    /// with the ground truth `labels` and the meta.mat of [`SYNSETS`].
    fn imagenet_root(images: usize, labels: &[u32]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let val = root.path().join("val");
        std::fs::create_dir_all(&val).unwrap();
        for i in 1..=images {
            let image = image::RgbImage::from_pixel(3, 2, image::Rgb([10 * i as u8; 3]));
            image.save(val.join(format!("ILSVRC2012_val_{i:08}.PNG"))).unwrap();
        }
        let data = root.path().join(DEVKIT_FOLDER).join("data");
        std::fs::create_dir_all(&data).unwrap();
        let text: String = labels.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(data.join("ILSVRC2012_validation_ground_truth.txt"), text).unwrap();
        write_mat(&data, "meta.mat", &[meta(&SYNSETS)]);
        root
    }

    #[test]
    fn labels_flat_validation_folder_with_sorted_wnids() {
        // Images 1..4 have IDs 1, 2, 3, 1: WNIDs n02119789, n01440764, n03000000, n02119789.
        let root = imagenet_root(4, &[1, 2, 3, 1]);
        let val = open_val(root.path()).unwrap();
        // The inner synset (num_children 2) is not a class; the leaves come in WNID order.
        assert_eq!(val.classes(), ["n01440764", "n02119789", "n03000000"]);
        let listed: Vec<(String, ClassLabel)> =
            val.samples().iter().map(|(path, label)| (path.file_name().unwrap().to_str().unwrap().to_owned(), *label)).collect();
        let name = |i: usize| format!("ILSVRC2012_val_{i:08}.PNG");
        assert_eq!(listed, [(name(2), 0), (name(1), 1), (name(4), 1), (name(3), 2)]);
        // Decoded as the folder reader decodes: RGB at native size.
        let sample = val.get(1).unwrap();
        assert_eq!((sample.target, sample.image.channels(), sample.image.height(), sample.image.width()), (1, 3, 2, 3));
        assert_eq!(sample.image.at(0, 0, 0), 10);
        assert_eq!(val.class_counts(), [1, 2, 1]);
    }

    #[test]
    fn training_classes_fix_the_labels() {
        let root = imagenet_root(2, &[3, 2]);
        let classes = ["n00000001", "n01440764", "n02119789", "n03000000"];
        let val = open_val_with_classes(root.path(), &classes).unwrap();
        assert_eq!(val.samples().iter().map(|s| s.1).collect::<Vec<_>>(), [1, 3]);
        let message = open_val_with_classes(root.path(), &["n01440764"]).unwrap_err().to_string();
        assert!(
            message.contains("ILSVRC2012_val_00000001.PNG") && message.contains("n03000000 is not one of the 1 given classes"),
            "{message}"
        );
    }

    #[test]
    fn missing_ground_truth_is_named() {
        let root = imagenet_root(2, &[1, 2]);
        std::fs::remove_file(root.path().join(DEVKIT_FOLDER).join(GROUND_TRUTH_FILE)).unwrap();
        let message = open_val(root.path()).unwrap_err().to_string();
        assert!(message.contains("ILSVRC2012_validation_ground_truth.txt"), "{message}");
        let root = imagenet_root(2, &[1, 2]);
        std::fs::remove_file(root.path().join(DEVKIT_FOLDER).join(META_FILE)).unwrap();
        let message = open_val(root.path()).unwrap_err().to_string();
        assert!(message.contains("meta.mat"), "{message}");
    }

    #[test]
    fn label_count_must_match_the_images() {
        let message = open_val(imagenet_root(3, &[1, 2]).path()).unwrap_err().to_string();
        assert!(message.contains("ILSVRC2012_validation_ground_truth.txt") && message.contains("lists 2 labels"), "{message}");
        assert!(message.contains("holds 3 images"), "{message}");
        let message = open_val(imagenet_root(1, &[1, 2]).path()).unwrap_err().to_string();
        assert!(message.contains("lists 2 labels") && message.contains("holds 1 images"), "{message}");
    }

    #[test]
    fn labels_out_of_range_are_reported() {
        // ID 4 is the inner synset, not a class; 1001 names nothing.
        for (bad, text) in [(4u32, "ILSVRC2012_ID 4 is out of range"), (1001, "ILSVRC2012_ID 1001 is out of range")] {
            let message = open_val(imagenet_root(2, &[1, bad]).path()).unwrap_err().to_string();
            assert!(
                message.contains("ILSVRC2012_validation_ground_truth.txt") && message.contains(&format!("line 2: {text}")),
                "{message}"
            );
        }
        let root = imagenet_root(1, &[1]);
        let gt = root.path().join(DEVKIT_FOLDER).join(GROUND_TRUTH_FILE);
        std::fs::write(&gt, "one\n").unwrap();
        let message = open_val(root.path()).unwrap_err().to_string();
        assert!(message.contains("line 1: \"one\" is not an ILSVRC2012_ID"), "{message}");
    }

    #[test]
    fn meta_without_synsets_is_reported() {
        let root = imagenet_root(1, &[1]);
        let data = root.path().join(DEVKIT_FOLDER).join("data");
        write_mat(&data, "meta.mat", &[matrix("other", CLASS_DOUBLE, &[1, 1], MI_DOUBLE, &doubles(&[1.0]))]);
        let message = open_val(root.path()).unwrap_err().to_string();
        assert!(message.contains("meta.mat: no variable 'synsets'"), "{message}");
    }
}
