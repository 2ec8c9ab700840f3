//! Bicubic resizing that reproduces MATLAB's `imresize` (default method 'bicubic',
//! antialiasing on), the function that made the LR images of DIV2K, Set5/Set14 and most
//! of the super-resolution literature.
//!
//! The algorithm follows the `contributions` and `cubic` subfunctions of MATLAB's
//! `imresize.m` (Image Processing Toolbox):
//! - Keys' cubic convolution kernel with a = -0.5, support [-2, 2];
//! - when shrinking by a factor s < 1 the kernel is stretched to `s * cubic(s * x)` and its
//!   width grows to `4 / s` (this is the antialiasing);
//! - output pixel `i` (1-based) samples the input at `u = i / s + 0.5 * (1 - 1 / s)`, which
//!   keeps the centres of the first and last pixels' footprints aligned;
//! - the `ceil(width) + 2` taps around `u` get weights normalised to sum 1, and taps outside
//!   the image are mirrored with the edge pixel repeated (`1..n, n..1, 1..n, ...`);
//! - the image is resized one dimension at a time, the dimension with the smaller scale
//!   first (rows first on a tie);
//! - for `uint8` images each one-dimensional pass rounds half away from zero and saturates
//!   to 0..=255, because MATLAB's `imresizemex` returns the class of its input; the
//!   intermediate image between the passes is therefore `uint8` too.
//!
//! Arithmetic is in `f64`, as MATLAB's. The expected values in the tests come from an
//! independent plain-Python implementation of the same documented algorithm,
//! `glcan-data/tests/fixtures/resize/imresize_reference.py` (fixture:
//! `tests/fixtures/resize/matlab_cases.txt`, checked by `tests/resize_matlab.rs`).
//! Against MATLAB's own output (R2015b, a uint8 image resized to a size with a different
//! scale per axis) both agree in every value; see `reports/exactness/`.
//!
//! Ports that work on floating-point images, such as BasicSR's `imresize`, compute what
//! MATLAB gives for a *double* image: no rounding or saturation between the passes. On
//! uint8 images they differ from MATLAB (and from this module) by up to a few levels.

use super::ImageU8;
use crate::{Error, Result};

/// Half-width of the unscaled cubic kernel's support.
const CUBIC_WIDTH: f64 = 4.0;

/// Keys' cubic convolution kernel with a = -0.5 (MATLAB's `cubic`).
fn cubic(x: f64) -> f64 {
    let a = x.abs();
    if a <= 1.0 {
        (1.5 * a - 2.5) * a * a + 1.0
    } else if a <= 2.0 {
        ((-0.5 * a + 2.5) * a - 4.0) * a + 2.0
    } else {
        0.0
    }
}

/// MATLAB's symmetric index mirroring: 1-based `index` into a length-`len` axis, where the
/// axis continues as `n, n-1, ..., 1, 1, 2, ...` beyond either end. Returns a 0-based index.
fn mirror(index: i64, len: usize) -> usize {
    let period = 2 * len as i64;
    let m = (index - 1).rem_euclid(period) as usize;
    if m < len {
        m
    } else {
        2 * len - 1 - m
    }
}

/// The taps of one axis: for each output position, `taps` source indices and their
/// weights, stored row after row.
struct Contributions {
    taps: usize,
    indices: Vec<usize>,
    weights: Vec<f64>,
}

impl Contributions {
    /// Weights for resizing an axis of `in_len` samples to `out_len` with factor `scale`.
    fn new(in_len: usize, out_len: usize, scale: f64) -> Self {
        // Shrinking stretches the kernel so that it also low-pass filters (antialiasing).
        let (kernel_scale, width) = if scale < 1.0 { (scale, CUBIC_WIDTH / scale) } else { (1.0, CUBIC_WIDTH) };
        // Two taps more than the support needs, as MATLAB takes; the spare ones get weight 0.
        let taps = width.ceil() as usize + 2;
        let mut indices = Vec::with_capacity(out_len * taps);
        let mut weights = Vec::with_capacity(out_len * taps);
        for i in 1..=out_len {
            let u = i as f64 / scale + 0.5 * (1.0 - 1.0 / scale);
            let left = (u - width / 2.0).floor() as i64;
            let start = weights.len();
            for k in 0..taps as i64 {
                let j = left + k;
                weights.push(kernel_scale * cubic(kernel_scale * (u - j as f64)));
                indices.push(mirror(j, in_len));
            }
            // The kernel is a partition of unity only at scale 1; normalising keeps flat
            // regions flat at every scale. The sum is near 1, never 0.
            let sum: f64 = weights[start..].iter().sum();
            weights[start..].iter_mut().for_each(|w| *w /= sum);
        }
        Contributions { taps, indices, weights }
    }

