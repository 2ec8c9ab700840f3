//! Bringing images of any size to one size, for datasets like ImageNet whose photos differ:
//! the standard recipe is a random resized crop for training (a crop covering 8%-100% of
//! the area with aspect ratio 3/4-4/3, resized to the target) and, for evaluation, a resize
//! of the short side followed by a centre crop. Resizing is bilinear (the `image` crate's
//! triangle filter).

use image::imageops::{self, FilterType};
use rand::Rng;

use super::ImageU8;

/// How images are brought to `size` x `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SizeTransform {
    /// Training: random area 8%-100%, aspect 3/4-4/3, resized to `size`.
    RandomResizedCrop { size: u32 },
    /// Evaluation: short side resized to `resize`, then the central `size` x `size`.
    ResizeCenterCrop { resize: u32, size: u32 },
}

impl SizeTransform {
    /// The ImageNet pair: training crops and evaluation crops at 224 (resize 256).
    pub fn imagenet(train: bool) -> Self {
        if train {
            SizeTransform::RandomResizedCrop { size: 224 }
        } else {
            SizeTransform::ResizeCenterCrop { resize: 256, size: 224 }
        }
    }

    /// Side of the output.
    pub fn size(&self) -> u32 {
        match *self {
            SizeTransform::RandomResizedCrop { size } | SizeTransform::ResizeCenterCrop { size, .. } => size,
        }
    }

    pub fn apply(&self, image: &ImageU8, rng: &mut impl Rng) -> ImageU8 {
        let rgb = image.to_rgb();
        let (width, height) = rgb.dimensions();
        let out = match *self {
            SizeTransform::RandomResizedCrop { size } => {
                let (x, y, w, h) = random_crop_window(width, height, rng);
                imageops::resize(&imageops::crop_imm(&rgb, x, y, w, h).to_image(), size, size, FilterType::Triangle)
            }
            SizeTransform::ResizeCenterCrop { resize, size } => {
                let scale = resize as f64 / width.min(height) as f64;
                let (w, h) = (((width as f64 * scale).round() as u32).max(size), ((height as f64 * scale).round() as u32).max(size));
                let resized = imageops::resize(&rgb, w, h, FilterType::Triangle);
                imageops::crop_imm(&resized, (w - size) / 2, (h - size) / 2, size, size).to_image()
            }
        };
        let rgb = ImageU8::from_rgb(&out);
        if image.channels() == 1 {
            // Keep grey images grey: the three planes are equal.
            ImageU8::from_chw(1, rgb.height(), rgb.width(), rgb.as_slice()[..rgb.height() * rgb.width()].to_vec())
        } else {
            rgb
        }
    }
}

/// A window of 8%-100% of the area with aspect ratio in [3/4, 4/3] (log-uniform), tried ten
/// times; otherwise the largest centred window with an aspect ratio in that range.
fn random_crop_window(width: u32, height: u32, rng: &mut impl Rng) -> (u32, u32, u32, u32) {
    let area = (width * height) as f64;
    for _ in 0..10 {
        let target = area * rng.random_range(0.08..=1.0);
        let aspect = rng.random_range((3.0f64 / 4.0).ln()..=(4.0f64 / 3.0).ln()).exp();
        let w = (target * aspect).sqrt().round() as u32;
        let h = (target / aspect).sqrt().round() as u32;
        if (1..=width).contains(&w) && (1..=height).contains(&h) {
            return (rng.random_range(0..=width - w), rng.random_range(0..=height - h), w, h);
        }
    }
    let ratio = width as f64 / height as f64;
    let (w, h) = if ratio < 3.0 / 4.0 {
        (width, ((width as f64) * 4.0 / 3.0).round().min(height as f64) as u32)
    } else if ratio > 4.0 / 3.0 {
        (((height as f64) * 4.0 / 3.0).round().min(width as f64) as u32, height)
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn photo(width: usize, height: usize) -> ImageU8 {
        let hwc: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
        ImageU8::from_hwc(3, height, width, &hwc)
    }

    #[test]
    fn outputs_have_the_target_size() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for (w, h) in [(500, 375), (64, 300), (224, 224), (30, 20)] {
            for transform in [SizeTransform::imagenet(true), SizeTransform::imagenet(false)] {
                let out = transform.apply(&photo(w, h), &mut rng);
                assert_eq!((out.channels(), out.height(), out.width()), (3, 224, 224), "{w}x{h} {transform:?}");
            }
        }
    }

    #[test]
    fn centre_crop_of_a_constant_image_is_constant_and_grey_stays_grey() {
        let grey = ImageU8::from_chw(1, 300, 400, vec![77; 300 * 400]);
        let out = SizeTransform::ResizeCenterCrop { resize: 64, size: 56 }.apply(&grey, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!((out.channels(), out.height(), out.width()), (1, 56, 56));
        assert!(out.as_slice().iter().all(|&v| v == 77));
    }

    #[test]
    fn crop_windows_stay_inside_and_respect_the_area_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let (x, y, w, h) = random_crop_window(500, 375, &mut rng);
            assert!(x + w <= 500 && y + h <= 375 && w > 0 && h > 0);
            let fraction = (w * h) as f64 / (500.0 * 375.0);
            assert!((0.07..=1.0).contains(&fraction), "{fraction}");
        }
        // A thin strip cannot hold the random windows: the fallback is centred and inside.
        let (x, y, w, h) = random_crop_window(10, 1000, &mut rng);
        assert!(x + w <= 10 && y + h <= 1000);
    }
}
