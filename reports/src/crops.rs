//! The super-resolution image grid: for a few test images, the same window as bicubic
//! up-scaling, every trained method at each K, and the HR original, side by side in one
//! PNG under a strip naming each column.
//!
//! bench-sr leaves the crops in the run folders the rows name: `crops/<image>.png` in every
//! run (its SR output; the bicubic row's folder: the bicubic estimate) and `hr/<image>.png`
//! in the bicubic row's folder. A method without crops is left out of the grid.

use std::path::{Path, PathBuf};

use image::{imageops, Rgb, RgbImage};
use plotters::prelude::{IntoDrawingArea, IntoFont, Text, BLACK};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::Error;
use crate::group::Group;
use crate::methods;
use glcan_store::write_atomic;
use glcan_store::ResultRow;

/// The folder of a run holding its SR output crops (the bicubic row's: the bicubic estimate).
pub const CROPS: &str = "crops";
/// The folder of the bicubic row holding the HR crops.
pub const HR: &str = "hr";

/// Pixels between cells.
const GAP: u32 = 4;
/// The strip above the cells that holds the column labels, pixels.
const LABEL_HEIGHT: u32 = 24;

/// What the grid shows, column by column.
#[derive(Debug, Clone, PartialEq)]
pub struct CropGrid {
    /// Column labels, left to right.
    pub columns: Vec<String>,
    /// Test image crop files, one per grid row.
    pub images: Vec<String>,
    /// Enlargement of every crop (nearest neighbour).
    pub zoom: u32,
}

/// Writes `<stem>.png` for the super-resolution group `group` (run folders relative to
/// `results_dir`) and says what it shows; `None` when the group has no bicubic crops or no
/// trained method with crops.
pub fn crop_grid(group: &Group, results_dir: &Path, stem: &Path) -> Result<Option<(PathBuf, CropGrid)>, Error> {
    let Some(bicubic) = group.ok.iter().find(|r| methods::is_untrained(&r.method)) else {
        return Ok(None);
    };
    let hr_dir = results_dir.join(&bicubic.run_dir).join(HR);
    let images = png_names(&hr_dir);
    if images.is_empty() {
        return Ok(None);
    }
    // Bicubic, then every trained method at each K in table order (lowest seed of each), HR.
    let mut columns: Vec<(String, PathBuf)> = vec![("Bicubic".into(), results_dir.join(&bicubic.run_dir).join(CROPS))];
    let mut trained: Vec<(usize, String)> =
        group.ok.iter().filter(|r| !methods::is_untrained(&r.method)).map(|r| (r.k, r.method.clone())).collect();
    trained.sort_by_key(|(k, method)| (methods::order(method), *k));
    trained.dedup();
    for (k, method) in trained {
        if let Some(row) = lowest_seed(group.ok.iter().filter(|r| r.method == method && r.k == k)) {
            let label =
                if methods::is_reference(&method) { methods::label(&method) } else { format!("{} K = {k}", methods::label(&method)) };
            columns.push((label, results_dir.join(&row.run_dir).join(CROPS)));
        }
    }
    columns.push(("HR".into(), hr_dir));
    columns.retain(|(_, dir)| images.iter().all(|name| dir.join(name).is_file()));
    if columns.len() < 3 {
        return Ok(None); // bicubic and HR alone compare nothing trained
    }

    let mut cells: Vec<Vec<RgbImage>> = Vec::new();
    for name in &images {
        let mut row = Vec::new();
        for (_, dir) in &columns {
            let path = dir.join(name);
            let cell =
                image::open(&path).map_err(|e| Error::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })?.to_rgb8();
            row.push(cell);
        }
        cells.push(row);
    }
    let cell_w = cells.iter().flatten().map(RgbImage::width).max().unwrap_or(1);
    let cell_h = cells.iter().flatten().map(RgbImage::height).max().unwrap_or(1);
    // Small crops are enlarged so that pixels stay visible in a rendered README.
    let zoom = if cell_w.max(cell_h) <= 128 { 2 } else { 1 };
    let (cell_w, cell_h) = (cell_w * zoom, cell_h * zoom);
    let width = columns.len() as u32 * (cell_w + GAP) - GAP;
    let height = LABEL_HEIGHT + images.len() as u32 * (cell_h + GAP) - GAP;
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (r, row) in cells.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let scaled = imageops::resize(cell, cell.width() * zoom, cell.height() * zoom, imageops::FilterType::Nearest);
            imageops::replace(
                &mut canvas,
                &scaled,
                i64::from(c as u32 * (cell_w + GAP)),
                i64::from(LABEL_HEIGHT + r as u32 * (cell_h + GAP)),
            );
        }
    }
    let labels: Vec<&str> = columns.iter().map(|(label, _)| label.as_str()).collect();
    label_columns(&mut canvas, &labels, cell_w).map_err(|message| Error::Plot { path: stem.with_extension("png"), message })?;
    let path = stem.with_extension("png");
    let mut bytes = Vec::new();
    canvas
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| Error::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
    write_atomic(&path, &bytes)?;
    Ok(Some((path, CropGrid { columns: columns.into_iter().map(|(label, _)| label).collect(), images, zoom })))
}

