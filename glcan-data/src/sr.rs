//! Super-resolution pairs: a low-resolution (LR) image and its high-resolution (HR) original.
//!
//! Two sources, both read lazily (files are decoded in `get`):
//! - [`Div2kDataset`]: the official DIV2K layout (NTIRE 2017,
//!   <https://data.vision.ee.ethz.ch/cvl/DIV2K/>), as its zip files unpack:
//!   ```text
//!   root/DIV2K_train_HR/0001.png ... 0800.png
//!   root/DIV2K_train_LR_bicubic/X2/0001x2.png ...   (X3/0001x3.png, X4/0001x4.png)
//!   root/DIV2K_valid_HR/0801.png ... 0900.png
//!   root/DIV2K_valid_LR_bicubic/X2/0801x2.png ...
//!   ```
//!   The LR images there were made with MATLAB's `imresize(hr, 1/scale)` (bicubic).
//! - [`HrFolderDataset`]: any folder of HR photos; each is cropped at the bottom and right
//!   to a multiple of the scale ("mod crop", as the SR literature evaluates Set5/Set14) and
//!   its LR is made on the fly with [`downscale`], our MATLAB-exact bicubic.
//!
//! A sample is `Sample { image: LR, target: HR }`, HR exactly `scale` times the LR size.
//! [`random_patch_pair`] and [`augment_pair`] are the training-time crop and the 8-fold
//! flip/rotation of EDSR-style training, applied identically to both images.
//! Sizes in messages are written width x height, as image tools print them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng;

use super::resize::downscale;
use super::{index_error, Dataset, ImageU8, Sample};
use crate::{Error, Result};

/// One super-resolution example: `image` is the LR input, `target` the HR image.
pub type SrPair = Sample<ImageU8>;

/// A dataset of super-resolution pairs at one integer scale.
pub trait SrDataset: Dataset<Target = ImageU8> {
    /// The upscaling factor: HR size = LR size * scale.
    fn scale(&self) -> usize;
}

/// Which half of DIV2K.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Div2kSplit {
    /// 800 images, ids 0001-0800.
    Train,
    /// 100 images, ids 0801-0900 (the test set of the challenge is not public).
    Valid,
}

impl Div2kSplit {
    fn name(self) -> &'static str {
        match self {
            Div2kSplit::Train => "train",
            Div2kSplit::Valid => "valid",
        }
    }
}

/// The DIV2K scales with official bicubic LR folders.
const DIV2K_SCALES: [usize; 3] = [2, 3, 4];

/// DIV2K pairs with the official bicubic LR images, matched by image id.
#[derive(Debug, Clone)]
pub struct Div2kDataset {
    hr_dir: PathBuf,
    lr_dir: PathBuf,
    scale: usize,
    /// The ids ("0001"), sorted; each has both an HR and an LR file.
    ids: Vec<String>,
}

