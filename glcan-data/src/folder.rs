//! Image classification from files on disk, in two layouts.
//!
//! - [`ImageFolder`]: one sub-folder per class, the layout of the ImageNet (ILSVRC-2012)
//!   training set as unpacked from the official `ILSVRC2012_img_train.tar`
//!   (`train/n01440764/n01440764_10026.JPEG`, ...) and of the validation set once sorted into
//!   the same class folders (`val/<wnid>/*.JPEG`), as torchvision's `ImageFolder` reads it.
//!   Classes are the sorted sub-folder names; class `i` is the `i`-th name.
//! - [`FileNameLabelled`]: a flat folder whose file names carry the label, as the sample
//!   images shipped in foolbox's `foolbox/data/` (`cifar10_07_6.png`, `imagenet_05_282.jpg`):
//!   `<prefix>_<index>_<label>.<ext>`.
//!
//! Both list their files when opened and decode an image only in [`Dataset::get`], at its
//! native size (RGB, 3 channels): resizing belongs to the loader's transforms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{index_error, ClassLabel, Dataset, ImageU8, Sample};
use crate::{Error, Result};

/// File extensions taken as images (compared without regard to case).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["jpeg", "jpg", "png", "bmp", "tif", "tiff"];

/// Whether `path` ends in one of [`IMAGE_EXTENSIONS`], in any case (ImageNet uses `.JPEG`).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|known| e.eq_ignore_ascii_case(known)))
}

/// The entries of a folder with their UTF-8 names, hidden ones (`.DS_Store`,
/// `.ipynb_checkpoints`) left out because no dataset is stored under such names.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(Error::bad_data(&path, "file name is not valid UTF-8"));
        };
        if !name.starts_with('.') {
            entries.push((name, path));
        }
    }
    entries.sort();
    Ok(entries)
}

/// Whether `path` is a folder, following symbolic links (class folders are often links into
/// a shared copy of the data).
fn is_dir(path: &Path) -> Result<bool> {
    Ok(std::fs::metadata(path).map_err(|e| Error::io(path, e))?.is_dir())
}

/// The image files under `dir` and its sub-folders, sorted by path.
fn images_under(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for (_, path) in list_dir(dir)? {
        if is_dir(&path)? {
            images_under(&path, found)?;
        } else if has_image_extension(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// A classification set stored as `root/<class>/<image>`; see the module docs.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    /// Class-major (label order), then sorted by path within a class: the order torchvision
    /// gives, so sample `i` is the same image in both.
    samples: Vec<(PathBuf, ClassLabel)>,
}

impl ImageFolder {
    /// Lists `root`: every (non-hidden) sub-folder is a class, in sorted name order; every
    /// file with an image extension below it, at any depth, is a sample of that class.
    /// Files directly in `root` and files with other extensions are not samples.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let mut classes = Vec::new();
        for (name, path) in list_dir(root)? {
            if is_dir(&path)? {
                classes.push(name);
            }
        }
        if classes.is_empty() {
            return Err(Error::bad_data(root, "no class sub-folders (expected <root>/<class>/<image>)"));
        }
        Self::list(root, classes, false)
    }

    /// Lists `root` with a class list fixed in advance, usually the training set's
    /// [`classes`](Self::classes), so that labels of the validation folder agree with those
    /// of training. A sub-folder not in `classes` is an error; a class without a folder
    /// simply has no samples (a validation subset may lack some).
    pub fn with_classes(root: impl AsRef<Path>, classes: &[impl AsRef<str>]) -> Result<Self> {
        let root = root.as_ref();
        let classes: Vec<String> = classes.iter().map(|c| c.as_ref().to_owned()).collect();
        if classes.is_empty() {
            return Err(Error::config("classes", "the class list is empty"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = classes.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(Error::config("classes", format!("class {twice:?} is listed twice")));
        }
        // Reading `root` first makes a missing root an I/O error naming it.
        for (name, path) in list_dir(root)? {
            if is_dir(&path)? && !classes.contains(&name) {
                return Err(Error::bad_data(&path, format!("class folder {name:?} is not one of the {} given classes", classes.len())));
            }
        }
        Self::list(root, classes, true)
    }

    fn list(root: &Path, classes: Vec<String>, allow_missing: bool) -> Result<Self> {
        let mut samples = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let dir = root.join(class);
            if allow_missing && !dir.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            images_under(&dir, &mut files)?;
            samples.extend(files.into_iter().map(|path| (path, label as ClassLabel)));
        }
        if samples.is_empty() {
            return Err(Error::bad_data(
                root,
                format!("no image files ({}) in its {} class folders", IMAGE_EXTENSIONS.join(", "), classes.len()),
            ));
        }
        Ok(ImageFolder { root: root.to_path_buf(), classes, samples })
    }

    /// A folder listed elsewhere (the flat ImageNet validation folder): `samples` in index
    /// order, labels in `0..classes.len()`.
    pub(crate) fn from_samples(root: PathBuf, classes: Vec<String>, samples: Vec<(PathBuf, ClassLabel)>) -> Self {
        debug_assert!(samples.iter().all(|&(_, label)| (label as usize) < classes.len()));
        ImageFolder { root, classes, samples }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Class names; label `i` is `classes()[i]`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Number of samples of each class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &(_, label) in &self.samples {
            counts[label as usize] += 1;
        }
        counts
    }

    /// Every sample's file and label, in index order.
    pub fn samples(&self) -> &[(PathBuf, ClassLabel)] {
        &self.samples
    }
}

impl Dataset for ImageFolder {
    type Target = ClassLabel;

    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
        let (path, label) = self.samples.get(index).ok_or_else(|| index_error("image folder", index, self.len()))?;
        Ok(Sample { image: ImageU8::open_rgb(path)?, target: *label })
    }
}

/// One file of a [`FileNameLabelled`] folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledFile {
    pub path: PathBuf,
    /// The `<index>` field of the name.
    pub index: u64,
    /// The `<label>` field of the name.
    pub label: ClassLabel,
}

