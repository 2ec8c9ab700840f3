//! PSNR and SSIM on the Y channel, as the super-resolution literature reports them (EDSR,
//! Lim et al. 2017, <https://arxiv.org/abs/1707.02921>, and the Set5/Set14/B100/Urban100
//! tables before and after it).
//!
//! - **Y channel**: MATLAB's `rgb2ycbcr` (ITU-R BT.601, studio swing) for `R, G, B` in
//!   [0, 1]: `Y = 16 + 65.481 R + 128.553 G + 24.966 B`, so Y lies in [16, 235] on the
//!   8-bit scale. Y is kept in `f64` and *not* rounded to an integer (MATLAB rounds when its
//!   input is `uint8`; the Python evaluation code of EDSR and BasicSR does not, and neither do
//!   we). A 1-channel image is its own Y: the grey value itself, unscaled.
//! - **Border**: `scale` pixels are cropped at each of the four borders before comparing
//!   (the rows and columns a bicubic or learned up-sampler cannot reconstruct well).
//! - **PSNR** = `10 log10(255² / MSE)` in dB over the cropped Y planes. Identical planes have
//!   MSE 0 and PSNR `+infinity` ([`f64::INFINITY`]).
//! - **SSIM** as Wang et al. 2004 ("Image quality assessment: from error visibility to
//!   structural similarity", IEEE TIP 13(4)) and their reference `ssim_index.m`: local means,
//!   variances and covariance under a normalised 11x11 Gaussian window with σ = 1.5, taken
//!   only where the window lies wholly inside the image (`filter2(..., 'valid')`, no
//!   padding); `SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))` with
//!   `C1 = (0.01 L)²`, `C2 = (0.03 L)²`, `L = 255`; the score is the mean of that map.
//!
//! Both scores are higher-is-better. [`PsnrY`] and [`SsimY`] average them over a test set
//! (the mean of per-image scores, as SR tables report).

use glcan_core::{Error, Result};
use glcan_data::ImageU8;

/// The 8-bit peak value `L` of PSNR and SSIM.
pub const PEAK: f64 = 255.0;
/// Side of SSIM's Gaussian window.
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of SSIM's Gaussian window, in pixels.
pub const SSIM_SIGMA: f64 = 1.5;
/// SSIM's stabilising constants: `C1 = (K1 L)²`, `C2 = (K2 L)²`.
pub const SSIM_K1: f64 = 0.01;
pub const SSIM_K2: f64 = 0.03;

/// One channel of `f64` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub height: usize,
    pub width: usize,
    pub values: Vec<f64>,
}

impl Plane {
    /// The window of `height x width` values whose top-left value is (`y`, `x`); the
    /// caller has checked that it lies inside.
    fn window(&self, y: usize, x: usize, height: usize, width: usize) -> Plane {
        let mut values = Vec::with_capacity(height * width);
        for row in y..y + height {
            let start = row * self.width + x;
            values.extend_from_slice(&self.values[start..start + width]);
        }
        Plane { height, width, values }
    }
}

/// The Y plane of an RGB image (MATLAB `rgb2ycbcr`, unrounded), or the grey values of a
/// 1-channel image. Other channel counts are an error.
pub fn y_plane(image: &ImageU8) -> Result<Plane> {
    let (height, width) = (image.height(), image.width());
    let n = height * width;
    let data = image.as_slice();
    let values = match image.channels() {
        1 => data.iter().map(|&v| f64::from(v)).collect(),
        3 => {
            let (r, g, b) = (&data[..n], &data[n..2 * n], &data[2 * n..]);
            // rgb2ycbcr's coefficients are for [0, 1] input; dividing the weighted sum by
            // 255 once applies them to 8-bit values.
            (0..n).map(|i| 16.0 + (65.481 * f64::from(r[i]) + 128.553 * f64::from(g[i]) + 24.966 * f64::from(b[i])) / 255.0).collect()
        }
        other => return Err(Error::config("image channels", format!("PSNR/SSIM on Y take 1 (grey) or 3 (RGB) channels, not {other}"))),
    };
    Ok(Plane { height, width, values })
}

/// `width x height, C channel(s)`, for messages.
fn describe(image: &ImageU8) -> String {
    let plural = if image.channels() == 1 { "" } else { "s" };
    format!("{}x{}, {} channel{plural}", image.width(), image.height(), image.channels())
}