    /// Output `o` as the weighted sum of `source(index)` over its taps.
    fn apply(&self, o: usize, source: impl Fn(usize) -> f64) -> f64 {
        let range = o * self.taps..(o + 1) * self.taps;
        self.indices[range.clone()].iter().zip(&self.weights[range]).map(|(&i, &w)| w * source(i)).sum()
    }
}

/// MATLAB's conversion of a double to `uint8`: round half away from zero, then saturate.
fn to_u8_value(v: f64) -> f64 {
    v.round().clamp(0.0, 255.0)
}

/// The order in which MATLAB resizes the two axes: smaller scale first, rows on a tie.
fn rows_first(scale_h: f64, scale_w: f64) -> bool {
    scale_h <= scale_w
}

/// Resizes one row-major `height x width` plane along the rows (`vertical`) or the columns,
/// applying `finish` to every output value (rounding for `uint8`, identity for `f64`).
fn resize_axis(
    plane: &[f64],
    height: usize,
    width: usize,
    vertical: bool,
    contributions: &Contributions,
    out_len: usize,
    finish: fn(f64) -> f64,
) -> Vec<f64> {
    if vertical {
        let mut out = Vec::with_capacity(out_len * width);
        for y in 0..out_len {
            for x in 0..width {
                out.push(finish(contributions.apply(y, |sy| plane[sy * width + x])));
            }
        }
        out
    } else {
        let mut out = Vec::with_capacity(height * out_len);
        for y in 0..height {
            let row = &plane[y * width..(y + 1) * width];
            for x in 0..out_len {
                out.push(finish(contributions.apply(x, |sx| row[sx])));
            }
        }
        out
    }
}

/// The scale factors and sizes of one resize, checked.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
    scale_h: f64,
    scale_w: f64,
}

impl Geometry {
    /// `imresize(A, [out_height out_width])`: the scales are output size over input size.
    fn to_size(height: usize, width: usize, out_height: usize, out_width: usize) -> Result<Self> {
        Self::checked(height, width, out_height, out_width, out_height as f64 / height as f64, out_width as f64 / width as f64)
    }

    fn checked(height: usize, width: usize, out_height: usize, out_width: usize, scale_h: f64, scale_w: f64) -> Result<Self> {
        if height == 0 || width == 0 {
            return Err(Error::config("resize input", format!("cannot resize an empty {height}x{width} image")));
        }
        if out_height == 0 || out_width == 0 {
            return Err(Error::config(
                "resize output size",
                format!("{out_height}x{out_width} has no pixels (resizing a {height}x{width} image)"),
            ));
        }
        Ok(Geometry { height, width, out_height, out_width, scale_h, scale_w })
    }

    /// Resizes one plane, both axes in MATLAB's order, `finish` applied after each pass.
    fn resize(&self, plane: &[f64], finish: fn(f64) -> f64) -> Vec<f64> {
        let rows = Contributions::new(self.height, self.out_height, self.scale_h);
        let cols = Contributions::new(self.width, self.out_width, self.scale_w);
        if rows_first(self.scale_h, self.scale_w) {
            let mid = resize_axis(plane, self.height, self.width, true, &rows, self.out_height, finish);
            resize_axis(&mid, self.out_height, self.width, false, &cols, self.out_width, finish)
        } else {
            let mid = resize_axis(plane, self.height, self.width, false, &cols, self.out_width, finish);
            resize_axis(&mid, self.height, self.out_width, true, &rows, self.out_height, finish)
        }
    }

    fn resize_image(&self, image: &ImageU8) -> ImageU8 {
        let plane = self.height * self.width;
        let mut data = Vec::with_capacity(image.channels() * self.out_height * self.out_width);
        for channel in image.as_slice().chunks_exact(plane) {
            let values: Vec<f64> = channel.iter().map(|&v| f64::from(v)).collect();
            // Values are already integers in 0..=255 after `to_u8_value`; `as` is exact.
            data.extend(self.resize(&values, to_u8_value).into_iter().map(|v| v as u8));
        }
        ImageU8::from_chw(image.channels(), self.out_height, self.out_width, data)
    }
}

/// `imresize(image, [out_height out_width])` on a `uint8` image: bicubic, antialiased when
/// shrinking, each channel separately. Errors on an empty input or a zero output size.
pub fn imresize_bicubic(image: &ImageU8, out_height: usize, out_width: usize) -> Result<ImageU8> {
    Ok(Geometry::to_size(image.height(), image.width(), out_height, out_width)?.resize_image(image))
}