/// A flat folder of images named `<prefix>_<index>_<label>.<ext>`; see the module docs.
#[derive(Debug, Clone)]
pub struct FileNameLabelled {
    dir: PathBuf,
    prefix: String,
    /// Sorted by `index`.
    files: Vec<LabelledFile>,
}

impl FileNameLabelled {
    /// Lists the image files of `dir` whose name starts with `<prefix>_` (so `cifar10` does
    /// not take the `cifar100_*` files); other files are not looked at. The two fields after
    /// the prefix must be whole numbers: the index (samples are ordered by it, numerically,
    /// and it must be unique) and the label.
    pub fn open(dir: impl AsRef<Path>, prefix: &str) -> Result<Self> {
        let dir = dir.as_ref();
        let start = format!("{prefix}_");
        let mut by_index: BTreeMap<u64, LabelledFile> = BTreeMap::new();
        for (name, path) in list_dir(dir)? {
            if !name.starts_with(&start) || !has_image_extension(&path) || is_dir(&path)? {
                continue;
            }
            let file = Self::parse_name(&name, &start, path)?;
            if let Some(earlier) = by_index.get(&file.index) {
                return Err(Error::bad_data(&file.path, format!("index {} is also used by {}", file.index, earlier.path.display())));
            }
            by_index.insert(file.index, file);
        }
        if by_index.is_empty() {
            return Err(Error::bad_data(dir, format!("no image file named {start}<index>_<label>.<{}>", IMAGE_EXTENSIONS.join("|"))));
        }
        Ok(FileNameLabelled { dir: dir.to_path_buf(), prefix: prefix.to_owned(), files: by_index.into_values().collect() })
    }

