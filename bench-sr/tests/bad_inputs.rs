//! Inputs `bench-sr` cannot use, refused with an error that names them before any data
//! loads: methods the super-resolution task does not train, a truncated photo.

use std::path::Path;
use std::process::Command;

/// Runs `bench-sr args`, which must fail without a panic; returns its standard error.
fn failure(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bench-sr")).args(args).output().expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && out.stdout.is_empty(), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

fn preset(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(name).to_str().unwrap().to_owned()
}

#[test]
fn classification_methods_are_refused_by_the_config_check() {
    // An empty data folder: the check comes first, so the error is about the method.
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    for (method, why) in
        [("greedy-sl", "greedy-sl's aux net needs class labels"), ("infopro-contrast", "infopro-contrast's aux net needs class labels")]
    {
        let methods = format!("methods=[\"e2e\", \"{method}\"]");
        let stderr = failure(&[
            "grid",
            "--config",
            &preset("sr-smoke.toml"),
            "--out",
            out.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--set",
            &methods,
        ]);
        assert!(
            stderr.contains("sr-smoke.toml")
                && stderr.contains(&format!("bench-sr does not run {method} ({why}); it runs e2e, dgl, glcan")),
            "{stderr}"
        );
    }
    let stderr = failure(&["measure", "--method", "infopro-softmax", "--k", "2"]);
    assert!(
        stderr.contains("bench-sr does not run infopro-softmax (infopro-softmax's aux net needs class labels); it runs e2e, dgl, glcan"),
        "{stderr}"
    );
}

#[test]
fn a_truncated_jpeg_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let photo = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([((x * 37 + y * 91 + x * y * 7) % 251) as u8, (y * 5) as u8, 90]));
    let whole = dir.path().join("whole.jpg");
    photo.save(&whole).unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(dir.path().join("half.jpg"), &bytes[..bytes.len() / 2]).unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "half.jpg\n").unwrap();
    let stderr = failure(&["bicubic", "--hr-dir", dir.path().to_str().unwrap(), "--list", list.to_str().unwrap(), "--scale", "2"]);
    assert!(stderr.contains("half.jpg: truncated JPEG: the file ends inside scan 1, without the end-of-image marker (FF D9)"), "{stderr}");
}