/// `imresize(plane, [out_height out_width])` on a `double` plane (row-major
/// `height x width`): the same weights as [`imresize_bicubic`], no rounding or clamping,
/// so overshoot beyond the input range survives, as in MATLAB.
pub fn resize_plane_f64(plane: &[f64], height: usize, width: usize, out_height: usize, out_width: usize) -> Result<Vec<f64>> {
    if plane.len() != height * width {
        return Err(Error::config("resize input", format!("plane of {} values is not {height}x{width}", plane.len())));
    }
    Ok(Geometry::to_size(height, width, out_height, out_width)?.resize(plane, |v| v))
}

/// `imresize(image, 1/scale)`: the LR image of a super-resolution pair, as DIV2K's
/// `*_LR_bicubic` folders were made. The output is `ceil(size / scale)` (exactly
/// `size / scale` when `scale` divides the size, see [`super::sr::mod_crop`]); the kernel
/// uses the factor `1/scale` itself, as MATLAB does for a scalar scale.
pub fn downscale(image: &ImageU8, scale: usize) -> Result<ImageU8> {
    if scale == 0 {
        return Err(Error::config("scale", "a downscaling factor of 0"));
    }
    let factor = 1.0 / scale as f64;
    let geometry =
        Geometry::checked(image.height(), image.width(), image.height().div_ceil(scale), image.width().div_ceil(scale), factor, factor)?;
    Ok(geometry.resize_image(image))
}