/// The Y planes of both images with `border` pixels cropped at each side, after checking
/// that the images match and that something is left.
fn cropped_y_pair(hr: &ImageU8, sr: &ImageU8, border: usize) -> Result<(Plane, Plane)> {
    if (hr.channels(), hr.height(), hr.width()) != (sr.channels(), sr.height(), sr.width()) {
        return Err(Error::config("images", format!("HR is {} but SR is {}: they must match", describe(hr), describe(sr))));
    }
    let (height, width) = (hr.height(), hr.width());
    if height <= 2 * border || width <= 2 * border {
        return Err(Error::config(
            "scale",
            format!("cropping {border} pixels at each border leaves nothing of the {width}x{height} images"),
        ));
    }
    let (inner_height, inner_width) = (height - 2 * border, width - 2 * border);
    let crop = |image: &ImageU8| -> Result<Plane> { Ok(y_plane(image)?.window(border, border, inner_height, inner_width)) };
    Ok((crop(hr)?, crop(sr)?))
}

/// Mean squared error of two planes of the same size.
fn mse(a: &Plane, b: &Plane) -> f64 {
    let sum: f64 = a.values.iter().zip(&b.values).map(|(x, y)| (x - y) * (x - y)).sum();
    sum / a.values.len() as f64
}

/// PSNR in dB from a mean squared error on the 8-bit scale; `+infinity` for MSE 0.
fn psnr_from_mse(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (PEAK * PEAK / mse).log10()
    }
}

/// PSNR (dB) between the Y channels of `hr` and `sr`, `scale` pixels cropped at each border
/// (`scale` 0 crops nothing). `f64::INFINITY` when the cropped Y planes are identical.
/// Errors: different sizes or channel counts, a crop that leaves nothing, or channel
/// counts other than 1 and 3.
pub fn psnr_y(hr: &ImageU8, sr: &ImageU8, scale: usize) -> Result<f64> {
    let (a, b) = cropped_y_pair(hr, sr, scale)?;
    Ok(psnr_from_mse(mse(&a, &b)))
}

/// SSIM between the Y channels of `hr` and `sr`, `scale` pixels cropped at each border,
/// as `ssim_index.m` (see the module header). Errors as [`psnr_y`], and when the cropped
/// images are smaller than the 11x11 window.
pub fn ssim_y(hr: &ImageU8, sr: &ImageU8, scale: usize) -> Result<f64> {
    let (a, b) = cropped_y_pair(hr, sr, scale)?;
    ssim_planes(&a, &b)
}

/// Both scores at once (the Y planes are computed once): `(psnr_y, ssim_y)`.
pub fn psnr_ssim_y(hr: &ImageU8, sr: &ImageU8, scale: usize) -> Result<(f64, f64)> {
    let (a, b) = cropped_y_pair(hr, sr, scale)?;
    Ok((psnr_from_mse(mse(&a, &b)), ssim_planes(&a, &b)?))
}

