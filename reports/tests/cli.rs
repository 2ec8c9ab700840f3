//! `reports build` end to end, through the binary: a results CSV with run folders in a
//! temporary directory in, README.md and charts out; broken inputs give errors that name
//! the file and exit non-zero.

use std::path::Path;
use std::process::{Command, Output};

use glcan_store::{append_row, ResultRow, RunStatus};

fn row(method: &str, k: usize, seed: u64, accuracy: f64) -> ResultRow {
    ResultRow {
        suite: "classify".into(),
        dataset: "fashion-mnist".into(),
        network: "resnet8".into(),
        method: method.into(),
        k,
        seed,
        preset: "quick".into(),
        status: RunStatus::Ok,
        error: String::new(),
        epochs: 3,
        batch_size: 64,
        train_images: 2048,
        test_images: 512,
        test_accuracy: Some(accuracy),
        ap: None,
        ap50: None,
        psnr_y: None,
        ssim_y: None,
        step_peak_bytes: 40_000_000 / k as u64,
        peak_rss_bytes: 400_000_000,
        images_per_s: 500.0 - 20.0 * k as f64,
        network_parameters: 78_000,
        device: "cpu".into(),
        threads: 2,
        cpu_isa: "avx2".into(),
        kernel_fingerprint: String::new(),
        module_schedule: "sequential".into(),
        dtype: "float32".into(),
        git_commit: "0123abc".into(),
        config_hash: String::new(),
        run_dir: format!("runs/{method}-k{k}-s{seed}"),
        finished_at: "2026-11-25T16:00:00Z".into(),
        seconds: 30.0,
    }
}

fn reports(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reports")).args(args).output().expect("the reports binary runs")
}

