//! The data of a super-resolution run, as the trainer's [`TaskData`]: random LR/HR patch
//! pairs with the 8 flips and rotations for training, and whole test images scored by
//! PSNR/SSIM on Y for evaluation.
//!
//! Every image is decoded (and, for HR folders, shrunk with the MATLAB-exact bicubic) once,
//! when the data is loaded, and kept in memory: decoding a PNG and resizing it cost more
//! than the training step that samples a patch from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bench_sr::psnr_ssim::psnr_ssim_y;
use glcan_core::train::{Evaluation, LocalNetwork, TaskData, TrainBatch};
use glcan_core::{Error, Result};
use glcan_data::sr::{augment_pair, crop, random_patch_pair};
use glcan_data::{Dataset, ImageU8};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::crops::CropWindow;
use crate::task::{l1_loss, InputSkip};

/// One LR/HR pair, HR exactly `scale` times larger.
#[derive(Debug, Clone)]
pub struct SrImage {
    /// File name, for messages and crop files.
    pub name: String,
    pub lr: ImageU8,
    pub hr: ImageU8,
}

/// Decodes every pair of `dataset`; `names` gives each sample's name.
pub fn load_pairs(dataset: &dyn Dataset<Target = ImageU8>, names: impl Fn(usize) -> String) -> Result<Vec<SrImage>> {
    (0..dataset.len())
        .map(|index| {
            let pair = dataset.get(index)?;
            Ok(SrImage { name: names(index), lr: pair.image, hr: pair.target })
        })
        .collect()
}

/// A named set of test images (`sr-pool`, `set5`, ...).
#[derive(Debug, Clone)]
pub struct TestSet {
    pub name: String,
    pub images: Vec<SrImage>,
}

/// Where and how much of the SR output to save as crops (for the report's image grid).
#[derive(Debug, Clone)]
pub struct CropOutput {
    pub dir: PathBuf,
    /// Crops of the first `images` images of the first test set.
    pub images: usize,
    /// Side of the crop in HR pixels.
    pub size: usize,
}

/// Training patches and test sets at one scale.
pub struct SrData {
    /// Shared by the runs of a grid at one scale.
    pub train: Arc<Vec<SrImage>>,
    pub tests: Arc<Vec<TestSet>>,
    pub scale: usize,
    /// Side of a training LR patch in pixels (its HR patch is `scale` times larger).
    pub lr_patch: usize,
    pub batch_size: usize,
    pub steps_per_epoch: usize,
    pub seed: u64,
    pub crops: Option<CropOutput>,
    /// What the network's output is added to (see [`InputSkip`]), and its pixel range.
    pub skip: InputSkip,
    pub rgb_range: f64,
}

impl SrData {
    /// Checks what would otherwise fail in the middle of a run: an empty set, a training
    /// image smaller than the patch, a pair whose sizes do not differ by the scale.
    pub fn validate(&self) -> Result<()> {
        if self.train.is_empty() {
            return Err(Error::config("train", "no training images"));
        }
        if self.tests.is_empty() || self.tests.iter().any(|t| t.images.is_empty()) {
            return Err(Error::config("tests", "every test set needs at least one image"));
        }
        if self.lr_patch == 0 || self.batch_size == 0 || self.steps_per_epoch == 0 {
            return Err(Error::config("lr_patch/batch_size/steps_per_epoch", "must be at least 1"));
        }
        for image in self.train.iter().chain(self.tests.iter().flat_map(|t| &t.images)) {
            let (lr, hr) = (&image.lr, &image.hr);
            if lr.height() * self.scale != hr.height() || lr.width() * self.scale != hr.width() {
                return Err(Error::config(
                    "scale",
                    format!(
                        "{}: LR {}x{} and HR {}x{} are not a x{} pair",
                        image.name,
                        lr.width(),
                        lr.height(),
                        hr.width(),
                        hr.height(),
                        self.scale
                    ),
                ));
            }
        }
        if let Some(small) = self.train.iter().find(|i| i.lr.height() < self.lr_patch || i.lr.width() < self.lr_patch) {
            return Err(Error::config(
                "lr_patch",
                format!(
                    "training image {} is {}x{} at LR, smaller than the {} px patch",
                    small.name,
                    small.lr.width(),
                    small.lr.height(),
                    self.lr_patch
                ),
            ));
        }
        Ok(())
    }

    /// One training batch: `batch_size` patches from images drawn uniformly, each flipped
    /// and rotated at random. LR `[B, 3, p, p]` and HR `[B, 3, p·s, p·s]`, float on `[0, 255]`.
    fn batch(&self, rng: &mut ChaCha8Rng) -> Result<TrainBatch> {
        use rand::Rng;
        let (mut lrs, mut hrs) = (Vec::with_capacity(self.batch_size), Vec::with_capacity(self.batch_size));
        for _ in 0..self.batch_size {
            let image = &self.train[rng.random_range(0..self.train.len())];
            let (lr, hr) = random_patch_pair(&image.lr, &image.hr, self.lr_patch, self.scale, rng)?;
            let (lr, hr) = augment_pair(&lr, &hr, rng);
            lrs.push(lr.to_tensor());
            hrs.push(hr.to_tensor());
        }
        Ok(TrainBatch { images: Tensor::stack(&lrs, 0).to_kind(Kind::Float), target: Tensor::stack(&hrs, 0).to_kind(Kind::Float) })
    }
}