/// The normalised 1-D Gaussian of SSIM's window. MATLAB's
/// `fspecial('gaussian', 11, 1.5)` is `g gᵀ / (Σg)²` for this unnormalised `g`, so the 2-D
/// window is the outer product of the normalised 1-D one and filtering can be done one
/// axis at a time.
fn gaussian_taps() -> [f64; SSIM_WINDOW] {
    let half = (SSIM_WINDOW / 2) as f64;
    let mut taps = [0.0; SSIM_WINDOW];
    for (i, tap) in taps.iter_mut().enumerate() {
        let x = i as f64 - half;
        *tap = (-x * x / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let sum: f64 = taps.iter().sum();
    taps.map(|t| t / sum)
}

/// `filter2(window, plane, 'valid')` for the separable Gaussian window: the weighted sums
/// at every position where the window lies inside the plane.
fn filter_valid(plane: &Plane, taps: &[f64; SSIM_WINDOW]) -> Plane {
    let (height, width) = (plane.height - SSIM_WINDOW + 1, plane.width - SSIM_WINDOW + 1);
    // Along rows first (all rows kept), then along columns.
    let mut rows = vec![0.0; plane.height * width];
    for y in 0..plane.height {
        let line = &plane.values[y * plane.width..(y + 1) * plane.width];
        for x in 0..width {
            rows[y * width + x] = taps.iter().zip(&line[x..x + SSIM_WINDOW]).map(|(t, v)| t * v).sum();
        }
    }
    let mut values = vec![0.0; height * width];
    for y in 0..height {
        for x in 0..width {
            values[y * width + x] = taps.iter().enumerate().map(|(k, t)| t * rows[(y + k) * width + x]).sum();
        }
    }
    Plane { height, width, values }
}

/// Mean SSIM of two planes of the same size (at least the window's).
fn ssim_planes(a: &Plane, b: &Plane) -> Result<f64> {
    if a.height < SSIM_WINDOW || a.width < SSIM_WINDOW {
        return Err(Error::config(
            "images",
            format!(
                "after the border crop the images are {}x{}, smaller than SSIM's {SSIM_WINDOW}x{SSIM_WINDOW} window",
                a.width, a.height
            ),
        ));
    }
    let taps = gaussian_taps();
    let product = |p: &Plane, q: &Plane| Plane {
        height: p.height,
        width: p.width,
        values: p.values.iter().zip(&q.values).map(|(x, y)| x * y).collect(),
    };
    let mu_a = filter_valid(a, &taps);
    let mu_b = filter_valid(b, &taps);
    let aa = filter_valid(&product(a, a), &taps);
    let bb = filter_valid(&product(b, b), &taps);
    let ab = filter_valid(&product(a, b), &taps);
    let c1 = (SSIM_K1 * PEAK).powi(2);
    let c2 = (SSIM_K2 * PEAK).powi(2);
    let mut sum = 0.0;
    for i in 0..mu_a.values.len() {
        let (ma, mb) = (mu_a.values[i], mu_b.values[i]);
        // Variances as E[x²] - μ², exactly as ssim_index.m computes them.
        let var_a = aa.values[i] - ma * ma;
        let var_b = bb.values[i] - mb * mb;
        let cov = ab.values[i] - ma * mb;
        sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (var_a + var_b + c2));
    }
    Ok(sum / mu_a.values.len() as f64)
}

/// A running mean of per-image scores.
#[derive(Debug, Clone, Default, PartialEq)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn add(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    fn get(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Mean PSNR on Y over a test set: the mean of per-image [`psnr_y`] values, in dB, higher is
/// better. One identical pair makes the mean `+infinity`.
#[derive(Debug, Clone, PartialEq)]
pub struct PsnrY {
    scale: usize,
    mean: Mean,
}

impl PsnrY {
    pub const NAME: &'static str = "psnr_y";
    pub const UNIT: &'static str = "dB";
    pub const HIGHER_IS_BETTER: bool = true;

    /// For images up-scaled `scale` times (also the border crop).
    pub fn new(scale: usize) -> Self {
        PsnrY { scale, mean: Mean::default() }
    }

    /// Adds one image pair; returns its PSNR. A failed update leaves the mean unchanged.
    pub fn update(&mut self, hr: &ImageU8, sr: &ImageU8) -> Result<f64> {
        let value = psnr_y(hr, sr, self.scale)?;
        self.mean.add(value);
        Ok(value)
    }

    /// The mean so far; `None` before the first image.
    pub fn compute(&self) -> Option<f64> {
        self.mean.get()
    }

    pub fn count(&self) -> usize {
        self.mean.count
    }

    pub fn reset(&mut self) {
        self.mean = Mean::default();
    }
}

/// Mean SSIM on Y over a test set: the mean of per-image [`ssim_y`] values, unitless, at
/// most 1, higher is better.
#[derive(Debug, Clone, PartialEq)]
pub struct SsimY {
    scale: usize,
    mean: Mean,
}

impl SsimY {
    pub const NAME: &'static str = "ssim_y";
    pub const UNIT: &'static str = "";
    pub const HIGHER_IS_BETTER: bool = true;

    /// For images up-scaled `scale` times (also the border crop).
    pub fn new(scale: usize) -> Self {
        SsimY { scale, mean: Mean::default() }
    }

    /// Adds one image pair; returns its SSIM. A failed update leaves the mean unchanged.
    pub fn update(&mut self, hr: &ImageU8, sr: &ImageU8) -> Result<f64> {
        let value = ssim_y(hr, sr, self.scale)?;
        self.mean.add(value);
        Ok(value)
    }

    /// The mean so far; `None` before the first image.
    pub fn compute(&self) -> Option<f64> {
        self.mean.get()
    }

    pub fn count(&self) -> usize {
        self.mean.count
    }

    pub fn reset(&mut self) {
        self.mean = Mean::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-channel image whose value at (y, x) is `f(y, x)`.
    fn grey(height: usize, width: usize, f: impl Fn(usize, usize) -> u8) -> ImageU8 {
        let data = (0..height * width).map(|i| f(i / width, i % width)).collect();
        ImageU8::from_chw(1, height, width, data)
    }

    /// An RGB image whose channel c at (y, x) is `f(c, y, x)`.
    fn rgb(height: usize, width: usize, f: impl Fn(usize, usize, usize) -> u8) -> ImageU8 {
        let data = (0..3 * height * width).map(|i| f(i / (height * width), (i / width) % height, i % width)).collect();
        ImageU8::from_chw(3, height, width, data)
    }

    /// A deterministic textured RGB image (not smooth, so SSIM's variance terms matter).
    fn texture(height: usize, width: usize) -> ImageU8 {
        rgb(height, width, |c, y, x| ((x * 37 + y * 91 + c * 53 + x * y * 7) % 251) as u8)
    }

    #[test]
    fn y_follows_matlab_rgb2ycbcr() {
        // Black, white, and pure red/green/blue: 16, 16 + 219, 16 + 65.481, ...
        let image = rgb(1, 5, |c, _, x| match x {
            0 => 0,
            1 => 255,
            _ => {
                if c == x - 2 {
                    255
                } else {
                    0
                }
            }
        });
        let y = y_plane(&image).unwrap().values;
        let expected = [16.0, 235.0, 81.481, 144.553, 40.966];
        for (got, want) in y.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // A grey image is its own Y.
        assert_eq!(y_plane(&grey(1, 3, |_, x| [0, 7, 255][x])).unwrap().values, vec![0.0, 7.0, 255.0]);
    }

    #[test]
    fn identical_images_score_infinity_and_one() {
        let image = texture(32, 40);
        assert_eq!(psnr_y(&image, &image, 2).unwrap(), f64::INFINITY);
        assert!((ssim_y(&image, &image, 2).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_constant_offset_on_y_has_the_closed_form_psnr() {
        // Grey images: Y is the grey value, so the offset is exactly d = 5.
        let hr = grey(20, 24, |y, x| ((x * 11 + y * 3) % 200) as u8);
        let sr = grey(20, 24, |y, x| ((x * 11 + y * 3) % 200) as u8 + 5);
        let expected = 20.0 * (255.0f64 / 5.0).log10(); // 34.151 dB
        assert!((psnr_y(&hr, &sr, 2).unwrap() - expected).abs() < 1e-9);
        // RGB: adding k to R, G and B adds k * (65.481 + 128.553 + 24.966) / 255 = 219 k / 255
        // to Y; k = 17 gives d = 14.6 exactly.
        let hr = rgb(20, 24, |c, y, x| ((x * 5 + y * 7 + c * 13) % 200) as u8);
        let sr = rgb(20, 24, |c, y, x| ((x * 5 + y * 7 + c * 13) % 200) as u8 + 17);
        let expected = 20.0 * (255.0f64 / 14.6).log10(); // 24.8437 dB
        let got = psnr_y(&hr, &sr, 3).unwrap();
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        assert!((got - 24.843_746_5).abs() < 1e-6);
    }

    #[test]
    fn ssim_of_two_flat_images_is_the_luminance_term() {
        // No variance anywhere: SSIM = (2 a b + C1) / (a² + b² + C1), C1 = 2.55² = 6.5025.
        let a = grey(30, 30, |_, _| 100);
        let b = grey(30, 30, |_, _| 110);
        let expected = (2.0 * 100.0 * 110.0 + 6.5025) / (100.0f64 * 100.0 + 110.0 * 110.0 + 6.5025);
        let got = ssim_y(&a, &b, 4).unwrap();
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        assert!((got - 0.995_476_444).abs() < 1e-9);
    }

    #[test]
    fn the_gaussian_window_sums_to_one_and_peaks_in_the_middle() {
        let taps = gaussian_taps();
        assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // Ratio of neighbours to the centre: exp(-1 / (2 * 1.5²)) = exp(-2/9).
        assert!((taps[6] / taps[5] - (-2.0f64 / 9.0).exp()).abs() < 1e-14);
        assert_eq!(taps[0], taps[10]);
    }

    #[test]
    fn valid_filtering_of_a_ramp_returns_the_centre_values() {
        // A symmetric window averages a linear ramp to its centre value.
        let plane = Plane { height: 13, width: 15, values: (0..13 * 15).map(|i| (i % 15) as f64 * 2.0 + (i / 15) as f64).collect() };
        let out = filter_valid(&plane, &gaussian_taps());
        assert_eq!((out.height, out.width), (3, 5));
        for y in 0..3 {
            for x in 0..5 {
                let centre = (x + 5) as f64 * 2.0 + (y + 5) as f64;
                assert!((out.values[y * 5 + x] - centre).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn differences_inside_the_border_do_not_count() {
        let hr = texture(24, 24);
        // Change every pixel within 2 of the border.
        let sr = rgb(24, 24, |c, y, x| {
            let v = hr.at(c, y, x);
            if y < 2 || x < 2 || y >= 22 || x >= 22 {
                v.wrapping_add(99)
            } else {
                v
            }
        });
        assert_eq!(psnr_y(&hr, &sr, 2).unwrap(), f64::INFINITY);
        assert!((ssim_y(&hr, &sr, 2).unwrap() - 1.0).abs() < 1e-12);
        // With a 1-pixel crop the changed ring counts.
        assert!(psnr_y(&hr, &sr, 1).unwrap().is_finite());
        assert!(ssim_y(&hr, &sr, 1).unwrap() < 1.0);
    }

    #[test]
    fn mismatched_or_too_small_images_are_errors_naming_the_sizes() {
        let a = texture(20, 30);
        let message = psnr_y(&a, &texture(20, 28), 2).unwrap_err().to_string();
        assert!(message.contains("30x20") && message.contains("28x20"), "{message}");
        let grey_a = grey(20, 30, |_, _| 0);
        let message = ssim_y(&a, &grey_a, 2).unwrap_err().to_string();
        assert!(message.contains("3 channels") && message.contains("1 channel"), "{message}");
        let message = psnr_y(&a, &a, 10).unwrap_err().to_string();
        assert!(message.contains("scale") && message.contains("30x20"), "{message}");
        // 20 - 2 * 5 = 10 rows remain: enough for PSNR, too few for the 11x11 window.
        assert!(psnr_y(&a, &a, 5).is_ok());
        let message = ssim_y(&a, &a, 5).unwrap_err().to_string();
        assert!(message.contains("20x10") && message.contains("11x11"), "{message}");
        let two = ImageU8::from_chw(2, 20, 30, vec![0; 2 * 20 * 30]);
        assert!(psnr_y(&two, &two, 2).unwrap_err().to_string().contains("not 2"));
    }

    #[test]
    fn accumulators_average_per_image_scores() {
        let hr = grey(20, 20, |y, x| (x * 8 + y * 4) as u8);
        let off = |d: u8| grey(20, 20, move |y, x| (x * 8 + y * 4) as u8 + d);
        let mut psnr = PsnrY::new(2);
        let mut ssim = SsimY::new(2);
        assert_eq!(psnr.compute(), None);
        // d = 1 and d = 10: 48.131 dB and 28.131 dB, mean 38.131 dB.
        assert!((psnr.update(&hr, &off(1)).unwrap() - 20.0 * 255f64.log10()).abs() < 1e-9);
        psnr.update(&hr, &off(10)).unwrap();
        assert!(psnr.update(&hr, &texture(20, 20)).is_err());
        assert_eq!(psnr.count(), 2);
        let expected = (20.0 * 255f64.log10() + 20.0 * 25.5f64.log10()) / 2.0;
        assert!((psnr.compute().unwrap() - expected).abs() < 1e-9);
        psnr.reset();
        assert_eq!((psnr.count(), psnr.compute()), (0, None));
        ssim.update(&hr, &hr).unwrap();
        ssim.update(&hr, &off(3)).unwrap();
        let expected = (1.0 + ssim_y(&hr, &off(3), 2).unwrap()) / 2.0;
        assert!((ssim.compute().unwrap() - expected).abs() < 1e-12);
        const { assert!(PsnrY::HIGHER_IS_BETTER && SsimY::HIGHER_IS_BETTER) };
        assert_eq!(PsnrY::UNIT, "dB");
    }

    #[test]
    fn psnr_ssim_y_agrees_with_the_separate_functions() {
        let hr = texture(30, 26);
        let sr = rgb(30, 26, |c, y, x| hr.at(c, y, x) / 2 + 40);
        let (p, s) = psnr_ssim_y(&hr, &sr, 3).unwrap();
        assert_eq!(p, psnr_y(&hr, &sr, 3).unwrap());
        assert_eq!(s, ssim_y(&hr, &sr, 3).unwrap());
    }
}
