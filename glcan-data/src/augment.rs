//! Training-time augmentation on `uint8` images and per-dataset normalisation.
//!
//! The classification recipe of the InfoPro paper (pad by 4, random 32x32 crop, horizontal
//! flip with probability 1/2) is [`Augmentation::pad_crop_flip`]. Normalisation happens once
//! per batch, when bytes become floats: `x = (v / 255 - mean[c]) / std[c]`.

use rand::Rng;

use super::ImageU8;
use crate::{Error, Result};

/// Random geometric augmentation, applied to each training image independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Augmentation {
    /// Zero-pad each side by this many pixels, then crop a random window of the original
    /// size (0: no crop).
    pub pad_crop: usize,
    /// Mirror left-right with probability 1/2.
    pub horizontal_flip: bool,
}

impl Augmentation {
    /// No augmentation (evaluation, or datasets where flips change the meaning, like digits).
    pub const NONE: Augmentation = Augmentation { pad_crop: 0, horizontal_flip: false };

    /// Pad-`pad` random crop and horizontal flip: the CIFAR/SVHN/STL-10 recipe (`pad` = 4;
    /// STL-10 uses 12 at 96x96).
    pub fn pad_crop_flip(pad: usize) -> Self {
        Augmentation { pad_crop: pad, horizontal_flip: true }
    }

    pub fn is_identity(&self) -> bool {
        *self == Self::NONE
    }

    /// A randomly augmented copy of `image`, same size.
    pub fn apply(&self, image: &ImageU8, rng: &mut impl Rng) -> ImageU8 {
        if self.is_identity() {
            return image.clone();
        }
        let (channels, height, width) = (image.channels(), image.height(), image.width());
        let pad = self.pad_crop as i64;
        // Offset of the crop window inside the padded image, in [-pad, pad] relative to the original.
        let (dy, dx) = if pad > 0 { (rng.random_range(-pad..=pad), rng.random_range(-pad..=pad)) } else { (0, 0) };
        let flip = self.horizontal_flip && rng.random_bool(0.5);
        let source = image.as_slice();
        let mut out = vec![0u8; source.len()];
        for c in 0..channels {
            for y in 0..height {
                let sy = y as i64 + dy;
                if sy < 0 || sy >= height as i64 {
                    continue; // zero padding
                }
                let row_in = (c * height + sy as usize) * width;
                let row_out = (c * height + y) * width;
                for x in 0..width {
                    let xo = if flip { width - 1 - x } else { x };
                    let sx = x as i64 + dx;
                    if sx >= 0 && sx < width as i64 {
                        out[row_out + xo] = source[row_in + sx as usize];
                    }
                }
            }
        }
        ImageU8::from_chw(channels, height, width, out)
    }
}

/// Per-channel mean and standard deviation, on the [0, 1] scale.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::config("normalization", format!("{} means for {} standard deviations", mean.len(), std.len())));
        }
        if let Some(s) = std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            return Err(Error::config("normalization.std", format!("{s} is not a positive number")));
        }
        Ok(Normalization { mean, std })
    }

    /// MNIST training-set statistics.
    pub fn mnist() -> Self {
        Normalization { mean: vec![0.1307], std: vec![0.3081] }
    }

    /// Fashion-MNIST training-set statistics.
    pub fn fashion_mnist() -> Self {
        Normalization { mean: vec![0.2860], std: vec![0.3530] }
    }

    /// CIFAR-10 as in the InfoPro code: mean (125.3, 123.0, 113.9)/255, std (63.0, 62.1, 66.7)/255.
    pub fn cifar10() -> Self {
        Normalization { mean: vec![125.3 / 255.0, 123.0 / 255.0, 113.9 / 255.0], std: vec![63.0 / 255.0, 62.1 / 255.0, 66.7 / 255.0] }
    }

    /// CIFAR-100 training-set statistics.
    pub fn cifar100() -> Self {
        Normalization { mean: vec![0.5071, 0.4865, 0.4409], std: vec![0.2673, 0.2564, 0.2762] }
    }

    /// SVHN and STL-10: maps [0, 1] to [-1, 1].
    pub fn symmetric(channels: usize) -> Self {
        Normalization { mean: vec![0.5; channels], std: vec![0.5; channels] }
    }

    /// ImageNet statistics (also used for the foolbox ImageNet samples).
    pub fn imagenet() -> Self {
        Normalization { mean: vec![0.485, 0.456, 0.406], std: vec![0.229, 0.224, 0.225] }
    }

    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Appends the normalised floats of `image` (CHW) to `out`.
    pub fn extend_normalized(&self, image: &ImageU8, out: &mut Vec<f32>) {
        let plane = image.height() * image.width();
        for (c, values) in image.as_slice().chunks_exact(plane).enumerate() {
            let scale = 1.0 / (255.0 * self.std[c]);
            let shift = self.mean[c] / self.std[c];
            out.extend(values.iter().map(|&v| v as f32 * scale - shift));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ramp(channels: usize, size: usize) -> ImageU8 {
        let n = channels * size * size;
        ImageU8::from_chw(channels, size, size, (0..n).map(|v| (v % 251) as u8).collect())
    }

    #[test]
    fn identity_leaves_the_image_alone() {
        let image = ramp(3, 5);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(Augmentation::NONE.apply(&image, &mut rng), image);
    }

    #[test]
    fn crop_is_a_shifted_window_with_zero_border() {
        let image = ramp(1, 6);
        let aug = Augmentation { pad_crop: 2, horizontal_flip: false };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen_shift = false;
        for _ in 0..50 {
            let out = aug.apply(&image, &mut rng);
            // Find the shift that explains the output: every pixel is either the source pixel
            // at (y + dy, x + dx) or zero where that falls outside.
            let explained = (-2isize..=2).flat_map(|dy| (-2isize..=2).map(move |dx| (dy, dx))).any(|(dy, dx)| {
                (0..6).all(|y| {
                    (0..6).all(|x| {
                        let (sy, sx) = (y as isize + dy, x as isize + dx);
                        let expected = if (0..6).contains(&sy) && (0..6).contains(&sx) { image.at(0, sy as usize, sx as usize) } else { 0 };
                        out.at(0, y, x) == expected
                    })
                })
            });
            assert!(explained);
            seen_shift |= out != image;
        }
        assert!(seen_shift, "50 draws never moved the window");
    }

    #[test]
    fn flip_mirrors_rows_about_half_the_time() {
        let image = ramp(2, 4);
        let aug = Augmentation { pad_crop: 0, horizontal_flip: true };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut flips = 0;
        for _ in 0..400 {
            let out = aug.apply(&image, &mut rng);
            if out != image {
                flips += 1;
                assert_eq!(out.at(1, 2, 0), image.at(1, 2, 3));
                assert_eq!(out.at(0, 1, 1), image.at(0, 1, 2));
            }
        }
        assert!((150..250).contains(&flips), "{flips} flips in 400");
    }

    #[test]
    fn normalization_formula() {
        let norm = Normalization::new(vec![0.5, 0.25], vec![0.5, 0.25]).unwrap();
        let image = ImageU8::from_chw(2, 1, 1, vec![255, 0]);
        let mut out = Vec::new();
        norm.extend_normalized(&image, &mut out);
        assert!((out[0] - 1.0).abs() < 1e-6 && (out[1] + 1.0).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn bad_normalization_is_rejected() {
        assert!(Normalization::new(vec![0.5], vec![0.5, 0.5]).is_err());
        assert!(Normalization::new(vec![0.5], vec![0.0]).unwrap_err().to_string().contains("normalization.std"));
    }
}