/// Each column's label, centred above it in the strip at the top (the report's font).
fn label_columns(canvas: &mut RgbImage, labels: &[&str], cell_w: u32) -> Result<(), String> {
    crate::plots::register_font().map_err(|e| e.to_string())?;
    let (width, height) = canvas.dimensions();
    let backend = plotters::prelude::BitMapBackend::with_buffer(canvas.as_mut(), (width, height));
    let area = backend.into_drawing_area();
    for (c, label) in labels.iter().enumerate() {
        // Shrink a long label until it fits its column (about 0.6 em per character).
        let size = (f64::from(cell_w) / (0.6 * label.chars().count().max(1) as f64)).clamp(8.0, 16.0);
        let font = (crate::plots::FAMILY, size).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        let x = (c as u32 * (cell_w + GAP) + cell_w / 2) as i32;
        area.draw(&Text::new(label.to_string(), (x, (LABEL_HEIGHT / 2) as i32), font)).map_err(|e| e.to_string())?;
    }
    area.present().map_err(|e| e.to_string())
}

/// The run of the lowest seed among `rows`.
fn lowest_seed<'a>(rows: impl Iterator<Item = &'a ResultRow>) -> Option<&'a ResultRow> {
    rows.min_by_key(|r| r.seed)
}

/// The `.png` file names directly in `dir`, sorted; none when it does not exist.
fn png_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".png")).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;

    fn save(dir: &Path, name: &str, value: u8) {
        std::fs::create_dir_all(dir).unwrap();
        RgbImage::from_pixel(8, 6, Rgb([value, value, value])).save(dir.join(name)).unwrap();
    }

    #[test]
    fn columns_are_bicubic_then_every_method_per_k_then_hr_under_labels() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows =
            vec![row("bicubic", 1, 0, 0.0), row("e2e", 1, 0, 0.0), row("glcan", 4, 0, 0.0), row("glcan", 2, 0, 0.0), row("dgl", 2, 0, 0.0)];
        for r in &mut rows {
            r.suite = "sr".into();
            let crops = dir.path().join(&r.run_dir).join("crops");
            for name in ["a.png", "b.png"] {
                save(&crops, name, 10);
            }
        }
        for name in ["a.png", "b.png"] {
            save(&dir.path().join(&rows[0].run_dir).join("hr"), name, 200);
        }
        let group = &group_rows(&rows)[0];
        let (path, grid) = crop_grid(group, dir.path(), &dir.path().join("grid")).unwrap().unwrap();
        assert_eq!(grid.columns, ["Bicubic", "E2E", "DGL K = 2", "GLCAN K = 2", "GLCAN K = 4", "HR"]);
        assert_eq!((grid.images.len(), grid.zoom), (2, 2));
        let png = image::open(&path).unwrap().to_rgb8();
        // 6 columns of 16 px and 2 rows of 12 px, 4 px apart, under the label strip; the HR
        // column is the bright one.
        assert_eq!((png.width(), png.height()), (6 * 16 + 5 * 4, LABEL_HEIGHT + 2 * 12 + 4));
        assert_eq!(png.get_pixel(0, LABEL_HEIGHT), &Rgb([10, 10, 10]));
        assert_eq!(png.get_pixel(png.width() - 1, png.height() - 1), &Rgb([200, 200, 200]));
        let strip_has_ink = (0..png.width()).any(|x| (0..LABEL_HEIGHT).any(|y| png.get_pixel(x, y)[0] < 128));
        assert!(strip_has_ink, "the labels are drawn");
        // Without the HR crops there is nothing to compare against.
        std::fs::remove_dir_all(dir.path().join(&rows[0].run_dir).join("hr")).unwrap();
        assert!(crop_grid(group, dir.path(), &dir.path().join("grid2")).unwrap().is_none());
    }
}
