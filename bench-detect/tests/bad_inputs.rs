//! Inputs `bench-detect` cannot use, refused with an error that names them before any data
//! loads: methods the detection task does not train.

use std::path::Path;
use std::process::Command;

#[test]
fn classification_methods_are_refused_by_the_config_check() {
    let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/detect-smoke.toml");
    // An empty data folder: the check comes first, so the error is about the method.
    let dir = tempfile::tempdir().unwrap();
    for method in ["greedy-sl", "infopro-softmax"] {
        let out = Command::new(env!("CARGO_BIN_EXE_bench-detect"))
            .arg("grid")
            .arg("--config")
            .arg(&preset)
            .arg("--out")
            .arg(dir.path().join("out"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--set", &format!("methods=[\"{method}\", \"glcan\"]")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && !stderr.contains("panicked"), "{stderr}");
        let expected = format!("bench-detect does not run {method} ({method}'s aux net needs class labels); it runs e2e, dgl, glcan");
        assert!(stderr.contains("detect-smoke.toml") && stderr.contains(&expected), "{stderr}");
    }
}