fn write_metrics(results_dir: &Path, row: &ResultRow) {
    let dir = results_dir.join(&row.run_dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("epoch,lr,module_losses,test_accuracy,test_loss,images_per_s,step_peak_bytes,peak_rss_bytes,seconds\n");
    let accuracy = row.test_accuracy.unwrap();
    for epoch in 1..=row.epochs {
        let losses = vec!["0.5"; row.k].join(";");
        text.push_str(&format!("{epoch},0.1,{losses},{:.2},0.4,500,40000000,400000000,10\n", accuracy - 10.0 / epoch as f64));
    }
    std::fs::write(dir.join("metrics.csv"), text).unwrap();
}

#[test]
fn build_writes_tables_charts_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results/results.csv");
    let mut rows = Vec::new();
    for seed in 0..2 {
        rows.push(row("e2e", 1, seed, 91.0 + seed as f64));
        for (method, base) in [("dgl", 88.0), ("infopro-softmax", 88.5), ("glcan", 89.5)] {
            for k in [2, 4] {
                rows.push(row(method, k, seed, base - k as f64 * 0.5 + seed as f64 * 0.2));
            }
        }
    }
    let mut failed = row("glcan", 4, 2, 0.0);
    failed.status = RunStatus::Failed;
    failed.test_accuracy = None;
    failed.error = "loss of module 3 is NaN at epoch 2".into();
    rows.push(failed);
    for r in &rows {
        append_row(&results, r).unwrap();
        if r.status == RunStatus::Ok && !(r.method == "dgl" && r.k == 4 && r.seed == 1) {
            write_metrics(&dir.path().join("results"), r);
        }
    }

    let out = dir.path().join("report");
    let output = reports(&[
        "build",
        "--results",
        results.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--command",
        "make reproduce",
        "--machine",
        "test VM",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("wrote") && stderr.contains("README.md"), "{stderr}");
    assert!(stderr.contains("warning: ") && stderr.contains("runs/dgl-k4-s1/metrics.csv"), "{stderr}");

    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("reports build --results"), "the command that built it: {readme}");
    assert!(
        readme.contains("*Source:* `make reproduce` · preset `quick` · commit `0123abc` · machine: test VM, device cpu, 2 threads"),
        "{readme}"
    );
    assert!(readme.contains("| Method | K = 1 | K = 2 | K = 4 |"), "{readme}");
    assert!(readme.contains("| E2E | 8.50 ± 0.71 | – | – |"), "{readme}");
    // GLCAN errors at K = 2: 100 − 88.5 and 100 − 88.7.
    assert!(readme.contains("| GLCAN | – | **11.40 ± 0.14** |"), "{readme}");
    assert!(readme.contains("### Peak memory per training step") && readme.contains("(−50.0%)"), "{readme}");
    assert!(readme.contains("### Training throughput"), "{readme}");
    assert!(readme.contains("Not counted: 1 failed run (GLCAN K = 4 seed 2)"), "{readme}");
    assert!(readme.contains("- GLCAN, K = 4, seed 2: loss of module 3 is NaN at epoch 2"), "{readme}");
    assert!(readme.contains("### Warnings") && readme.contains("- DGL K = 4 seed 1: runs/dgl-k4-s1/metrics.csv: "), "{readme}");
    assert!(!readme.contains(dir.path().join("results/runs").to_str().unwrap()), "warnings name run files relative to the CSV: {readme}");
    assert!(!readme.contains("published"), "{readme}");

    let stems = [
        "classify-fashion-mnist-resnet8-quick-error-vs-k",
        "classify-fashion-mnist-resnet8-quick-memory-vs-k",
        "classify-fashion-mnist-resnet8-quick-test-accuracy-vs-epoch",
    ];
    for stem in stems {
        assert!(
            readme.contains(&format!("]({stem}.png)")) && readme.contains(&format!("]({stem}.svg)")),
            "{stem} embedded by relative path: {readme}"
        );
        let image = image::open(out.join(format!("{stem}.png"))).unwrap().to_rgb8();
        let first = *image.get_pixel(0, 0);
        assert!(image.pixels().any(|p| *p != first), "{stem}.png is one colour");
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        for name in ["DGL", "InfoPro (Softmax)", "GLCAN", "E2E"] {
            assert!(svg.contains(name), "{name} missing from {stem}.svg");
        }
    }
    let leftovers: Vec<_> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A second build replaces the files and says the same.
    let again = reports(&[
        "build",
        "--results",
        results.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--command",
        "make reproduce",
        "--machine",
        "test VM",
    ]);
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), readme);

    // The copy beside the report is enough: with the grid's folder gone, the report rebuilds
    // from out/source, elsewhere and without flags, to the same bytes.
    std::fs::remove_dir_all(dir.path().join("results")).unwrap();
    let elsewhere = dir.path().join("rebuilt");
    let rebuilt = reports(&["build", "--results", out.join("source").to_str().unwrap(), "--out", elsewhere.to_str().unwrap()]);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert_eq!(std::fs::read_to_string(elsewhere.join("README.md")).unwrap(), readme);
    assert!(readme.contains(&format!("Built by `reports build --results {}/source --out {}`", out.display(), out.display())), "{readme}");
    let other =
        reports(&["build", "--results", out.join("source").to_str().unwrap(), "--out", elsewhere.to_str().unwrap(), "--command", "x"]);
    assert!(!other.status.success() && String::from_utf8_lossy(&other.stderr).contains("manifest.json"));
}

#[test]
fn malformed_results_csv_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("broken-results.csv");
    std::fs::write(&results, "suite,dataset,network\nclassify,mnist\n").unwrap();
    let output = reports(&["build", "--results", results.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("reports: error: building the report in") && stderr.contains("broken-results.csv"), "{stderr}");
    assert!(!dir.path().join("out/README.md").exists());
}

#[test]
fn missing_results_csv_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = reports(&[
        "build",
        "--results",
        dir.path().join("nowhere.csv").to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("nowhere.csv") && stderr.contains("No such file"), "{stderr}");
}

