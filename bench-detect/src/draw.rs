//! A picture of predictions: test images side by side, true boxes in green, predicted
//! boxes (score >= a threshold) in red, each labelled with its class index in a tiny
//! built-in 3x5 pixel font (no font files needed).

use std::path::Path;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

use crate::data::Example;

const GREEN: Rgb<u8> = Rgb([40, 220, 60]);
const RED: Rgb<u8> = Rgb([255, 50, 40]);

/// 3x5 glyphs of the digits 0-9, one row per 3-bit number (high bit left).
const GLYPHS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// Draws `examples` (at `zoom` times their size, in a row of up to 4 per line) into a PNG
/// at `path`; predictions below `min_score` are left out.
pub fn predictions_png(examples: &[Example], path: &Path, zoom: u32, min_score: f32) -> Result<()> {
    anyhow::ensure!(!examples.is_empty(), "no evaluated images to draw");
    let side = examples[0].image.width().max(examples[0].image.height()) as u32 * zoom;
    let columns = examples.len().min(4) as u32;
    let rows = (examples.len() as u32).div_ceil(columns);
    let gap = 4;
    let mut canvas = RgbImage::from_pixel(columns * (side + gap) + gap, rows * (side + gap) + gap, Rgb([255, 255, 255]));
    for (i, example) in examples.iter().enumerate() {
        let (ox, oy) = (gap + (i as u32 % columns) * (side + gap), gap + (i as u32 / columns) * (side + gap));
        let rgb = example.image.to_rgb();
        for (x, y, pixel) in rgb.enumerate_pixels() {
            for dy in 0..zoom {
                for dx in 0..zoom {
                    canvas.put_pixel(ox + x * zoom + dx, oy + y * zoom + dy, *pixel);
                }
            }
        }
        let scaled = |v: f32| (v * zoom as f32).round() as i64;
        for object in &example.truth.objects {
            let b = object.bbox;
            let r = [scaled(b.x_min), scaled(b.y_min), scaled(b.x_max), scaled(b.y_max)];
            rectangle(&mut canvas, ox, oy, side, r, GREEN);
            label(&mut canvas, ox, oy, side, r[0] + 1, r[3] - 6, object.class, GREEN);
        }
        for d in example.detections.iter().filter(|d| d.score >= min_score) {
            let r = d.bbox.map(scaled);
            rectangle(&mut canvas, ox, oy, side, r, RED);
            label(&mut canvas, ox, oy, side, r[0] + 1, r[1] + 1, d.class, RED);
        }
    }
    canvas.save(path).with_context(|| format!("cannot write {}", path.display()))
}

/// Puts a pixel at tile offset `(ox, oy)` if `(x, y)` lies inside the `side`-pixel tile.
fn put(canvas: &mut RgbImage, ox: u32, oy: u32, side: u32, x: i64, y: i64, colour: Rgb<u8>) {
    if (0..side as i64).contains(&x) && (0..side as i64).contains(&y) {
        canvas.put_pixel(ox + x as u32, oy + y as u32, colour);
    }
}

fn rectangle(canvas: &mut RgbImage, ox: u32, oy: u32, side: u32, [x1, y1, x2, y2]: [i64; 4], colour: Rgb<u8>) {
    for x in x1..=x2 {
        put(canvas, ox, oy, side, x, y1, colour);
        put(canvas, ox, oy, side, x, y2, colour);
    }
    for y in y1..=y2 {
        put(canvas, ox, oy, side, x1, y, colour);
        put(canvas, ox, oy, side, x2, y, colour);
    }
}

/// The class index in glyphs (classes past 9 as several digits).
fn label(canvas: &mut RgbImage, ox: u32, oy: u32, side: u32, x: i64, y: i64, class: usize, colour: Rgb<u8>) {
    for (i, ch) in class.to_string().bytes().enumerate() {
        let glyph = GLYPHS[usize::from(ch - b'0')];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    put(canvas, ox, oy, side, x + 4 * i as i64 + col, y + row as i64, colour);
                }
            }
        }
    }
}
