//! Where the report's image grid looks: one square window per test image, the same for the
//! bicubic estimate, every method's SR output and the HR original, chosen from the HR
//! image alone (the most detailed window, where methods differ most).

use std::path::Path;

use glcan_data::ImageU8;

/// Grid step, in pixels, of the candidate windows' top-left corners.
const STEP: usize = 8;

/// A `size x size` window whose top-left pixel is (`y`, `x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropWindow {
    pub y: usize,
    pub x: usize,
    pub size: usize,
}

impl CropWindow {
    /// The window of side `size` (at most the image's shorter side) with the largest sum of
    /// absolute horizontal and vertical differences of the green channel (luma's largest
    /// part), among corners on an 8-pixel grid; the first one in raster order on ties.
    pub fn choose(hr: &ImageU8, size: usize) -> CropWindow {
        let (h, w) = (hr.height(), hr.width());
        let size = size.min(h).min(w).max(1);
        let channel = if hr.channels() >= 3 { 1 } else { 0 };
        // Detail per pixel, then a summed-area table for O(1) window sums.
        let mut integral = vec![0u64; (h + 1) * (w + 1)];
        for y in 0..h {
            let mut row = 0u64;
            for x in 0..w {
                let v = i32::from(hr.at(channel, y, x));
                let dx = if x + 1 < w { (i32::from(hr.at(channel, y, x + 1)) - v).unsigned_abs() } else { 0 };
                let dy = if y + 1 < h { (i32::from(hr.at(channel, y + 1, x)) - v).unsigned_abs() } else { 0 };
                row += u64::from(dx + dy);
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
            }
        }
        let sum = |y: usize, x: usize| {
            let at = |yy: usize, xx: usize| integral[yy * (w + 1) + xx];
            at(y + size, x + size) + at(y, x) - at(y, x + size) - at(y + size, x)
        };
        let mut best = (0u64, 0usize, 0usize);
        for y in (0..=h - size).step_by(STEP) {
            for x in (0..=w - size).step_by(STEP) {
                let detail = sum(y, x);
                if detail > best.0 {
                    best = (detail, y, x);
                }
            }
        }
        CropWindow { y: best.1, x: best.2, size }
    }
}

/// The crop file of the test image `name`: its stem with `.png`.
pub fn crop_file_name(name: &str) -> String {
    let stem = Path::new(name).file_stem().map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned());
    format!("{stem}.png")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_lands_on_the_detail() {
        // A flat 64x48 image with a checkerboard patch at rows 24..40, columns 32..48.
        let (h, w) = (48, 64);
        let mut data = vec![100u8; 3 * h * w];
        for c in 0..3 {
            for y in 24..40 {
                for x in 32..48 {
                    data[(c * h + y) * w + x] = if (x + y) % 2 == 0 { 0 } else { 255 };
                }
            }
        }
        let image = ImageU8::from_chw(3, h, w, data);
        assert_eq!(CropWindow::choose(&image, 16), CropWindow { y: 24, x: 32, size: 16 });
        // Larger than the image: the window shrinks to the shorter side.
        assert_eq!(CropWindow::choose(&image, 500).size, 48);
        assert_eq!(crop_file_name("skimage-rocket.jpg"), "skimage-rocket.png");
    }
}