impl Div2kDataset {
    /// Indexes `root/DIV2K_{split}_HR` and `root/DIV2K_{split}_LR_bicubic/X{scale}`. Every
    /// HR image must have its LR partner and vice versa; files that are not PNG are ignored.
    pub fn open(root: impl AsRef<Path>, split: Div2kSplit, scale: usize) -> Result<Self> {
        if !DIV2K_SCALES.contains(&scale) {
            return Err(Error::config("scale", format!("DIV2K has bicubic LR images for x2, x3 and x4, not x{scale}")));
        }
        let root = root.as_ref();
        let hr_dir = root.join(format!("DIV2K_{}_HR", split.name()));
        let lr_dir = root.join(format!("DIV2K_{}_LR_bicubic", split.name())).join(format!("X{scale}"));

        let hr_files = list_png(&hr_dir)?;
        let lr_files = list_png(&lr_dir)?;
        let mut hr_ids = BTreeMap::new();
        for name in hr_files {
            let id = name
                .strip_suffix(".png")
                .filter(|stem| is_id(stem))
                .ok_or_else(|| Error::bad_data(hr_dir.join(&name), "not a DIV2K HR image name (expected NNNN.png)"))?;
            hr_ids.insert(id.to_string(), ());
        }
        let suffix = format!("x{scale}.png");
        let mut lr_ids = BTreeMap::new();
        for name in lr_files {
            let path = lr_dir.join(&name);
            let id = name
                .strip_suffix(suffix.as_str())
                .filter(|stem| is_id(stem))
                .ok_or_else(|| Error::bad_data(&path, format!("not a DIV2K x{scale} LR image name (expected NNNN{suffix})")))?;
            if !hr_ids.contains_key(id) {
                return Err(Error::bad_data(&path, format!("unpaired LR image: no {id}.png in {}", hr_dir.display())));
            }
            lr_ids.insert(id.to_string(), ());
        }
        for id in hr_ids.keys() {
            if !lr_ids.contains_key(id) {
                return Err(Error::bad_data(
                    lr_dir.join(format!("{id}x{scale}.png")),
                    format!("missing LR image for HR {}", hr_dir.join(format!("{id}.png")).display()),
                ));
            }
        }
        if hr_ids.is_empty() {
            return Err(Error::bad_data(&hr_dir, "no HR images (NNNN.png) in this folder"));
        }
        Ok(Div2kDataset { hr_dir, lr_dir, scale, ids: hr_ids.into_keys().collect() })
    }

    /// The image ids, in order ("0001", "0002", ...).
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The HR and LR file of sample `index`.
    pub fn paths(&self, index: usize) -> Option<(PathBuf, PathBuf)> {
        let id = self.ids.get(index)?;
        Some((self.hr_dir.join(format!("{id}.png")), self.lr_dir.join(format!("{id}x{}.png", self.scale))))
    }
}

impl Dataset for Div2kDataset {
    type Target = ImageU8;

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn get(&self, index: usize) -> Result<SrPair> {
        let (hr_path, lr_path) = self.paths(index).ok_or_else(|| index_error("DIV2K", index, self.ids.len()))?;
        let hr = ImageU8::open_rgb(&hr_path)?;
        let lr = ImageU8::open_rgb(&lr_path)?;
        if lr.height() * self.scale != hr.height() || lr.width() * self.scale != hr.width() {
            return Err(Error::bad_data(
                &lr_path,
                format!(
                    "LR image is {}x{} but HR {} is {}x{}; at x{} they must differ exactly by the scale",
                    lr.width(),
                    lr.height(),
                    hr_path.display(),
                    hr.width(),
                    hr.height(),
                    self.scale
                ),
            ));
        }
        Ok(Sample { image: lr, target: hr })
    }
}

impl SrDataset for Div2kDataset {
    fn scale(&self) -> usize {
        self.scale
    }
}

/// A DIV2K id: digits only (officially four).
fn is_id(stem: &str) -> bool {
    !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())
}

/// The names of the `.png` files in `dir` (hidden files skipped).
fn list_png(dir: &Path) -> Result<Vec<String>> {
    Ok(list_files(dir)?.into_iter().filter(|name| extension_of(name) == "png").collect())
}