/// `imresize(image, scale)` for an integer factor: the bicubic upsampling that is the
/// baseline row of super-resolution tables. The output is `size * scale`.
pub fn upscale(image: &ImageU8, scale: usize) -> Result<ImageU8> {
    if scale == 0 {
        return Err(Error::config("scale", "an upscaling factor of 0"));
    }
    let factor = scale as f64;
    let geometry = Geometry::checked(image.height(), image.width(), image.height() * scale, image.width() * scale, factor, factor)?;
    Ok(geometry.resize_image(image))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-channel image from rows of values.
    fn gray(rows: &[&[u8]]) -> ImageU8 {
        let data: Vec<u8> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        ImageU8::from_chw(1, rows.len(), rows[0].len(), data)
    }

    fn rows_of(image: &ImageU8) -> Vec<Vec<u8>> {
        image.as_slice().chunks(image.width()).take(image.height()).map(|r| r.to_vec()).collect()
    }

    // Fixtures printed by tests/fixtures/resize/imresize_reference.py (independent Python).
    const MAGIC4: [&[u8]; 4] = [&[16, 2, 3, 13], &[5, 11, 10, 8], &[9, 7, 6, 12], &[4, 14, 15, 1]];
    const PATTERN: [&[u8]; 5] = [
        &[0, 91, 182, 17, 108, 199],
        &[37, 181, 69, 54, 198, 86],
        &[148, 89, 127, 165, 106, 144],
        &[77, 168, 3, 94, 185, 20],
        &[80, 224, 112, 97, 241, 129],
    ];

    #[test]
    fn kernel_and_mirroring_follow_matlab() {
        assert_eq!(cubic(0.0), 1.0);
        assert_eq!(cubic(1.0), 0.0);
        assert_eq!(cubic(0.5), 0.5625);
        assert_eq!(cubic(1.5), -0.0625);
        assert_eq!(cubic(2.5), 0.0);
        // n = 3: ... 2 1 0 | 0 1 2 | 2 1 0 ... (0-based), the edge pixel repeats.
        let mirrored: Vec<usize> = (-2..=6).map(|j| mirror(j, 3)).collect();
        assert_eq!(mirrored, [2, 1, 0, 0, 1, 2, 2, 1, 0]);
        assert_eq!((-3..=3).map(|j| mirror(j, 1)).collect::<Vec<_>>(), [0; 7]);
    }

    #[test]
    fn identity_at_scale_one() {
        let image = ImageU8::from_chw(3, 5, 6, (0..90u8).map(|v| v.wrapping_mul(37)).collect());
        assert_eq!(imresize_bicubic(&image, 5, 6).unwrap(), image);
        assert_eq!(downscale(&image, 1).unwrap(), image);
        let plane: Vec<f64> = (0..30).map(|v| (v as f64 * 0.7).sin()).collect();
        let same = resize_plane_f64(&plane, 5, 6, 5, 6).unwrap();
        for (a, b) in plane.iter().zip(&same) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let image = ImageU8::from_chw(2, 9, 7, [vec![77u8; 63], vec![255u8; 63]].concat());
        for (h, w) in [(3, 2), (4, 5), (18, 14), (11, 3), (1, 1)] {
            let out = imresize_bicubic(&image, h, w).unwrap();
            assert_eq!((out.channels(), out.height(), out.width()), (2, h, w));
            assert!(out.as_slice()[..h * w].iter().all(|&v| v == 77), "{h}x{w}: {:?}", out.as_slice());
            assert!(out.as_slice()[h * w..].iter().all(|&v| v == 255), "{h}x{w}: {:?}", out.as_slice());
        }
        let plane = vec![0.25; 63];
        for v in resize_plane_f64(&plane, 9, 7, 4, 10).unwrap() {
            assert!((v - 0.25).abs() < 1e-12, "{v}");
        }
    }

    /// Bicubic interpolation reproduces a linear function exactly wherever no tap is mirrored
    /// (for shrinking, when the factor is an integer so the taps sit symmetrically around u).
    #[test]
    fn linear_ramp_interior_is_exact() {
        let (h, w) = (24, 30);
        let ramp = |y: f64, x: f64| 3.0 * y - 2.0 * x + 5.0;
        let plane: Vec<f64> = (0..h * w).map(|i| ramp((i / w) as f64 + 1.0, (i % w) as f64 + 1.0)).collect();
        for (oh, ow) in [(48, 60), (37, 41), (12, 15), (8, 10), (6, 6)] {
            let out = resize_plane_f64(&plane, h, w, oh, ow).unwrap();
            let (sh, sw) = (oh as f64 / h as f64, ow as f64 / w as f64);
            let centre = |i: usize, s: f64| i as f64 / s + 0.5 * (1.0 - 1.0 / s);
            // Half the kernel's reach, in input pixels, plus one for the edge.
            let margin = |s: f64| if s < 1.0 { 2.0 / s + 1.0 } else { 3.0 };
            let mut checked = 0;
            for y in 1..=oh {
                for x in 1..=ow {
                    let (u, v) = (centre(y, sh), centre(x, sw));
                    if u < margin(sh) || u > h as f64 + 1.0 - margin(sh) || v < margin(sw) || v > w as f64 + 1.0 - margin(sw) {
                        continue;
                    }
                    let got = out[(y - 1) * ow + x - 1];
                    assert!((got - ramp(u, v)).abs() < 1e-9, "{oh}x{ow} at ({y},{x}): {got} vs {}", ramp(u, v));
                    checked += 1;
                }
            }
            assert!(checked > 0, "{oh}x{ow}: no interior pixel checked");
        }
    }

    #[test]
    fn uint8_matches_reference_implementation() {
        let magic = gray(&MAGIC4);
        assert_eq!(rows_of(&downscale(&magic, 2).unwrap()), [[9, 9], [9, 9]]);
        let pattern = gray(&PATTERN);
        // Different scales per axis: these values depend on the order rule and on rounding
        // after each pass (the script checks that both alternatives give other values).
        assert_eq!(rows_of(&imresize_bicubic(&pattern, 3, 4).unwrap()), [[44, 133, 71, 160], [118, 97, 132, 110], [122, 117, 137, 133]]);
        assert_eq!(
            rows_of(&imresize_bicubic(&pattern, 7, 5).unwrap()),
            [
                [5, 131, 103, 62, 196],
                [33, 147, 61, 122, 139],
                [84, 139, 72, 154, 110],
                [139, 97, 152, 125, 137],
                [108, 102, 62, 154, 61],
                [96, 148, 49, 183, 81],
                [103, 199, 93, 201, 155]
            ]
        );
        // imresize(pattern, 1/3): ceil(5/3) x ceil(6/3).
        assert_eq!(rows_of(&downscale(&pattern, 3).unwrap()), [[90, 123], [123, 133]]);
        let up = upscale(&pattern, 2).unwrap();
        let expected_up: [[u8; 12]; 10] = [
            [0, 14, 58, 115, 185, 162, 47, 16, 71, 128, 190, 220],
            [0, 25, 86, 131, 161, 131, 43, 33, 100, 145, 168, 179],
            [8, 54, 145, 164, 111, 69, 37, 67, 161, 180, 125, 97],
            [54, 87, 152, 156, 97, 68, 71, 104, 170, 173, 114, 84],
            [134, 125, 108, 105, 115, 128, 145, 144, 126, 123, 134, 140],
            [145, 132, 106, 94, 97, 116, 150, 153, 124, 112, 118, 121],
            [89, 107, 144, 122, 42, 30, 86, 131, 163, 141, 65, 27],
            [63, 100, 174, 157, 48, 17, 63, 122, 193, 176, 70, 17],
            [65, 109, 195, 198, 115, 77, 81, 126, 212, 215, 133, 92],
            [66, 113, 206, 218, 149, 106, 89, 128, 223, 235, 164, 129],
        ];
        assert_eq!(rows_of(&up), expected_up.map(|r| r.to_vec()).to_vec());
    }

    #[test]
    fn f64_matches_reference_implementation() {
        let close = |got: &[f64], want: &[f64]| {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-9, "{got:?}\nvs\n{want:?}");
            }
        };
        let magic: Vec<f64> = MAGIC4.iter().flat_map(|r| r.iter().map(|&v| f64::from(v))).collect();
        close(&resize_plane_f64(&magic, 4, 4, 2, 2).unwrap(), &[8.5; 4]);
        close(
            &resize_plane_f64(&magic, 4, 4, 3, 7).unwrap(),
            &[
                14.316720728026313,
                10.430932188390969,
                4.45676901318711,
                3.328918322295803,
                4.981089384665881,
                9.4757282998346,
                12.350036040906428,
                6.560432155445635,
                7.557966556931709,
                9.017090990449672,
                8.5,
                7.982909009550327,
                9.442033443068292,
                10.439567844554368,
                4.64996395909357,
                7.5242717001653965,
                12.018910615334118,
                13.671081677704196,
                12.543230986812894,
                6.56906781160903,
                2.6832792719736878,
            ],
        );
        let pattern: Vec<f64> = PATTERN.iter().flat_map(|r| r.iter().map(|&v| f64::from(v))).collect();
        close(
            &resize_plane_f64(&pattern, 5, 6, 3, 4).unwrap(),
            &[
                43.44205135086777,
                132.54911433172308,
                70.45088566827697,
                159.55794864913224,
                117.98121818500967,
                96.91322187116027,
                131.66655695980344,
                110.59856064595404,
                121.63416979781715,
                117.28220611916268,
                137.3409822866345,
                132.98901860798003,
            ],
        );
    }

    #[test]
    fn tiny_images_do_not_panic() {
        assert_eq!(rows_of(&imresize_bicubic(&gray(&[&[200]]), 2, 3).unwrap()), [[200, 200, 200], [200, 200, 200]]);
        assert_eq!(rows_of(&imresize_bicubic(&gray(&[&[0, 255], &[255, 0]]), 1, 1).unwrap()), [[128]]);
        for (h, w) in [(1, 1), (1, 5), (2, 3), (3, 1)] {
            let image = ImageU8::from_chw(3, h, w, (0..3 * h * w).map(|v| (v * 29 % 256) as u8).collect());
            for (oh, ow) in [(1, 1), (1, 2), (7, 3), (2, 9)] {
                let out = imresize_bicubic(&image, oh, ow).unwrap();
                assert_eq!((out.channels(), out.height(), out.width()), (3, oh, ow));
            }
            for scale in [2, 3, 4, 8] {
                let out = downscale(&image, scale).unwrap();
                assert_eq!((out.height(), out.width()), (h.div_ceil(scale), w.div_ceil(scale)));
            }
        }
    }

    #[test]
    fn downscale_size_is_ceil_of_size_over_scale() {
        let image = ImageU8::from_chw(1, 12, 10, vec![9; 120]);
        let out = downscale(&image, 4).unwrap();
        assert_eq!((out.height(), out.width()), (3, 3));
        let out = downscale(&image, 2).unwrap();
        assert_eq!((out.height(), out.width()), (6, 5));
        let out = upscale(&out, 2).unwrap();
        assert_eq!((out.height(), out.width()), (12, 10));
    }

    #[test]
    fn zero_sizes_are_errors() {
        let image = ImageU8::from_chw(1, 4, 4, vec![0; 16]);
        let message = imresize_bicubic(&image, 0, 3).unwrap_err().to_string();
        assert!(message.contains("output size") && message.contains("0x3"), "{message}");
        let message = resize_plane_f64(&[1.0; 6], 2, 3, 2, 0).unwrap_err().to_string();
        assert!(message.contains("2x0"), "{message}");
        let message = resize_plane_f64(&[1.0; 5], 2, 3, 2, 2).unwrap_err().to_string();
        assert!(message.contains("5 values") && message.contains("2x3"), "{message}");
        let empty = ImageU8::from_chw(1, 0, 4, vec![]);
        let message = imresize_bicubic(&empty, 2, 2).unwrap_err().to_string();
        assert!(message.contains("empty 0x4"), "{message}");
        assert!(downscale(&image, 0).unwrap_err().to_string().contains("factor of 0"));
        assert!(upscale(&image, 0).unwrap_err().to_string().contains("factor of 0"));
    }
}