    /// Reads `<index>_<label>` from a name that starts with `start` (`<prefix>_`).
    fn parse_name(name: &str, start: &str, path: PathBuf) -> Result<LabelledFile> {
        let stem = Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or(name);
        let fields: Vec<&str> = stem.strip_prefix(start).unwrap_or_default().split('_').collect();
        let [index, label] = fields[..] else {
            return Err(Error::bad_data(&path, format!("file name is not {start}<index>_<label>.<ext>")));
        };
        let index = index
            .parse::<u64>()
            .map_err(|_| Error::bad_data(&path, format!("index field {index:?} of the file name is not a whole number")))?;
        let label = label
            .parse::<u32>()
            .map_err(|_| Error::bad_data(&path, format!("label field {label:?} of the file name is not a whole number")))?;
        Ok(LabelledFile { path, index, label: ClassLabel::from(label) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The files, ordered by their index field.
    pub fn files(&self) -> &[LabelledFile] {
        &self.files
    }

    /// The labels, in sample order.
    pub fn labels(&self) -> Vec<ClassLabel> {
        self.files.iter().map(|f| f.label).collect()
    }
}

impl Dataset for FileNameLabelled {
    type Target = ClassLabel;

    fn len(&self) -> usize {
        self.files.len()
    }

    fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
        let file = self.files.get(index).ok_or_else(|| index_error("labelled files", index, self.len()))?;
        Ok(Sample { image: ImageU8::open_rgb(&file.path)?, target: file.label })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a `width` x `height` RGB PNG whose pixels all hold `value`.
    fn write_png(path: &Path, width: u32, height: u32, value: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(width, height, image::Rgb([value, value, value])).save(path).unwrap();
    }

    fn error_text<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn image_folder_reads_imagenet_layout() {
        let dir = tempfile::tempdir().unwrap();
        let train = dir.path().join("train");
        // Upper-case .JPEG as in ILSVRC; written as PNG bytes, which open_rgb detects.
        write_png(&train.join("n02/n02_2.JPEG"), 4, 3, 20);
        write_png(&train.join("n01/n01_7.JPEG"), 5, 2, 10);
        write_png(&train.join("n01/n01_3.png"), 5, 2, 11);
        write_png(&train.join("n03/extra/n03_1.tiff"), 2, 2, 30);
        std::fs::write(train.join("n02/README.txt"), "not an image").unwrap();
        std::fs::write(train.join("LOC_synset_mapping.txt"), "n01 tench").unwrap();
        std::fs::create_dir_all(train.join(".ipynb_checkpoints")).unwrap();

        let set = ImageFolder::open(&train).unwrap();
        assert_eq!(set.classes(), ["n01", "n02", "n03"]);
        assert_eq!(set.class_counts(), [2, 1, 1]);
        assert_eq!(set.len(), 4);
        let names: Vec<_> = set.samples().iter().map(|(p, _)| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["n01_3.png", "n01_7.JPEG", "n02_2.JPEG", "n03_1.tiff"]);
        let first = set.get(0).unwrap();
        assert_eq!((first.image.channels(), first.image.height(), first.image.width()), (3, 2, 5));
        assert_eq!((first.image.at(0, 1, 4), first.target), (11, 0));
        let third = set.get(2).unwrap();
        assert_eq!((third.image.height(), third.image.width(), third.image.at(1, 0, 0), third.target), (3, 4, 20, 1));
        assert_eq!(set.get(3).unwrap().target, 2);
        assert!(error_text(set.get(4)).contains("sample 4 requested"));
    }

    #[test]
    fn validation_folder_uses_training_classes() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("train/n01/a.jpeg"), 2, 2, 1);
        write_png(&dir.path().join("train/n02/b.jpeg"), 2, 2, 2);
        write_png(&dir.path().join("train/n03/c.jpeg"), 2, 2, 3);
        // val lacks n01: its n02 must still be label 1.
        write_png(&dir.path().join("val/n02/d.jpeg"), 2, 2, 4);
        write_png(&dir.path().join("val/n03/e.jpeg"), 2, 2, 5);
        let train = ImageFolder::open(dir.path().join("train")).unwrap();
        let val = ImageFolder::with_classes(dir.path().join("val"), train.classes()).unwrap();
        assert_eq!(val.classes(), train.classes());
        assert_eq!(val.class_counts(), [0, 1, 1]);
        assert_eq!(val.get(0).unwrap().target, 1);
        assert_eq!(val.get(1).unwrap().target, 2);
    }

    #[test]
    fn image_folder_missing_root_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let message = error_text(ImageFolder::open(dir.path().join("nowhere")));
        assert!(message.contains("nowhere"), "{message}");
    }

