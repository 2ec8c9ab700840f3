//! Every report `reports build` wrote under reports/ keeps the sources it was rendered from
//! beside it (`source/`: the results CSV, the run files it reads and a manifest), and
//! rebuilding from them gives its README byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The first line of every README `reports build` writes.
const BUILT_REPORT: &str = "# Results report\n";

fn built_reports() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| std::fs::read_to_string(dir.join("README.md")).is_ok_and(|text| text.starts_with(BUILT_REPORT)))
        .collect();
    found.sort();
    found
}

#[test]
fn every_committed_report_rebuilds_from_its_sources() {
    let reports = built_reports();
    assert!(!reports.is_empty(), "no built report under {}", env!("CARGO_MANIFEST_DIR"));
    let scratch = tempfile::tempdir().unwrap();
    for report in reports {
        let name = report.file_name().unwrap().to_string_lossy().into_owned();
        let source = report.join("source");
        assert!(source.join("manifest.json").is_file(), "reports/{name} has no source/manifest.json: rebuild it with `reports build`");
        let out = scratch.path().join(&name);
        let output = Command::new(env!("CARGO_BIN_EXE_reports"))
            .args(["build", "--results", source.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success(), "reports/{name}: {}", String::from_utf8_lossy(&output.stderr));
        let committed = std::fs::read(report.join("README.md")).unwrap();
        let rebuilt = std::fs::read(out.join("README.md")).unwrap();
        assert!(committed == rebuilt, "reports/{name}/README.md differs from what its sources give (see {})", out.display());
    }
}
