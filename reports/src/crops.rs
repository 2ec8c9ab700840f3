//! The super-resolution image grid: for a few test images, the same window as bicubic
//! up-scaling, E2E, GLCAN at each K, and the HR original, side by side in one PNG.
//!
//! bench-sr leaves the crops in the run folders the rows name: `crops/<image>.png` in every
//! run (its SR output; the bicubic row's folder: the bicubic estimate) and `hr/<image>.png`
//! in the bicubic row's folder. A method without crops is left out of the grid.

use std::path::{Path, PathBuf};

use image::{imageops, Rgb, RgbImage};

use crate::error::Error;
use crate::group::Group;
use crate::methods;
use glcan_store::write_atomic;
use glcan_store::ResultRow;

/// Pixels between cells.
const GAP: u32 = 4;

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
    let hr_dir = results_dir.join(&bicubic.run_dir).join("hr");
    let images = png_names(&hr_dir);
    if images.is_empty() {
        return Ok(None);
    }
    // Bicubic, E2E, GLCAN at each K (lowest seed of each), HR.
    let mut columns: Vec<(String, PathBuf)> = vec![("Bicubic".into(), results_dir.join(&bicubic.run_dir).join("crops"))];
    if let Some(e2e) = lowest_seed(group.ok.iter().filter(|r| methods::is_reference(&r.method))) {
        columns.push((methods::label(&e2e.method), results_dir.join(&e2e.run_dir).join("crops")));
    }
    let mut ks: Vec<usize> = group.ok.iter().filter(|r| methods::order(&r.method).1 == "glcan").map(|r| r.k).collect();
    ks.sort_unstable();
    ks.dedup();
    for k in ks {
        if let Some(row) = lowest_seed(group.ok.iter().filter(|r| methods::order(&r.method).1 == "glcan" && r.k == k)) {
            columns.push((format!("{} K = {k}", methods::label(&row.method)), results_dir.join(&row.run_dir).join("crops")));
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
    let height = images.len() as u32 * (cell_h + GAP) - GAP;
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (r, row) in cells.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let scaled = imageops::resize(cell, cell.width() * zoom, cell.height() * zoom, imageops::FilterType::Nearest);
            imageops::replace(&mut canvas, &scaled, i64::from(c as u32 * (cell_w + GAP)), i64::from(r as u32 * (cell_h + GAP)));
        }
    }
    let path = stem.with_extension("png");
    let mut bytes = Vec::new();
    canvas
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| Error::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
    write_atomic(&path, &bytes)?;
    Ok(Some((path, CropGrid { columns: columns.into_iter().map(|(label, _)| label).collect(), images, zoom })))
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
    fn columns_are_bicubic_e2e_glcan_per_k_then_hr() {
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
        assert_eq!(grid.columns, ["Bicubic", "E2E", "GLCAN K = 2", "GLCAN K = 4", "HR"]);
        assert_eq!((grid.images.len(), grid.zoom), (2, 2));
        let png = image::open(&path).unwrap().to_rgb8();
        // 5 columns of 16 px and 2 rows of 12 px, 4 px apart; the HR column is the bright one.
        assert_eq!((png.width(), png.height()), (5 * 16 + 4 * 4, 2 * 12 + 4));
        assert_eq!(png.get_pixel(0, 0), &Rgb([10, 10, 10]));
        assert_eq!(png.get_pixel(png.width() - 1, png.height() - 1), &Rgb([200, 200, 200]));
        // Without the HR crops there is nothing to compare against.
        std::fs::remove_dir_all(dir.path().join(&rows[0].run_dir).join("hr")).unwrap();
        assert!(crop_grid(group, dir.path(), &dir.path().join("grid2")).unwrap().is_none());
    }
}