    #[test]
    fn image_folder_without_class_folders_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("flat/a.png"), 2, 2, 0);
        let message = error_text(ImageFolder::open(dir.path().join("flat")));
        assert!(message.contains("flat") && message.contains("no class sub-folders"), "{message}");
    }

    #[test]
    fn image_folder_without_images_fails() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("empty");
        std::fs::create_dir_all(root.join("n01")).unwrap();
        std::fs::write(root.join("n01/notes.txt"), "x").unwrap();
        let message = error_text(ImageFolder::open(&root));
        assert!(message.contains("empty") && message.contains("no image files"), "{message}");
    }

    #[test]
    fn unknown_validation_class_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("val/n09/a.png"), 2, 2, 0);
        let message = error_text(ImageFolder::with_classes(dir.path().join("val"), &["n01", "n02"]));
        assert!(message.contains("n09") && message.contains("not one of the 2 given classes"), "{message}");
        let message = error_text(ImageFolder::with_classes(dir.path().join("val"), &["n01", "n01"]));
        assert!(message.contains("listed twice"), "{message}");
    }

    #[test]
    fn undecodable_image_fails_in_get() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n01/broken.JPEG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"\xff\xd8\xff\xe0 truncated").unwrap();
        let set = ImageFolder::open(dir.path()).unwrap();
        let message = error_text(set.get(0));
        assert!(message.contains("broken.JPEG: truncated JPEG"), "{message}");
        // Not a JPEG at all: the decoder's own error.
        std::fs::write(&path, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let message = error_text(set.get(0));
        assert!(message.contains("broken.JPEG") && message.contains("unreadable image"), "{message}");
    }

    #[test]
    fn file_names_give_labels_in_index_order() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("cifar10_10_1.png"), 3, 3, 100);
        write_png(&dir.path().join("cifar10_02_6.png"), 3, 3, 60);
        write_png(&dir.path().join("cifar10_07_9.png"), 3, 3, 90);
        // Same start, other prefixes: not part of the cifar10 set.
        write_png(&dir.path().join("cifar100_03_71.png"), 3, 3, 71);
        write_png(&dir.path().join("imagenet_05_282.jpg"), 3, 3, 28);
        std::fs::write(dir.path().join("__init__.py"), "").unwrap();

        let set = FileNameLabelled::open(dir.path(), "cifar10").unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.labels(), [6, 9, 1]);
        assert_eq!(set.files().iter().map(|f| f.index).collect::<Vec<_>>(), [2, 7, 10]);
        let sample = set.get(1).unwrap();
        assert_eq!((sample.target, sample.image.at(2, 1, 1)), (9, 90));

        let hundred = FileNameLabelled::open(dir.path(), "cifar100").unwrap();
        assert_eq!(hundred.labels(), [71]);
        assert_eq!(FileNameLabelled::open(dir.path(), "imagenet").unwrap().labels(), [282]);
        assert!(error_text(set.get(3)).contains("sample 3 requested"));
    }

    #[test]
    fn non_numeric_label_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("mnist_00_7.png"), 2, 2, 0);
        write_png(&dir.path().join("mnist_01_seven.png"), 2, 2, 0);
        let message = error_text(FileNameLabelled::open(dir.path(), "mnist"));
        assert!(message.contains("mnist_01_seven.png") && message.contains("label field \"seven\""), "{message}");
    }

    #[test]
    fn non_numeric_index_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("mnist_x1_7.png"), 2, 2, 0);
        let message = error_text(FileNameLabelled::open(dir.path(), "mnist"));
        assert!(message.contains("mnist_x1_7.png") && message.contains("index field \"x1\""), "{message}");
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("mnist_7.png"), 2, 2, 0);
        let message = error_text(FileNameLabelled::open(dir.path(), "mnist"));
        assert!(message.contains("mnist_7.png") && message.contains("<index>_<label>"), "{message}");
    }

    #[test]
    fn duplicate_index_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("mnist_03_1.png"), 2, 2, 0);
        write_png(&dir.path().join("mnist_3_2.png"), 2, 2, 0);
        let message = error_text(FileNameLabelled::open(dir.path(), "mnist"));
        assert!(message.contains("mnist_03_1.png") && message.contains("mnist_3_2.png") && message.contains("index 3"), "{message}");
    }

    #[test]
    fn no_matching_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("cifar100_03_71.png"), 2, 2, 0);
        let message = error_text(FileNameLabelled::open(dir.path(), "cifar10"));
        assert!(message.contains("no image file named cifar10_<index>_<label>"), "{message}");
        let message = error_text(FileNameLabelled::open(dir.path().join("absent"), "cifar10"));
        assert!(message.contains("absent"), "{message}");
    }
}