/// An image as a `[1, 3, H, W]` float tensor on `[0, 255]`.
pub fn image_tensor(image: &ImageU8, device: Device) -> Tensor {
    image.to_tensor().to_kind(Kind::Float).unsqueeze(0).to_device(device)
}

/// A network output `[1, 3, H, W]` on `[0, 255]` as an 8-bit image (clamped, rounded), as
/// SR outputs are saved and scored.
pub fn output_image(output: &Tensor) -> Result<ImageU8> {
    let size = output.size();
    if size.len() != 4 || size[0] != 1 || size[1] != 3 {
        return Err(Error::config("output", format!("expected a [1, 3, H, W] image, got {size:?}")));
    }
    let bytes = output.squeeze_dim(0).clamp(0.0, 255.0).round().to_kind(Kind::Uint8).to_device(Device::Cpu).contiguous().flatten(0, -1);
    let data = Vec::<u8>::try_from(&bytes).map_err(|e| Error::config("output", format!("cannot read the network output: {e}")))?;
    Ok(ImageU8::from_chw(3, size[2] as usize, size[3] as usize, data))
}

/// Mean PSNR-Y, SSIM-Y and L1 loss of one test set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetScores {
    pub psnr_y: f64,
    pub ssim_y: f64,
    pub loss: f64,
}

/// Scores `estimate` (the SR output of each image, in order) on `set`: means over images,
/// as the SR literature averages per-image PSNR. `save` receives each (image, SR output).
pub fn score_set(
    set: &TestSet,
    scale: usize,
    mut estimate: impl FnMut(&SrImage) -> Result<(ImageU8, f64)>,
    mut save: impl FnMut(usize, &SrImage, &ImageU8) -> Result<()>,
) -> Result<SetScores> {
    let (mut psnr, mut ssim, mut loss) = (0.0, 0.0, 0.0);
    for (index, image) in set.images.iter().enumerate() {
        let (sr, l) = estimate(image)?;
        let (p, s) =
            psnr_ssim_y(&image.hr, &sr, scale).map_err(|e| Error::config("evaluation", format!("{} of {}: {e}", image.name, set.name)))?;
        save(index, image, &sr)?;
        psnr += p;
        ssim += s;
        loss += l;
    }
    let n = set.images.len() as f64;
    Ok(SetScores { psnr_y: psnr / n, ssim_y: ssim / n, loss: loss / n })
}

/// The name of the detail holding `metric` (`psnr_y`, `ssim_y`) of test set `set`.
pub fn detail_name(set: &str, metric: &str) -> String {
    format!("{set}/{metric}")
}

/// Saves the crop of `image` (SR output or any other estimate of `original`'s HR) at the
/// window [`CropWindow::choose`] picks from the HR image.
pub fn save_crop(dir: &Path, original: &SrImage, image: &ImageU8, size: usize) -> Result<()> {
    let window = CropWindow::choose(&original.hr, size);
    let cut = crop(image, window.y, window.x, window.size, window.size)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(crate::crops::crop_file_name(&original.name));
    cut.to_rgb().save(&path).map_err(|e| Error::bad_data(&path, format!("cannot write the crop: {e}")))
}

impl TaskData for SrData {
    fn input_shape(&self) -> (i64, i64) {
        (3, self.lr_patch as i64)
    }