/// The names of the plain files in `dir`, sorted; hidden files (".DS_Store") skipped.
fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().into_string().map_err(|_| Error::bad_data(&path, "file name is not valid UTF-8"))?;
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Lower-case extension of a file name ("" when there is none).
fn extension_of(name: &str) -> String {
    Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// File extensions [`HrFolderDataset::open`] takes as images.
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// HR photos from a folder; each sample's LR is the bicubic downscale of the mod-cropped HR.
#[derive(Debug, Clone)]
pub struct HrFolderDataset {
    dir: PathBuf,
    /// File names relative to `dir`.
    names: Vec<PathBuf>,
    scale: usize,
}

impl HrFolderDataset {
    /// Every image file (png, jpg, jpeg, bmp, tif, tiff) directly in `dir`, sorted by name.
    pub fn open(dir: impl AsRef<Path>, scale: usize) -> Result<Self> {
        check_scale(scale)?;
        let dir = dir.as_ref().to_path_buf();
        let names: Vec<PathBuf> =
            list_files(&dir)?.into_iter().filter(|n| IMAGE_EXTENSIONS.contains(&extension_of(n).as_str())).map(PathBuf::from).collect();
        if names.is_empty() {
            return Err(Error::bad_data(&dir, format!("no image files ({}) in this folder", IMAGE_EXTENSIONS.join(", "))));
        }
        Ok(HrFolderDataset { dir, names, scale })
    }

    /// Exactly the listed files of `dir`, in the given order (a committed train or test
    /// list). Each must exist.
    pub fn from_list<P: AsRef<Path>>(dir: impl AsRef<Path>, names: impl IntoIterator<Item = P>, scale: usize) -> Result<Self> {
        check_scale(scale)?;
        let dir = dir.as_ref().to_path_buf();
        let names: Vec<PathBuf> = names.into_iter().map(|n| n.as_ref().to_path_buf()).collect();
        for name in &names {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(Error::bad_data(&path, "listed image not found"));
            }
        }
        if names.is_empty() {
            return Err(Error::config("image list", format!("no images listed for {}", dir.display())));
        }
        Ok(HrFolderDataset { dir, names, scale })
    }

    /// Like [`from_list`](Self::from_list), with the names read from a text file: one file
    /// name per line, blank lines and lines starting with `#` ignored.
    pub fn from_list_file(dir: impl AsRef<Path>, list: impl AsRef<Path>, scale: usize) -> Result<Self> {
        let (dir, list) = (dir.as_ref(), list.as_ref());
        let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
        let mut names = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let name = line.trim();
            if name.is_empty() || name.starts_with('#') {
                continue;
            }
            if !dir.join(name).is_file() {
                return Err(Error::bad_data(list, format!("line {}: {} not found", number + 1, dir.join(name).display())));
            }
            names.push(name.to_string());
        }
        if names.is_empty() {
            return Err(Error::bad_data(list, "lists no images"));
        }
        Self::from_list(dir, names, scale)
    }

    /// The image files, in sample order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.names.iter().map(|n| self.dir.join(n)).collect()
    }
}

fn check_scale(scale: usize) -> Result<()> {
    if scale == 0 {
        return Err(Error::config("scale", "must be at least 1"));
    }
    Ok(())
}

impl Dataset for HrFolderDataset {
    type Target = ImageU8;

    fn len(&self) -> usize {
        self.names.len()
    }

    fn get(&self, index: usize) -> Result<SrPair> {
        let name = self.names.get(index).ok_or_else(|| index_error("HR folder", index, self.names.len()))?;
        let path = self.dir.join(name);
        let image = ImageU8::open_rgb(&path)?;
        if image.height() < self.scale || image.width() < self.scale {
            return Err(Error::bad_data(
                &path,
                format!("image is {}x{}, smaller than the scale x{}", image.width(), image.height(), self.scale),
            ));
        }
        let hr = mod_crop(&image, self.scale);
        let lr = downscale(&hr, self.scale)?;
        Ok(Sample { image: lr, target: hr })
    }
}

impl SrDataset for HrFolderDataset {
    fn scale(&self) -> usize {
        self.scale
    }
}

/// The `height x width` window of `image` whose top-left pixel is (`y`, `x`); an error if
/// the window does not lie inside the image.
pub fn crop(image: &ImageU8, y: usize, x: usize, height: usize, width: usize) -> Result<ImageU8> {
    if y + height > image.height() || x + width > image.width() {
        return Err(Error::config(
            "crop",
            format!("{width}x{height} window at row {y}, column {x} is outside the {}x{} image", image.width(), image.height()),
        ));
    }
    Ok(crop_inside(image, y, x, height, width))
}

