//! The in-memory image type of every reader: 8-bit, channels-first.

use std::path::Path;

use crate::{Error, Result};

/// An 8-bit image stored channel by channel (CHW): `data[(c * height + y) * width + x]`.
/// Datasets keep images in this form (4x smaller than f32) and the loader converts whole
/// batches to float tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageU8 {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<u8>,
}

impl ImageU8 {
    /// Wraps CHW bytes. The length must be `channels * height * width`: readers check their
    /// input before building an image, so a mismatch here is a bug, not bad input.
    pub fn from_chw(channels: usize, height: usize, width: usize, data: Vec<u8>) -> Self {
        assert_eq!(data.len(), channels * height * width, "ImageU8: {channels}x{height}x{width} needs {} bytes", channels * height * width);
        ImageU8 { channels, height, width, data }
    }

    /// Converts interleaved HWC bytes (as image files decode) to CHW.
    pub fn from_hwc(channels: usize, height: usize, width: usize, hwc: &[u8]) -> Self {
        assert_eq!(hwc.len(), channels * height * width, "ImageU8: HWC buffer of wrong length");
        let plane = height * width;
        let mut data = vec![0u8; hwc.len()];
        for (pixel, values) in hwc.chunks_exact(channels).enumerate() {
            for (c, &v) in values.iter().enumerate() {
                data[c * plane + pixel] = v;
            }
        }
        ImageU8 { channels, height, width, data }
    }

    /// Decodes an image file (PNG, JPEG, BMP, TIFF) as 3-channel RGB; grey, palette, 16-bit
    /// and alpha images are converted. A truncated JPEG is an error (the decoder would fill
    /// the missing rows silently; see `jpeg_complete`).
    pub fn open_rgb(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes.as_slice()));
        // The extension is the fallback; the content decides (an ILSVRC `.JPEG` may be a PNG).
        if let Ok(format) = image::ImageFormat::from_path(path) {
            reader.set_format(format);
        }
        let reader = reader.with_guessed_format().map_err(|e| Error::io(path, e))?;
        if reader.format() == Some(image::ImageFormat::Jpeg) {
            super::jpeg_complete::check(&bytes).map_err(|fault| Error::bad_data(path, format!("truncated JPEG: {fault}")))?;
        }
        let decoded = reader.decode().map_err(|cause| Error::Image { path: path.to_path_buf(), cause })?;
        Ok(Self::from_rgb(&decoded.to_rgb8()))
    }

    /// Copies an `image::RgbImage`.
    pub fn from_rgb(rgb: &image::RgbImage) -> Self {
        Self::from_hwc(3, rgb.height() as usize, rgb.width() as usize, rgb.as_raw())
    }

    /// An `image::RgbImage` (for saving); a 1-channel image is repeated into R, G and B.
    pub fn to_rgb(&self) -> image::RgbImage {
        let plane = self.height * self.width;
        let mut hwc = Vec::with_capacity(plane * 3);
        for pixel in 0..plane {
            for c in 0..3 {
                let source = if self.channels == 1 { 0 } else { c };
                hwc.push(self.data[source * plane + pixel]);
            }
        }
        image::RgbImage::from_raw(self.width as u32, self.height as u32, hwc).expect("buffer sized for the image")
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The CHW bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    /// Value at channel `c`, row `y`, column `x`.
    pub fn at(&self, c: usize, y: usize, x: usize) -> u8 {
        self.data[(c * self.height + y) * self.width + x]
    }

    /// A `uint8` tensor of shape `[C, H, W]` on the CPU.
    pub fn to_tensor(&self) -> tch::Tensor {
        tch::Tensor::from_slice(&self.data).view([self.channels as i64, self.height as i64, self.width as i64])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwc_to_chw_and_back() {
        // 1x2 RGB image: pixel 0 = (1, 2, 3), pixel 1 = (4, 5, 6).
        let image = ImageU8::from_hwc(3, 1, 2, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(image.as_slice(), &[1, 4, 2, 5, 3, 6]);
        assert_eq!(image.at(2, 0, 1), 6);
        assert_eq!(image.to_rgb().as_raw(), &vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn tensor_has_chw_shape() {
        let image = ImageU8::from_chw(1, 2, 3, vec![0, 1, 2, 3, 4, 5]);
        let t = image.to_tensor();
        assert_eq!(t.size(), [1, 2, 3]);
        assert_eq!(t.int64_value(&[0, 1, 2]), 5);
    }

    #[test]
    fn unreadable_image_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.png");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let message = ImageU8::open_rgb(&path).unwrap_err().to_string();
        assert!(message.contains("broken.png") && message.contains("unreadable image"), "{message}");
        let missing = ImageU8::open_rgb(dir.path().join("missing.png")).unwrap_err().to_string();
        assert!(missing.contains("missing.png"), "{missing}");
    }

    #[test]
    fn a_truncated_jpeg_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // Texture, so that most of the file is scan data and half of it cuts the scan.
        let rgb = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([((x * 37 + y * 91 + x * y * 7) % 251) as u8, (y * 5) as u8, 90]));
        let whole = dir.path().join("whole.jpg");
        rgb.save(&whole).unwrap();
        assert_eq!(ImageU8::open_rgb(&whole).unwrap().height(), 48);
        let bytes = std::fs::read(&whole).unwrap();
        // Under a PNG name too: the content says JPEG.
        for name in ["half.jpg", "half.png"] {
            let half = dir.path().join(name);
            std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
            let message = ImageU8::open_rgb(&half).unwrap_err().to_string();
            assert_eq!(
                message,
                format!("{}: truncated JPEG: the file ends inside scan 1, without the end-of-image marker (FF D9)", half.display())
            );
        }
    }
}
