//! Each local module's training loss per epoch, from the `module_losses` column of every
//! run's `metrics.csv` (`a;b;c`, one value per module, the epoch's mean), averaged over
//! seeds: one panel per local method and K, one line per module. It shows what the tables
//! cannot: whether the late modules, which see features the early ones are still changing,
//! keep learning.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::style::RGBColor;

use crate::error::{chain, Error};
use crate::group::Group;
use crate::methods;
use crate::plots::{Figure, Line, LineKind, Panel, XAxis};

/// The losses of one run: per epoch, one value per module.
fn read_losses(path: &Path) -> Result<Vec<(usize, Vec<f64>)>, Error> {
    let csv_error = |source| Error::Csv { path: path.to_path_buf(), source };
    let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
    let headers = reader.headers().map_err(csv_error)?.clone();
    let find = |name: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| Error::MissingColumn { path: path.to_path_buf(), column: name.into() })
    };
    let (epoch_at, losses_at) = (find("epoch")?, find("module_losses")?);
    let mut epochs = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        let bad =
            |column: &str, value: &str| Error::BadValue { path: path.to_path_buf(), line, column: column.into(), value: value.into() };
        let epoch_text = record.get(epoch_at).unwrap_or("").trim();
        let epoch: usize = epoch_text.parse().map_err(|_| bad("epoch", epoch_text))?;
        let text = record.get(losses_at).unwrap_or("").trim();
        let losses =
            text.split(';').map(|v| v.trim().parse::<f64>().map_err(|_| bad("module_losses", text))).collect::<Result<Vec<_>, _>>()?;
        epochs.push((epoch, losses));
    }
    Ok(epochs)
}

/// Per epoch, per module, one loss per seed.
type PerEpoch = BTreeMap<usize, Vec<Vec<f64>>>;

/// A colour per module position, the same in every panel so that one legend serves all
/// (Okabe-Ito's palette, its yellow darkened; positions beyond eight repeat it).
fn module_color(module: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(230, 159, 0),
        RGBColor(0, 158, 115),
        RGBColor(213, 94, 0),
        RGBColor(204, 121, 167),
        RGBColor(86, 180, 233),
        RGBColor(170, 150, 0),
        RGBColor(0, 0, 0),
    ];
    PALETTE[module % PALETTE.len()]
}

/// The per-module loss chart of `group` and the runs whose losses could not be read;
/// `None` without a local method's curves.
pub fn module_loss_figure(group: &Group, results_dir: &Path) -> (Option<Figure>, Vec<String>) {
    let mut cells: BTreeMap<((usize, String), usize), (String, PerEpoch)> = BTreeMap::new();
    let mut warnings = Vec::new();
    for row in group.ok.iter().filter(|r| r.k > 1 && !methods::is_untrained(&r.method) && !r.run_dir.trim().is_empty()) {
        let path = results_dir.join(&row.run_dir).join("metrics.csv");
        match read_losses(&path) {
            Ok(epochs) => {
                let cell = cells.entry((methods::order(&row.method), row.k)).or_insert_with(|| (row.method.clone(), BTreeMap::new()));
                for (epoch, losses) in epochs.into_iter().filter(|(_, l)| l.len() == row.k) {
                    let per_module = cell.1.entry(epoch).or_insert_with(|| vec![Vec::new(); row.k]);
                    for (module, loss) in losses.into_iter().enumerate() {
                        per_module[module].push(loss);
                    }
                }
            }
            Err(error) => {
                let message =
                    chain(&error).replace(&path.display().to_string(), &Path::new(&row.run_dir).join("metrics.csv").display().to_string());
                warnings.push(format!(
                    "{} K = {} seed {}: {message}; its module losses are left out",
                    methods::label(&row.method),
                    row.k,
                    row.seed
                ));
            }
        }
    }
    let panels: Vec<Panel> = cells
        .into_iter()
        .filter(|(_, (_, epochs))| !epochs.is_empty())
        .map(|((_, k), (method, epochs))| {
            let lines = (0..k)
                .map(|module| {
                    let points: Vec<(f64, f64)> = epochs
                        .iter()
                        .filter(|(_, per_module)| !per_module[module].is_empty())
                        .map(|(epoch, per_module)| {
                            (*epoch as f64, per_module[module].iter().sum::<f64>() / per_module[module].len() as f64)
                        })
                        .collect();
                    Line {
                        label: format!("module {}", module + 1),
                        color: module_color(module),
                        kind: LineKind::Solid,
                        spread: vec![None; points.len()],
                        annotations: Vec::new(),
                        band: false,
                        points,
                    }
                })
                .collect();
            Panel { title: format!("{} K = {k}", methods::label(&method)), lines }
        })
        .collect();
    let figure = (!panels.is_empty()).then(|| Figure {
        title: format!("{}: training loss of each module per epoch", group.key.title()),
        x_label: "Epoch".into(),
        y_label: "Local loss (epoch mean)".into(),
        x_axis: XAxis::Epoch,
        y_from_zero: false,
        own_y: true,
        panels,
    });
    (figure, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;

    #[test]
    fn one_panel_per_local_method_and_k_one_line_per_module_averaged_over_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [row("e2e", 1, 0, 90.0), row("dgl", 2, 0, 88.0), row("dgl", 2, 1, 88.0), row("glcan", 2, 0, 89.0)];
        for (r, shift) in rows.iter().zip([0.0, 0.0, 0.2, 0.5]) {
            let folder = dir.path().join(&r.run_dir);
            std::fs::create_dir_all(&folder).unwrap();
            let losses = |e: f64| (0..r.k).map(|m| format!("{}", 2.0 - 0.5 * e + m as f64 + shift)).collect::<Vec<_>>().join(";");
            std::fs::write(
                folder.join("metrics.csv"),
                format!("epoch,module_losses,test_metric\n1,{},80\n2,{},85\n", losses(1.0), losses(2.0)),
            )
            .unwrap();
        }
        let (figure, warnings) = module_loss_figure(&group_rows(&rows)[0], dir.path());
        let figure = figure.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(figure.panels.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["DGL K = 2", "GLCAN K = 2"]);
        let dgl = &figure.panels[0];
        assert_eq!(dgl.lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["module 1", "module 2"]);
        // Seeds 0 and 1 differ by 0.2: the mean sits halfway.
        assert_eq!(dgl.lines[1].points, vec![(1.0, 2.6), (2.0, 2.1)]);
        assert!(figure.own_y);
    }

    #[test]
    fn a_malformed_file_is_a_warning_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let r = row("dgl", 2, 0, 88.0);
        std::fs::create_dir_all(dir.path().join(&r.run_dir)).unwrap();
        std::fs::write(dir.path().join(&r.run_dir).join("metrics.csv"), "epoch,module_losses\n1,0.5;oops\n").unwrap();
        let (figure, warnings) = module_loss_figure(&group_rows(std::slice::from_ref(&r))[0], dir.path());
        assert!(figure.is_none());
        assert!(warnings.len() == 1 && warnings[0].contains("metrics.csv") && warnings[0].contains("module_losses"), "{warnings:?}");
    }
}
