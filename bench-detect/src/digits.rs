//! The digit-detection set: real MNIST digits pasted on black canvases at random scales,
//! with exact boxes, written to disk in COCO JSON and Pascal VOC XML so that the suite
//! reads it through the same readers as real COCO and VOC.
//!
//! Train canvases use MNIST training digits only, test canvases MNIST test digits only.
//! A digit is scaled by a factor drawn uniformly from `[min_scale, max_scale]` (bicubic),
//! pixels below [`INK`] are set to 0, and its box is the exact extent of the pixels left:
//! tight, in continuous pixel coordinates, with integer corners. Digits do not overlap
//! (a placement whose box would touch another box is drawn again, up to 50 tries).
//!
//! Layout of `<out>/`:
//! ```text
//! digits.json                 the generator's config (a second run with the same config is a no-op)
//! annotations/instances_train.json, instances_test.json   COCO instances (category id = digit + 1)
//! train/000000.png, 000000.xml, ...                       8-bit grey canvases, VOC XML beside them
//! test/...
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use glcan_data::idx::{IdxDataset, IdxShape};
use glcan_data::resize::imresize_bicubic;
use glcan_data::{Dataset, ImageU8, Split};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pixels darker than this after scaling are cleared, so the box is exactly the ink drawn.
pub const INK: u8 = 32;

/// What to generate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigitsConfig {
    pub train: usize,
    pub test: usize,
    /// Side of the square canvases, pixels.
    pub canvas: usize,
    pub min_digits: usize,
    pub max_digits: usize,
    pub min_scale: f64,
    pub max_scale: f64,
    pub seed: u64,
}

impl Default for DigitsConfig {
    fn default() -> Self {
        DigitsConfig { train: 4000, test: 1000, canvas: 128, min_digits: 1, max_digits: 4, min_scale: 0.5, max_scale: 2.0, seed: 0 }
    }
}

impl DigitsConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(self.train > 0 && self.test > 0, "digits: train and test must be at least 1");
        ensure!(self.min_digits >= 1 && self.min_digits <= self.max_digits, "digits: need 1 <= min_digits <= max_digits");
        ensure!(
            self.min_scale > 0.0 && self.min_scale <= self.max_scale && self.max_scale.is_finite(),
            "digits: need 0 < min_scale <= max_scale, got {} and {}",
            self.min_scale,
            self.max_scale
        );
        ensure!(
            (28.0 * self.max_scale).ceil() as usize <= self.canvas,
            "digits: a digit at max_scale {} ({} px) does not fit a {} px canvas",
            self.max_scale,
            (28.0 * self.max_scale).ceil(),
            self.canvas
        );
        Ok(())
    }
}

/// One pasted digit: its class and tight box `[x1, y1, x2, y2]` (continuous, integer corners).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedDigit {
    pub digit: u8,
    pub bbox: [u32; 4],
}

/// One canvas: `canvas x canvas` grey pixels, row-major, and its digits.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub pixels: Vec<u8>,
    pub digits: Vec<PlacedDigit>,
}

/// Draws one canvas from `source`'s digits with `rng`.
pub fn draw_canvas(source: &IdxDataset, config: &DigitsConfig, rng: &mut ChaCha8Rng) -> Result<Canvas> {
    let side = config.canvas;
    let mut pixels = vec![0u8; side * side];
    let mut digits: Vec<PlacedDigit> = Vec::new();
    let count = rng.random_range(config.min_digits..=config.max_digits);
    for _ in 0..count {
        let sample = source.get(rng.random_range(0..source.len()))?;
        let scale = rng.random_range(config.min_scale..=config.max_scale);
        let size = ((28.0 * scale).round() as usize).clamp(1, side);
        let patch = imresize_bicubic(&sample.image, size, size)?;
        let Some([px1, py1, px2, py2]) = ink_box(&patch) else { continue };
        for _ in 0..50 {
            let (ox, oy) = (rng.random_range(0..=side - size), rng.random_range(0..=side - size));
            let bbox = [(ox + px1) as u32, (oy + py1) as u32, (ox + px2) as u32, (oy + py2) as u32];
            if digits.iter().any(|d| touches(&d.bbox, &bbox)) {
                continue;
            }
            for y in 0..size {
                for x in 0..size {
                    let v = patch.at(0, y, x);
                    if v >= INK {
                        pixels[(oy + y) * side + ox + x] = v;
                    }
                }
            }
            digits.push(PlacedDigit { digit: sample.target as u8, bbox });
            break;
        }
    }
    Ok(Canvas { pixels, digits })
}

/// The exact extent `[x1, y1, x2, y2]` of the pixels `>= INK` of a 1-channel image.
fn ink_box(image: &ImageU8) -> Option<[usize; 4]> {
    let mut bbox: Option<[usize; 4]> = None;
    for y in 0..image.height() {
        for x in 0..image.width() {
            if image.at(0, y, x) >= INK {
                let b = bbox.get_or_insert([x, y, x + 1, y + 1]);
                *b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
            }
        }
    }
    bbox
}