    fn batches_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    fn train_epoch(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<TrainBatch>> + Send + '_> {
        // One stream per (seed, epoch): a resumed run draws the same patches.
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch);
        Box::new((0..self.steps_per_epoch).map(move |_| self.batch(&mut rng)))
    }

    fn raw_images(&self, images: &Tensor) -> Tensor {
        (images / 255.0).clamp(0.0, 1.0)
    }

    /// PSNR-Y of the first test set is the headline metric; every set's PSNR-Y and SSIM-Y
    /// are details (`set/psnr_y`, `set/ssim_y`), and the first set's SSIM-Y also as `ssim_y`.
    fn evaluate(&self, net: &LocalNetwork, device: Device) -> Result<Evaluation> {
        let mut evaluation = Evaluation::default();
        for (s, set) in self.tests.iter().enumerate() {
            let estimate = |image: &SrImage| {
                let lr = image_tensor(&image.lr, device);
                let output = self.skip.estimate(&net.predict(&lr), &lr, self.scale, self.rgb_range);
                let loss = l1_loss(&output, &image_tensor(&image.hr, device)).double_value(&[]);
                Ok((output_image(&output)?, loss))
            };
            let save = |index: usize, image: &SrImage, sr: &ImageU8| match &self.crops {
                Some(crops) if s == 0 && index < crops.images => save_crop(&crops.dir, image, sr, crops.size),
                _ => Ok(()),
            };
            let scores = score_set(set, self.scale, estimate, save)?;
            if s == 0 {
                evaluation.metric = scores.psnr_y;
                evaluation.loss = scores.loss;
                evaluation.details.push(("ssim_y".to_owned(), scores.ssim_y));
            }
            evaluation.details.push((detail_name(&set.name, "psnr_y"), scores.psnr_y));
            evaluation.details.push((detail_name(&set.name, "ssim_y"), scores.ssim_y));
        }
        Ok(evaluation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(h: usize, w: usize, f: impl Fn(usize, usize, usize) -> u8) -> ImageU8 {
        let data = (0..3).flat_map(|c| (0..h).flat_map(move |y| (0..w).map(move |x| (c, y, x)))).map(|(c, y, x)| f(c, y, x)).collect();
        ImageU8::from_chw(3, h, w, data)
    }

    fn pair(name: &str, scale: usize) -> SrImage {
        let hr = image(24 * scale, 20 * scale, |c, y, x| ((x * 7 + y * 13 + c * 31 + x * y) % 251) as u8);
        let lr = glcan_data::resize::downscale(&hr, scale).unwrap();
        SrImage { name: name.into(), lr, hr }
    }

    #[test]
    fn the_exact_hr_scores_infinity_and_one() {
        let set = TestSet { name: "t".into(), images: vec![pair("a.png", 2), pair("b.png", 2)] };
        let mut saved = Vec::new();
        let scores = score_set(
            &set,
            2,
            |i| Ok((i.hr.clone(), 0.0)),
            |index, _, _| {
                saved.push(index);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((scores.psnr_y, scores.ssim_y, scores.loss), (f64::INFINITY, 1.0, 0.0));
        assert_eq!(saved, [0, 1]);
        // The bicubic estimate scores as the bicubic row computes it, image by image.
        let bicubic = score_set(&set, 2, |i| Ok((glcan_data::resize::upscale(&i.lr, 2)?, 0.0)), |_, _, _| Ok(())).unwrap();
        let expected: f64 =
            set.images.iter().map(|i| psnr_ssim_y(&i.hr, &glcan_data::resize::upscale(&i.lr, 2).unwrap(), 2).unwrap().0).sum::<f64>() / 2.0;
        assert!(bicubic.psnr_y.is_finite() && (bicubic.psnr_y - expected).abs() < 1e-12);
    }

    #[test]
    fn outputs_round_trip_through_8_bit_images() {
        let original = pair("a.png", 2).hr;
        let back = output_image(&image_tensor(&original, Device::Cpu)).unwrap();
        assert_eq!(back, original);
        // Out-of-range values are clamped, halves rounded to even as libtorch does.
        let t = Tensor::from_slice(&[-20.0f32, 300.0, 2.5]).view([1, 3, 1, 1]);
        assert_eq!(output_image(&t).unwrap().as_slice(), &[0, 255, 2]);
        assert!(output_image(&Tensor::zeros([3, 2, 2], (Kind::Float, Device::Cpu))).unwrap_err().to_string().contains("[1, 3, H, W]"));
    }

    #[test]
    fn batches_are_aligned_patches_and_bad_data_is_refused() {
        let mut data = SrData {
            train: Arc::new(vec![pair("a.png", 3)]),
            tests: Arc::new(vec![TestSet { name: "t".into(), images: vec![pair("b.png", 3)] }]),
            scale: 3,
            lr_patch: 8,
            batch_size: 2,
            steps_per_epoch: 3,
            seed: 1,
            crops: None,
            skip: InputSkip::None,
            rgb_range: 255.0,
        };
        data.validate().unwrap();
        let batches: Vec<TrainBatch> = data.train_epoch(0).collect::<Result<_>>().unwrap();
        assert_eq!(batches.len(), 3);
        assert_eq!((batches[0].images.size(), batches[0].target.size()), (vec![2, 3, 8, 8], vec![2, 3, 24, 24]));
        // The same (seed, epoch) draws the same patches; another epoch others.
        let again: Vec<TrainBatch> = data.train_epoch(0).collect::<Result<_>>().unwrap();
        assert!(again[2].target.equal(&batches[2].target));
        let other: Vec<TrainBatch> = data.train_epoch(1).collect::<Result<_>>().unwrap();
        assert!(!other[0].target.equal(&batches[0].target));
        data.lr_patch = 21;
        assert!(data.validate().unwrap_err().to_string().contains("smaller than the 21 px patch"));
        data.lr_patch = 8;
        data.scale = 2;
        assert!(data.validate().unwrap_err().to_string().contains("not a x2 pair"));
    }
}