/// [`crop`] for a window already known to lie inside the image.
fn crop_inside(image: &ImageU8, y: usize, x: usize, height: usize, width: usize) -> ImageU8 {
    let mut data = Vec::with_capacity(image.channels() * height * width);
    let source = image.as_slice();
    for c in 0..image.channels() {
        for row in y..y + height {
            let start = (c * image.height() + row) * image.width() + x;
            data.extend_from_slice(&source[start..start + width]);
        }
    }
    ImageU8::from_chw(image.channels(), height, width, data)
}

/// The image cut at the bottom and right to a multiple of `scale` in both dimensions, so
/// that the LR image is exactly `1/scale` of it ("mod crop"). `scale` 0 leaves it whole.
pub fn mod_crop(image: &ImageU8, scale: usize) -> ImageU8 {
    if scale <= 1 {
        return image.clone();
    }
    crop_inside(image, 0, 0, image.height() - image.height() % scale, image.width() - image.width() % scale)
}

/// Aligned random crops for training: an `lr_patch x lr_patch` window of the LR image at
/// (y, x) and the `lr_patch * scale` window of the HR image at (y * scale, x * scale).
/// Errors when the pair's sizes do not differ by `scale` or the LR image is smaller than
/// the patch.
pub fn random_patch_pair(lr: &ImageU8, hr: &ImageU8, lr_patch: usize, scale: usize, rng: &mut impl Rng) -> Result<(ImageU8, ImageU8)> {
    if lr_patch == 0 || scale == 0 {
        return Err(Error::config("patch", format!("LR patch size {lr_patch} at scale {scale}: both must be positive")));
    }
    if lr.channels() != hr.channels() || lr.height() * scale != hr.height() || lr.width() * scale != hr.width() {
        return Err(Error::config(
            "patch",
            format!(
                "LR {}x{}x{} and HR {}x{}x{} (CxWxH) are not a x{scale} pair",
                lr.channels(),
                lr.width(),
                lr.height(),
                hr.channels(),
                hr.width(),
                hr.height()
            ),
        ));
    }
    if lr.height() < lr_patch || lr.width() < lr_patch {
        return Err(Error::config(
            "patch",
            format!("LR image {}x{} is smaller than the {lr_patch}x{lr_patch} patch", lr.width(), lr.height()),
        ));
    }
    let y = rng.random_range(0..=lr.height() - lr_patch);
    let x = rng.random_range(0..=lr.width() - lr_patch);
    let hr_patch = lr_patch * scale;
    Ok((crop_inside(lr, y, x, lr_patch, lr_patch), crop_inside(hr, y * scale, x * scale, hr_patch, hr_patch)))
}

/// The same random symmetry of the square applied to both images: horizontal flip,
/// vertical flip and transpose, each with probability 1/2 (a transpose after a flip is a
/// 90-degree rotation, so all 8 flips and rotations are equally likely).
pub fn augment_pair(lr: &ImageU8, hr: &ImageU8, rng: &mut impl Rng) -> (ImageU8, ImageU8) {
    let flip_h = rng.random_bool(0.5);
    let flip_v = rng.random_bool(0.5);
    let transpose = rng.random_bool(0.5);
    (dihedral(lr, flip_h, flip_v, transpose), dihedral(hr, flip_h, flip_v, transpose))
}

