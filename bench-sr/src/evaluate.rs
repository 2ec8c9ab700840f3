//! Scoring super-resolved images as the SR literature does (PSNR and SSIM on Y, border of
//! `scale` pixels cropped; see [`bench_sr::psnr_ssim`]), and the bicubic baseline
//! row: HR image -> mod crop -> MATLAB-exact bicubic `imresize(hr, 1/s)` -> `imresize(lr, s)`,
//! both on uint8 images as MATLAB computes them (each one-dimensional pass rounded and
//! saturated), the way DIV2K's LR images were made. Float ports of `imresize` (BasicSR's)
//! skip that rounding and score 0.0001 to 0.05 dB higher on the SR-pool test images
//! (`reports/exactness/`).
//!
//! JSON has no infinity, so a PSNR of `+infinity` (identical images) is written as the
//! string `"inf"`; every finite score is a JSON number.

use std::path::Path;

use anyhow::Context;
use bench_sr::psnr_ssim::psnr_ssim_y;
use glcan_data::resize::upscale;
use glcan_data::sr::HrFolderDataset;
use glcan_data::{Dataset, ImageU8};
use serde_json::{json, Value};

/// A score as JSON: a number, or `"inf"` for `+infinity`.
pub fn score(value: f64) -> Value {
    if value == f64::INFINITY {
        Value::from("inf")
    } else {
        Value::from(value)
    }
}

/// `{"psnr_y": ..., "ssim_y": ...}` for the image files `hr` and `sr`.
pub fn metrics(hr: &Path, sr: &Path, scale: usize) -> anyhow::Result<Value> {
    let hr_image = ImageU8::open_rgb(hr)?;
    let sr_image = ImageU8::open_rgb(sr)?;
    let (psnr, ssim) =
        psnr_ssim_y(&hr_image, &sr_image, scale).with_context(|| format!("comparing {} (HR) with {} (SR)", hr.display(), sr.display()))?;
    Ok(json!({ "psnr_y": score(psnr), "ssim_y": score(ssim) }))
}

/// Scores bicubic up-scaling on every image of `list` in `hr_dir`; `row` receives one JSON
/// object per image as it is done. Returns the summary object with the means.
pub fn bicubic(hr_dir: &Path, list: &Path, scale: usize, mut row: impl FnMut(&Value)) -> anyhow::Result<Value> {
    let dataset = HrFolderDataset::from_list_file(hr_dir, list, scale)?;
    // One Y conversion per image for both scores; the means are over images.
    let (mut psnr_sum, mut ssim_sum) = (0.0, 0.0);
    for (index, path) in dataset.paths().iter().enumerate() {
        let pair = dataset.get(index)?;
        let (lr, hr) = (pair.image, pair.target);
        let estimate = upscale(&lr, scale).with_context(|| format!("up-scaling {}", path.display()))?;
        let (p, s) = psnr_ssim_y(&hr, &estimate, scale).with_context(|| format!("scoring {}", path.display()))?;
        psnr_sum += p;
        ssim_sum += s;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        row(&json!({ "image": name, "width": hr.width(), "height": hr.height(), "psnr_y": score(p), "ssim_y": score(s) }));
    }
    // The dataset refuses an empty list, so both means exist.
    let images = dataset.len();
    Ok(
        json!({ "method": "bicubic", "scale": scale, "images": images, "psnr_y": score(psnr_sum / images as f64), "ssim_y": score(ssim_sum / images as f64) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_scores_become_a_string() {
        assert_eq!(score(f64::INFINITY), Value::from("inf"));
        assert_eq!(score(31.5), json!(31.5));
        assert_eq!(json!({ "psnr_y": score(f64::INFINITY) }).to_string(), r#"{"psnr_y":"inf"}"#);
    }
}