#[test]
fn help_explains_the_build_command() {
    let output = reports(&["build", "--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for word in ["--results", "--out", "--command", "--machine", "README.md"] {
        assert!(help.contains(word), "{word} missing from help: {help}");
    }
}

/// A smoke-like results file: E2E and GLCAN at K = 2, three seeds about a point apart.
fn smoke_rows() -> Vec<ResultRow> {
    let mut rows = Vec::new();
    for seed in 0..3 {
        for (method, k, accuracy) in [("e2e", 1, 76.0), ("glcan", 2, 75.0)] {
            rows.push(ResultRow { preset: "smoke".into(), ..row(method, k, seed, accuracy + seed as f64) });
        }
    }
    rows
}

fn write_rows(path: &Path, rows: &[ResultRow]) {
    for r in rows {
        append_row(path, r).unwrap();
    }
}

fn compare(baseline: &Path, current: &Path, out: &Path) -> Output {
    reports(&["compare", "--baseline", baseline.to_str().unwrap(), "--current", current.to_str().unwrap(), "--out", out.to_str().unwrap()])
}

#[test]
fn compare_passes_an_unchanged_run_and_fails_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.csv");
    write_rows(&baseline, &smoke_rows());

    let unchanged = dir.path().join("unchanged.csv");
    // Throughput differs on every machine: never judged.
    write_rows(&unchanged, &smoke_rows().into_iter().map(|r| ResultRow { images_per_s: r.images_per_s / 3.0, ..r }).collect::<Vec<_>>());
    let output = compare(&baseline, &unchanged, &dir.path().join("ok"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("regression check passed (2 configurations within tolerance)"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("  ok    GLCAN K = 2  seeds 0, 1, 2"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(std::fs::read_to_string(dir.path().join("ok/README.md")).unwrap().starts_with("# Regression check: passed"));

    // GLCAN with its global branch gone: less memory and 3 points less accuracy.
    let regressed = dir.path().join("regressed.csv");
    let rows: Vec<ResultRow> = smoke_rows()
        .into_iter()
        .map(|r| {
            if r.method == "glcan" {
                ResultRow { step_peak_bytes: r.step_peak_bytes * 3 / 4, test_accuracy: r.test_accuracy.map(|a| a - 3.0), ..r }
            } else {
                r
            }
        })
        .collect();
    write_rows(&regressed, &rows);
    let out = dir.path().join("failed");
    let output = compare(&baseline, &regressed, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("reports: REGRESSION: classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2: Test error 24.00% → 27.00% (+3.00; band ±2.00"), "{stderr}");
    assert!(stderr.contains("reports: REGRESSION: classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2: peak memory per step 19.073 MiB → 14.305 MiB (−25.00%, tolerance ±1%): less memory"), "{stderr}");
    assert!(stderr.contains("regression check FAILED (1 of 2 configurations outside tolerance)"), "{stderr}");
    let summary = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(summary.starts_with("# Regression check: FAILED") && summary.contains("## Failures"), "{summary}");
    for file in ["deltas.png", "deltas.svg"] {
        assert!(out.join(file).exists(), "{file}");
    }
}

#[test]
fn compare_flags_a_missing_run() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.csv");
    write_rows(&baseline, &smoke_rows());
    let current = dir.path().join("current.csv");
    write_rows(&current, &smoke_rows().into_iter().filter(|r| !(r.method == "e2e" && r.seed == 1)).collect::<Vec<_>>());
    let output = compare(&baseline, &current, &dir.path().join("out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("REGRESSION: classify · fashion-mnist · resnet8 · preset smoke · E2E K = 1: seed 1 missing from the current results"),
        "{stderr}"
    );
}

#[test]
fn compare_with_a_missing_or_malformed_baseline_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("current.csv");
    write_rows(&current, &smoke_rows());
    let out = dir.path().join("out");

    let output = compare(&dir.path().join("no-baseline.csv"), &current, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("reports: error: comparing ") && stderr.contains("no-baseline.csv: No such file"), "{stderr}");

    let malformed = dir.path().join("malformed-baseline.csv");
    std::fs::write(&malformed, "suite,dataset,network,method\nclassify,fashion-mnist,resnet8\n").unwrap();
    let output = compare(&malformed, &current, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("malformed-baseline.csv: CSV"), "{stderr}");
    assert!(!out.join("README.md").exists(), "nothing written for a bad baseline");

    // A missing current file is an input error too (the smoke run did not happen).
    let output = compare(&malformed, &dir.path().join("no-current.csv"), &out);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_explains_the_compare_rule_with_the_floors_in_force() {
    let output = reports(&["compare", "--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for word in [
        "--baseline",
        "--current",
        "--out",
        "--sigmas",
        "--memory-tolerance",
        "suite, dataset, network, method, K and preset",
        "never judged",
        "Exit",
        "1 on a regression, 2",
    ] {
        assert!(help.contains(word), "{word} missing from help: {help}");
    }
    // The floors the help states are the ones the code applies.
    use reports::compare::band_floor;
    use reports::Metric;
    for (metric, floor, text) in [
        (Metric::TestError, 0.5, "test error, AP and AP50 0.5 points"),
        (Metric::Ap50, 0.5, "AP50 0.5 points"),
        (Metric::PsnrY, 0.05, "PSNR 0.05 dB"),
        (Metric::SsimY, 0.002, "SSIM 0.002"),
    ] {
        assert_eq!(band_floor(metric), floor, "{metric:?}");
        assert!(help.contains(text), "{text} missing from help: {help}");
    }
}

/// The results CSV at `path` with `column` taken out of the header and every row.
fn drop_column(path: &Path, column: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let index = text.lines().next().unwrap().split(',').position(|c| c == column).unwrap();
    let kept: String = text
        .lines()
        .map(|line| line.split(',').enumerate().filter(|&(i, _)| i != index).map(|(_, c)| c).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    std::fs::write(path, kept).unwrap();
}

/// `reports build` on `rows`: its exit code and stderr, and whether it wrote a README.
fn build_rows(rows: &[ResultRow], edit: impl Fn(&Path)) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.csv");
    write_rows(&results, rows);
    edit(&results);
    let out = dir.path().join("out");
    let output = reports(&["build", "--results", results.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).replace(dir.path().to_str().unwrap(), "DIR"),
        out.join("README.md").exists(),
    )
}

#[test]
fn build_names_every_row_it_cannot_use_and_exits_2() {
    let mut rows = smoke_rows();
    rows[1].test_accuracy = None;
    rows[2].test_accuracy = Some(f64::NAN);
    rows[3].test_accuracy = Some(250.0);
    rows.push(ResultRow { test_accuracy: Some(80.0), ..rows[0].clone() });
    let (code, stderr, wrote) = build_rows(&rows, |_| {});
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!wrote, "nothing is built from rows that cannot be used");
    let expected = "reports: error: building the report in DIR/out: DIR/results.csv: 4 rows cannot be used:
  line 3 (classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2 seed 0): `test_accuracy` is empty: a finished classify run must record it
  line 4 (classify · fashion-mnist · resnet8 · preset smoke · E2E K = 1 seed 1): `test_accuracy` is NaN: not a finite number
  line 5 (classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2 seed 1): `test_accuracy` is 250, outside [0, 100]
  line 8 (classify · fashion-mnist · resnet8 · preset smoke · E2E K = 1 seed 0): the same run already finished on line 2; keep one of the two rows (both would count as two seeds)
";
    assert!(stderr.ends_with(expected), "{stderr}");
}

#[test]
fn build_refuses_a_results_file_missing_a_column() {
    let (code, stderr, wrote) = build_rows(&smoke_rows(), |path| drop_column(path, "test_accuracy"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!wrote);
    assert!(
        stderr.ends_with("DIR/results.csv: column `test_accuracy` missing: a results file needs every column the suites write\n"),
        "{stderr}"
    );
}

#[test]
fn build_accepts_the_shapes_the_suites_write() {
    // Detection, SR with its bicubic baseline row (K = 1, nothing trained: no memory or
    // speed), and a failed run retried until it finished.
    let detect = ResultRow { suite: "detect".into(), test_accuracy: None, ap: Some(0.05), ap50: Some(0.12), ..row("e2e", 1, 0, 0.0) };
    let sr = |method: &str, k: usize, psnr: f64| ResultRow {
        suite: "sr".into(),
        test_accuracy: None,
        psnr_y: Some(psnr),
        ssim_y: Some(0.86),
        ..row(method, k, 0, 0.0)
    };
    let bicubic = ResultRow { epochs: 0, step_peak_bytes: 0, images_per_s: 0.0, ..sr("bicubic", 1, 31.9) };
    let failed = ResultRow { status: RunStatus::Failed, test_accuracy: None, error: "killed".into(), ..row("glcan", 2, 0, 0.0) };
    let rows = vec![detect, bicubic, sr("e2e", 1, 32.6), failed, row("glcan", 2, 0, 75.0), row("e2e", 1, 0, 76.0)];
    let (code, stderr, wrote) = build_rows(&rows, |_| {});
    assert_eq!(code, Some(0), "{stderr}");
    assert!(wrote && stderr.contains("reports: 6 runs (1 failed)"), "{stderr}");
}

/// `reports compare` of two files: its exit code and stderr.
fn compare_rows(baseline: &[ResultRow], current: &[ResultRow]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (base, now) = (dir.path().join("baseline.csv"), dir.path().join("current.csv"));
    write_rows(&base, baseline);
    write_rows(&now, current);
    let output = compare(&base, &now, &dir.path().join("out"));
    (output.status.code(), String::from_utf8_lossy(&output.stderr).replace(dir.path().to_str().unwrap(), "DIR"))
}

#[test]
fn compare_refuses_a_baseline_without_the_metric_however_far_the_current_fell() {
    let fallen: Vec<ResultRow> =
        smoke_rows().into_iter().map(|r| if r.method == "glcan" { ResultRow { test_accuracy: Some(10.0), ..r } } else { r }).collect();
    for (lost, shown) in [(None, "is empty: a finished classify run must record it"), (Some(f64::NAN), "is NaN: not a finite number")] {
        let baseline: Vec<ResultRow> = smoke_rows()
            .into_iter()
            .map(|r| if r.method == "glcan" && r.seed == 1 { ResultRow { test_accuracy: lost, ..r } } else { r })
            .collect();
        let (code, stderr) = compare_rows(&baseline, &fallen);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(&format!("DIR/baseline.csv: 1 row cannot be used:\n  line 5 (classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2 seed 1): `test_accuracy` {shown}")), "{stderr}");
        assert!(!stderr.contains("regression check passed"), "{stderr}");
    }
}

#[test]
fn compare_refuses_a_run_finished_twice_on_either_side() {
    let mut twice = smoke_rows();
    twice.push(ResultRow { test_accuracy: Some(10.0), ..twice[1].clone() });
    for (baseline, current, file) in [(smoke_rows(), twice.clone(), "current.csv"), (twice.clone(), smoke_rows(), "baseline.csv")] {
        let (code, stderr) = compare_rows(&baseline, &current);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(&format!("DIR/{file}: 1 row cannot be used:\n  line 8 (classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2 seed 0): the same run already finished on line 3")), "{stderr}");
    }
}

#[test]
fn compare_refuses_out_of_range_current_values_and_missing_columns() {
    let current: Vec<ResultRow> = smoke_rows()
        .into_iter()
        .map(|r| if r.method == "e2e" && r.seed == 2 { ResultRow { images_per_s: -1.0, ..r } } else { r })
        .collect();
    let (code, stderr) = compare_rows(&smoke_rows(), &current);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("DIR/current.csv: 1 row cannot be used:\n  line 6 (classify · fashion-mnist · resnet8 · preset smoke · E2E K = 1 seed 2): `images_per_s` is -1: must be a finite number ≥ 0"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let (base, now) = (dir.path().join("baseline.csv"), dir.path().join("current.csv"));
    write_rows(&base, &smoke_rows());
    write_rows(&now, &smoke_rows());
    drop_column(&base, "test_accuracy");
    let output = compare(&base, &now, &dir.path().join("out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}: column `test_accuracy` missing", base.display())), "{stderr}");
}