/// Whether two boxes share any pixel.
fn touches(a: &[u32; 4], b: &[u32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Generates the set into `out` (see the module docs), unless `out` already holds one made
/// with the same config. Writes to a temporary folder beside `out` and renames it, so an
/// interrupted run leaves no half-written set. Returns whether it generated anything.
pub fn generate(mnist_dir: &Path, out: &Path, config: &DigitsConfig) -> Result<bool> {
    config.validate()?;
    let manifest = out.join("digits.json");
    let wanted = serde_json::to_string_pretty(config)?;
    if out.exists() {
        let existing =
            std::fs::read_to_string(&manifest).with_context(|| format!("{} exists but is no digit set (no digits.json)", out.display()))?;
        if existing == wanted {
            return Ok(false);
        }
        bail!("{} holds a digit set made with another config ({}); remove it or choose another --out", out.display(), manifest.display());
    }
    let partial = PathBuf::from(format!("{}.partial-{}", out.display(), std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).with_context(|| format!("cannot clear {}", partial.display()))?;
    }
    for (split, count, folder, stream) in [(Split::Train, config.train, "train", 0u64), (Split::Test, config.test, "test", 1u64)] {
        let source = IdxDataset::open_split(mnist_dir, split)
            .and_then(|source| source.expect(IdxShape::MNIST))
            .with_context(|| format!("reading MNIST from {}", mnist_dir.display()))?;
        if count > 0 && source.is_empty() {
            bail!("reading MNIST from {}: the {folder} split holds no images to draw from", mnist_dir.display());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_mul(2).wrapping_add(stream));
        let dir = partial.join(folder);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut coco = CocoWriter::default();
        for i in 0..count {
            let canvas = draw_canvas(&source, config, &mut rng)?;
            let name = format!("{i:06}");
            let png = dir.join(format!("{name}.png"));
            image::GrayImage::from_raw(config.canvas as u32, config.canvas as u32, canvas.pixels.clone())
                .context("canvas buffer size")?
                .save(&png)
                .with_context(|| format!("cannot write {}", png.display()))?;
            let xml = dir.join(format!("{name}.xml"));
            std::fs::write(&xml, voc_xml(folder, &format!("{name}.png"), config.canvas, &canvas.digits))
                .with_context(|| format!("cannot write {}", xml.display()))?;
            coco.add(i as i64 + 1, &format!("{name}.png"), config.canvas, &canvas.digits);
        }
        let annotations = partial.join("annotations");
        std::fs::create_dir_all(&annotations).with_context(|| format!("cannot create {}", annotations.display()))?;
        let json = annotations.join(format!("instances_{folder}.json"));
        std::fs::write(&json, coco.finish()).with_context(|| format!("cannot write {}", json.display()))?;
    }
    std::fs::write(partial.join("digits.json"), wanted)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::rename(&partial, out).with_context(|| format!("cannot move {} to {}", partial.display(), out.display()))?;
    Ok(true)
}

/// The class names: the digits.
pub fn class_names() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// Pascal VOC XML of one canvas (1-based inclusive pixel boxes, see glcan-core `data::voc`).
fn voc_xml(folder: &str, file_name: &str, side: usize, digits: &[PlacedDigit]) -> String {
    let mut xml = format!(
        "<annotation>\n  <folder>{folder}</folder>\n  <filename>{file_name}</filename>\n  <size><width>{side}</width><height>{side}</height><depth>1</depth></size>\n"
    );
    for d in digits {
        let [x1, y1, x2, y2] = d.bbox;
        let _ = writeln!(
            xml,
            "  <object><name>{}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>",
            d.digit,
            x1 + 1,
            y1 + 1
        );
    }
    xml.push_str("</annotation>\n");
    xml
}

/// Accumulates a COCO instances file.
#[derive(Default)]
struct CocoWriter {
    images: Vec<serde_json::Value>,
    annotations: Vec<serde_json::Value>,
}

impl CocoWriter {
    fn add(&mut self, image_id: i64, file_name: &str, side: usize, digits: &[PlacedDigit]) {
        self.images.push(serde_json::json!({"id": image_id, "file_name": file_name, "width": side, "height": side}));
        for d in digits {
            let [x1, y1, x2, y2] = d.bbox;
            let (w, h) = (x2 - x1, y2 - y1);
            self.annotations.push(serde_json::json!({
                "id": self.annotations.len() + 1, "image_id": image_id, "category_id": d.digit as i64 + 1,
                "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0
            }));
        }
    }

    fn finish(self) -> String {
        let categories: Vec<_> =
            (0..10).map(|d| serde_json::json!({"id": d + 1, "name": d.to_string(), "supercategory": "digit"})).collect();
        serde_json::json!({"images": self.images, "annotations": self.annotations, "categories": categories}).to_string()
    }
}
