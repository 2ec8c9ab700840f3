//! Pictures a run leaves in its folder (detection: `predictions.png`, test images with true
//! boxes in green and predicted ones in red), copied next to the report and shown inline.

use std::path::Path;

use crate::error::Error;
use crate::group::Group;
use crate::methods;
use crate::report::Built;

/// The file a detection run writes its picture of predictions to.
pub const PREDICTIONS: &str = "predictions.png";

/// Markdown showing each ok run's `predictions.png` (copied into `out`), in table order;
/// `None` when no run left one.
pub fn predictions_section(group: &Group, results_dir: &Path, out: &Path, built: &mut Built) -> Result<Option<String>, Error> {
    let mut rows: Vec<_> = group.ok.iter().filter(|r| !r.run_dir.trim().is_empty()).collect();
    rows.sort_by_key(|r| (methods::order(&r.method), r.k, r.seed));
    let mut text = String::new();
    for row in rows {
        let source = results_dir.join(&row.run_dir).join(PREDICTIONS);
        if !source.is_file() {
            continue;
        }
        let name = format!("{}-{}-k{}-s{}-predictions.png", group.key.slug(), row.method, row.k, row.seed);
        let target = out.join(&name);
        std::fs::copy(&source, &target).map_err(|source| Error::Io { path: target.clone(), source })?;
        text.push_str(&format!(
            "**{} K = {}** (seed {})\n\n![predictions of {} K = {}]({name})\n\n",
            methods::label(&row.method),
            row.k,
            row.seed,
            methods::label(&row.method),
            row.k
        ));
        built.images.push(target);
    }
    Ok((!text.is_empty()).then(|| format!("### Test images: true boxes (green) and predictions (red, score ≥ 0.3)\n\n{text}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;

    #[test]
    fn runs_with_a_picture_are_shown_in_table_order_and_others_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row("glcan", 2, 0, 0.0), row("e2e", 1, 0, 0.0), row("dgl", 2, 0, 0.0)];
        for r in &rows[..2] {
            let run = dir.path().join(&r.run_dir);
            std::fs::create_dir_all(&run).unwrap();
            std::fs::write(run.join(PREDICTIONS), b"png bytes").unwrap();
        }
        let out = dir.path().join("report");
        std::fs::create_dir_all(&out).unwrap();
        let groups = group_rows(&rows);
        let mut built = Built::default();
        let text = predictions_section(&groups[0], dir.path(), &out, &mut built).unwrap().unwrap();
        let (e2e, glcan) = (text.find("-e2e-k1-s0-predictions.png").unwrap(), text.find("-glcan-k2-s0-predictions.png").unwrap());
        assert!(e2e < glcan && !text.contains("dgl"), "{text}");
        assert_eq!(built.images.len(), 2);
        assert_eq!(std::fs::read(&built.images[0]).unwrap(), b"png bytes");
        let none = group_rows(&rows[2..]);
        assert!(predictions_section(&none[0], dir.path(), &out, &mut built).unwrap().is_none());
    }
}