/// Flips `image` left-right and/or top-bottom, then optionally swaps its axes.
fn dihedral(image: &ImageU8, flip_h: bool, flip_v: bool, transpose: bool) -> ImageU8 {
    let (h, w) = (image.height(), image.width());
    let (out_h, out_w) = if transpose { (w, h) } else { (h, w) };
    let mut data = Vec::with_capacity(image.as_slice().len());
    for c in 0..image.channels() {
        for y in 0..out_h {
            for x in 0..out_w {
                let (sy, sx) = if transpose { (x, y) } else { (y, x) };
                let sy = if flip_v { h - 1 - sy } else { sy };
                let sx = if flip_h { w - 1 - sx } else { sx };
                data.push(image.at(c, sy, sx));
            }
        }
    }
    ImageU8::from_chw(image.channels(), out_h, out_w, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// An RGB test picture with some structure, `width x height`.
    fn picture(height: usize, width: usize, seed: usize) -> ImageU8 {
        let data = (0..3 * height * width).map(|i| ((i * 53 + seed * 101 + (i / width) * 7) % 256) as u8).collect();
        ImageU8::from_chw(3, height, width, data)
    }

    fn save(image: &ImageU8, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image.to_rgb().save(path).unwrap();
    }

    /// A DIV2K tree under `root` with `ids`, HR of `height x width`, official LR at `scale`.
    fn write_div2k(root: &Path, split: &str, ids: &[&str], scale: usize, height: usize, width: usize) -> Vec<(ImageU8, ImageU8)> {
        let mut pairs = Vec::new();
        for (k, id) in ids.iter().enumerate() {
            let hr = picture(height, width, k);
            let lr = downscale(&hr, scale).unwrap();
            save(&hr, &root.join(format!("DIV2K_{split}_HR/{id}.png")));
            save(&lr, &root.join(format!("DIV2K_{split}_LR_bicubic/X{scale}/{id}x{scale}.png")));
            pairs.push((lr, hr));
        }
        pairs
    }

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn div2k_train_pairs_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = write_div2k(dir.path(), "train", &["0002", "0001"], 2, 8, 12);
        // Other scales and a readme in the tree do not disturb x2.
        save(&picture(2, 3, 9), &dir.path().join("DIV2K_train_LR_bicubic/X4/0001x4.png"));
        std::fs::write(dir.path().join("DIV2K_train_HR/readme.txt"), "DIV2K").unwrap();
        let data = Div2kDataset::open(dir.path(), Div2kSplit::Train, 2).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.ids(), ["0001", "0002"]);
        assert_eq!(data.scale(), 2);
        let sample = data.get(1).unwrap(); // id 0002, written first
        assert_eq!((sample.image.width(), sample.image.height()), (6, 4));
        assert_eq!(sample.image, pairs[0].0);
        assert_eq!(sample.target, pairs[0].1);
        assert_eq!(data.get(0).unwrap().target, pairs[1].1);
        assert!(message(data.get(2)).contains("sample 2 requested, but it holds 2"));
    }

    #[test]
    fn div2k_valid_layout_at_x3() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = write_div2k(dir.path(), "valid", &["0801", "0802", "0803"], 3, 9, 6);
        let data = Div2kDataset::open(dir.path(), Div2kSplit::Valid, 3).unwrap();
        assert_eq!(data.ids(), ["0801", "0802", "0803"]);
        let (hr, lr) = data.paths(2).unwrap();
        assert!(hr.ends_with("DIV2K_valid_HR/0803.png") && lr.ends_with("DIV2K_valid_LR_bicubic/X3/0803x3.png"), "{hr:?} {lr:?}");
        let sample = data.get(2).unwrap();
        assert_eq!((sample.image.clone(), sample.target), pairs[2]);
        // The train folders are not there.
        assert!(message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 3)).contains("DIV2K_train_HR"));
    }

    #[test]
    fn div2k_missing_lr_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write_div2k(dir.path(), "train", &["0001", "0002"], 2, 8, 8);
        std::fs::remove_file(dir.path().join("DIV2K_train_LR_bicubic/X2/0002x2.png")).unwrap();
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 2));
        assert!(text.contains("0002x2.png") && text.contains("missing LR image") && text.contains("0002.png"), "{text}");
        // No LR folder at all for x4.
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 4));
        assert!(text.contains("X4"), "{text}");
    }

    #[test]
    fn div2k_unpaired_or_misnamed_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_div2k(dir.path(), "train", &["0001"], 2, 8, 8);
        let extra = dir.path().join("DIV2K_train_LR_bicubic/X2/0005x2.png");
        save(&picture(4, 4, 0), &extra);
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 2));
        assert!(text.contains("0005x2.png") && text.contains("unpaired LR image"), "{text}");
        std::fs::remove_file(&extra).unwrap();
        // An LR of another scale in the X2 folder.
        save(&picture(4, 4, 0), &dir.path().join("DIV2K_train_LR_bicubic/X2/0001x3.png"));
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 2));
        assert!(text.contains("0001x3.png") && text.contains("not a DIV2K x2 LR image name"), "{text}");
        std::fs::remove_file(dir.path().join("DIV2K_train_LR_bicubic/X2/0001x3.png")).unwrap();
        save(&picture(8, 8, 0), &dir.path().join("DIV2K_train_HR/photo.png"));
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 2));
        assert!(text.contains("photo.png") && text.contains("not a DIV2K HR image name"), "{text}");
    }

    #[test]
    fn div2k_bad_scale_and_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 8));
        assert!(text.contains("scale") && text.contains("x8"), "{text}");
        std::fs::create_dir_all(dir.path().join("DIV2K_train_HR")).unwrap();
        std::fs::create_dir_all(dir.path().join("DIV2K_train_LR_bicubic/X2")).unwrap();
        let text = message(Div2kDataset::open(dir.path(), Div2kSplit::Train, 2));
        assert!(text.contains("DIV2K_train_HR") && text.contains("no HR images"), "{text}");
    }

    #[test]
    fn div2k_size_mismatch_names_both_files_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        write_div2k(dir.path(), "train", &["0001"], 2, 8, 12);
        // Replace the LR by one pixel too narrow.
        save(&picture(4, 5, 0), &dir.path().join("DIV2K_train_LR_bicubic/X2/0001x2.png"));
        let data = Div2kDataset::open(dir.path(), Div2kSplit::Train, 2).unwrap();
        let text = message(data.get(0));
        assert!(text.contains("0001x2.png") && text.contains("0001.png") && text.contains("5x4") && text.contains("12x8"), "{text}");
    }

    #[test]
    fn div2k_unreadable_png_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write_div2k(dir.path(), "train", &["0001"], 2, 8, 8);
        std::fs::write(dir.path().join("DIV2K_train_HR/0001.png"), b"\x89PNG\r\n\x1a\ntruncated").unwrap();
        let data = Div2kDataset::open(dir.path(), Div2kSplit::Train, 2).unwrap();
        let text = message(data.get(0));
        assert!(text.contains("0001.png") && text.contains("unreadable image"), "{text}");
    }

    #[test]
    fn hr_folder_mod_crops_and_downscales() {
        let dir = tempfile::tempdir().unwrap();
        let b = picture(10, 13, 1);
        let a = picture(12, 9, 2);
        save(&b, &dir.path().join("b.png"));
        save(&a, &dir.path().join("a.bmp"));
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        std::fs::write(dir.path().join(".hidden.png"), "not an image").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let data = HrFolderDataset::open(dir.path(), 3).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.scale(), 3);
        assert!(data.paths()[0].ends_with("a.bmp") && data.paths()[1].ends_with("b.png"));
        let sample = data.get(1).unwrap();
        // 13x10 -> 12x9 HR, 4x3 LR.
        assert_eq!((sample.target.width(), sample.target.height()), (12, 9));
        assert_eq!(sample.target, crop(&b, 0, 0, 9, 12).unwrap());
        assert_eq!(sample.image, downscale(&sample.target, 3).unwrap());
        assert_eq!((sample.image.width(), sample.image.height()), (4, 3));
        let sample = data.get(0).unwrap();
        assert_eq!(sample.target, a); // 9x12 is already a multiple of 3
        assert!(message(data.get(5)).contains("sample 5 requested"));
    }

    #[test]
    fn hr_folder_lists() {
        let dir = tempfile::tempdir().unwrap();
        for (k, name) in ["x.png", "y.png", "z.png"].iter().enumerate() {
            save(&picture(8, 8, k), &dir.path().join(name));
        }
        let data = HrFolderDataset::from_list(dir.path(), ["z.png", "x.png"], 2).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.get(0).unwrap().target, picture(8, 8, 2));
        let list = dir.path().join("test.txt");
        std::fs::write(&list, "# our held-out photos\ny.png\n\n  x.png  \n").unwrap();
        let data = HrFolderDataset::from_list_file(dir.path(), &list, 4).unwrap();
        assert!(data.paths()[0].ends_with("y.png") && data.paths()[1].ends_with("x.png"));
        assert_eq!(data.get(0).unwrap().image.height(), 2);
    }

    #[test]
    fn hr_folder_broken_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let text = message(HrFolderDataset::open(dir.path(), 2));
        assert!(text.contains(&dir.path().display().to_string()) && text.contains("no image files"), "{text}");
        let text = message(HrFolderDataset::open(dir.path().join("absent"), 2));
        assert!(text.contains("absent"), "{text}");
        save(&picture(2, 5, 0), &dir.path().join("small.png"));
        std::fs::write(dir.path().join("broken.png"), b"\x89PNG\r\n\x1a\nno chunks").unwrap();
        assert!(message(HrFolderDataset::open(dir.path(), 0)).contains("scale"));
        let data = HrFolderDataset::open(dir.path(), 3).unwrap();
        let text = message(data.get(0)); // broken.png sorts first
        assert!(text.contains("broken.png") && text.contains("unreadable image"), "{text}");
        let text = message(data.get(1));
        assert!(text.contains("small.png") && text.contains("5x2") && text.contains("smaller than the scale x3"), "{text}");
        let text = message(HrFolderDataset::from_list(dir.path(), ["small.png", "gone.png"], 2));
        assert!(text.contains("gone.png") && text.contains("listed image not found"), "{text}");
        let list = dir.path().join("train.txt");
        std::fs::write(&list, "small.png\nmissing.jpg\n").unwrap();
        let text = message(HrFolderDataset::from_list_file(dir.path(), &list, 2));
        assert!(text.contains("train.txt") && text.contains("line 2") && text.contains("missing.jpg"), "{text}");
        std::fs::write(&list, "# nothing\n").unwrap();
        assert!(message(HrFolderDataset::from_list_file(dir.path(), &list, 2)).contains("lists no images"));
    }

    /// LR channel 0/1 hold each pixel's row/column; HR channel 0/1 hold its own row/column.
    fn coordinate_pair(lr_h: usize, lr_w: usize, scale: usize) -> (ImageU8, ImageU8) {
        let grid = |h: usize, w: usize| {
            let mut data = Vec::new();
            data.extend((0..h * w).map(|i| (i / w) as u8));
            data.extend((0..h * w).map(|i| (i % w) as u8));
            data.extend((0..h * w).map(|i| (i * 7 % 256) as u8));
            ImageU8::from_chw(3, h, w, data)
        };
        (grid(lr_h, lr_w), grid(lr_h * scale, lr_w * scale))
    }

    #[test]
    fn patches_are_aligned_pixel_for_pixel() {
        let scale = 3;
        let (lr, hr) = coordinate_pair(20, 25, scale);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut corners = std::collections::HashSet::new();
        for _ in 0..50 {
            let (lp, hp) = random_patch_pair(&lr, &hr, 6, scale, &mut rng).unwrap();
            assert_eq!((lp.height(), lp.width(), hp.height(), hp.width()), (6, 6, 18, 18));
            let (y0, x0) = (lp.at(0, 0, 0) as usize, lp.at(1, 0, 0) as usize);
            assert!(y0 + 6 <= 20 && x0 + 6 <= 25);
            corners.insert((y0, x0));
            for y in 0..18 {
                for x in 0..18 {
                    assert_eq!((hp.at(0, y, x) as usize, hp.at(1, y, x) as usize), (y0 * scale + y, x0 * scale + x));
                    assert_eq!(hp.at(2, y, x), hr.at(2, y0 * scale + y, x0 * scale + x));
                }
            }
            for y in 0..6 {
                for x in 0..6 {
                    assert_eq!((lp.at(0, y, x) as usize, lp.at(1, y, x) as usize), (y0 + y, x0 + x));
                }
            }
        }
        assert!(corners.len() > 10, "crops are not random: {corners:?}");
        // A patch as tall as the image can only start at row 0.
        let (lp, hp) = random_patch_pair(&lr, &hr, 20, scale, &mut rng).unwrap();
        assert_eq!((lp.at(0, 19, 19), hp.at(0, 59, 59)), (19, 59));
        assert_eq!(hp.at(1, 59, 59) as usize, lp.at(1, 0, 0) as usize * scale + 59);
    }

    #[test]
    fn patch_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (lr, hr) = coordinate_pair(5, 8, 2);
        let text = message(random_patch_pair(&lr, &hr, 6, 2, &mut rng));
        assert!(text.contains("8x5") && text.contains("smaller than the 6x6 patch"), "{text}");
        let text = message(random_patch_pair(&lr, &hr, 4, 3, &mut rng));
        assert!(text.contains("not a x3 pair"), "{text}");
        assert!(message(random_patch_pair(&lr, &hr, 0, 2, &mut rng)).contains("must be positive"));
    }

    #[test]
    fn augmentation_keeps_pairs_aligned_and_covers_all_symmetries() {
        let scale = 2;
        // HR = nearest-neighbour upsampling of LR, a relation every flip/rotation preserves.
        let lr = picture(3, 5, 4);
        let mut hr_data = Vec::new();
        for c in 0..3 {
            for y in 0..6 {
                for x in 0..10 {
                    hr_data.push(lr.at(c, y / scale, x / scale));
                }
            }
        }
        let hr = ImageU8::from_chw(3, 6, 10, hr_data);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let (la, ha) = augment_pair(&lr, &hr, &mut rng);
            assert_eq!((ha.height(), ha.width()), (la.height() * scale, la.width() * scale));
            for c in 0..3 {
                for y in 0..ha.height() {
                    for x in 0..ha.width() {
                        assert_eq!(ha.at(c, y, x), la.at(c, y / scale, x / scale));
                    }
                }
            }
            let mut sorted = la.as_slice().to_vec();
            sorted.sort();
            let mut original = lr.as_slice().to_vec();
            original.sort();
            assert_eq!(sorted, original, "augmentation must only move pixels");
            seen.insert(la.into_vec());
        }
        assert_eq!(seen.len(), 8, "all 8 flips/rotations should occur");
    }

    #[test]
    fn dihedral_maps_corners_as_expected() {
        // 2x3 image 0 1 2 / 3 4 5.
        let image = ImageU8::from_chw(1, 2, 3, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(dihedral(&image, true, false, false).as_slice(), &[2, 1, 0, 5, 4, 3]);
        assert_eq!(dihedral(&image, false, true, false).as_slice(), &[3, 4, 5, 0, 1, 2]);
        let t = dihedral(&image, false, false, true);
        assert_eq!((t.height(), t.width(), t.as_slice()), (3, 2, &[0u8, 3, 1, 4, 2, 5][..]));
        // Flip top-bottom then transpose: a 90-degree clockwise rotation.
        assert_eq!(dihedral(&image, false, true, true).as_slice(), &[3, 0, 4, 1, 5, 2]);
    }

    #[test]
    fn mod_crop_cuts_bottom_right() {
        let image = picture(7, 10, 0);
        let cropped = mod_crop(&image, 4);
        assert_eq!((cropped.height(), cropped.width()), (4, 8));
        assert_eq!(cropped.at(2, 3, 7), image.at(2, 3, 7));
        assert_eq!(mod_crop(&image, 1), image);
        assert_eq!(
            crop(&image, 5, 9, 2, 1).unwrap().as_slice(),
            &[image.at(0, 5, 9), image.at(0, 6, 9), image.at(1, 5, 9), image.at(1, 6, 9), image.at(2, 5, 9), image.at(2, 6, 9)]
        );
        let text = message(crop(&image, 6, 0, 2, 3));
        assert!(text.contains("3x2 window at row 6, column 0") && text.contains("10x7 image"), "{text}");
    }
}
