//! The `bench-sr` binary end to end: `metrics` on image files (against an independent
//! reference, `fixtures/metrics_reference.py`), `bicubic` on a folder, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bench_sr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-sr")).args(args).output().expect("the binary runs")
}

/// Writes an RGB PNG whose channel c at (y, x) is `f(c, y, x)`.
fn write_rgb(path: &Path, width: u32, height: u32, f: impl Fn(u32, u32, u32) -> u8) -> PathBuf {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([f(0, y, x), f(1, y, x), f(2, y, x)]));
    image.save(path).unwrap();
    path.to_path_buf()
}

/// The two images of `fixtures/metrics_reference.py`.
fn reference_hr(c: u32, y: u32, x: u32) -> u8 {
    ((x * 37 + y * 91 + c * 53 + x * y * 7) % 251) as u8
}

fn reference_sr(c: u32, y: u32, x: u32) -> u8 {
    (i64::from(reference_hr(c, y, x)) + i64::from((x * 13 + y * 29 + c * 7) % 81) - 40).clamp(0, 255) as u8
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn metrics_match_the_independent_reference() {
    let dir = tempfile::tempdir().unwrap();
    let hr = write_rgb(&dir.path().join("hr.png"), 40, 36, reference_hr);
    let sr = write_rgb(&dir.path().join("sr.png"), 40, 36, reference_sr);
    let json = stdout_json(&bench_sr(&["metrics", "--hr", arg(&hr), "--sr", arg(&sr), "--scale", "2"]));
    assert_eq!(json.as_object().unwrap().len(), 2, "{json}");
    // Printed by `python3 tests/fixtures/metrics_reference.py` (2-D window, summed directly).
    let (psnr, ssim) = (json["psnr_y"].as_f64().unwrap(), json["ssim_y"].as_f64().unwrap());
    assert!((psnr - 23.919188850441614).abs() < 1e-9, "{psnr}");
    assert!((ssim - 0.9207420883624475).abs() < 1e-9, "{ssim}");
}

#[test]
fn identical_images_print_inf_and_one() {
    let dir = tempfile::tempdir().unwrap();
    let hr = write_rgb(&dir.path().join("a.png"), 24, 20, reference_hr);
    let json = stdout_json(&bench_sr(&["metrics", "--hr", arg(&hr), "--sr", arg(&hr), "--scale", "4"]));
    assert_eq!(json["psnr_y"], "inf");
    assert!((json["ssim_y"].as_f64().unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn a_uniform_offset_gives_the_closed_form_psnr() {
    // +17 on R, G and B moves Y by 219 * 17 / 255 = 14.6: PSNR = 20 log10(255 / 14.6).
    let dir = tempfile::tempdir().unwrap();
    let hr = write_rgb(&dir.path().join("hr.png"), 30, 30, |c, y, x| ((x * 5 + y * 7 + c * 13) % 200) as u8);
    let sr = write_rgb(&dir.path().join("sr.png"), 30, 30, |c, y, x| ((x * 5 + y * 7 + c * 13) % 200) as u8 + 17);
    let json = stdout_json(&bench_sr(&["metrics", "--hr", arg(&hr), "--sr", arg(&sr), "--scale", "3"]));
    assert!((json["psnr_y"].as_f64().unwrap() - 24.843746492990363).abs() < 1e-9, "{json}");
}

#[test]
fn bicubic_scores_every_listed_image_and_their_mean() {
    let dir = tempfile::tempdir().unwrap();
    // 37x31 is mod-cropped to 36x30 at x2; the flat image survives bicubic exactly.
    write_rgb(&dir.path().join("texture.png"), 37, 31, reference_hr);
    write_rgb(&dir.path().join("smooth.png"), 36, 30, |c, y, x| (40 + 3 * x + 2 * y + 10 * c) as u8);
    write_rgb(&dir.path().join("flat.png"), 36, 30, |_, _, _| 77);
    write_rgb(&dir.path().join("unlisted.png"), 36, 30, |_, _, _| 0);
    let list = dir.path().join("test.txt");
    std::fs::write(&list, "# three of the four\ntexture.png\nsmooth.png\n\nflat.png\n").unwrap();
    let out = bench_sr(&["bicubic", "--hr-dir", arg(dir.path()), "--list", arg(&list), "--scale", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "three images and the summary");
    let names: Vec<&str> = lines[..3].iter().map(|l| l["image"].as_str().unwrap()).collect();
    assert_eq!(names, ["texture.png", "smooth.png", "flat.png"]);
    assert_eq!((lines[0]["width"].as_u64(), lines[0]["height"].as_u64()), (Some(36), Some(30)));
    // A flat image comes back unchanged; texture is lost far more than a smooth ramp.
    assert_eq!(lines[2]["psnr_y"], "inf");
    assert_eq!(lines[2]["ssim_y"].as_f64(), Some(1.0));
    let (texture, smooth) = (lines[0]["psnr_y"].as_f64().unwrap(), lines[1]["psnr_y"].as_f64().unwrap());
    assert!(texture < 20.0 && smooth > 35.0, "texture {texture} dB, smooth {smooth} dB");
    let summary = &lines[3];
    assert_eq!((summary["method"].as_str(), summary["scale"].as_u64(), summary["images"].as_u64()), (Some("bicubic"), Some(2), Some(3)));
    assert_eq!(summary["psnr_y"], "inf", "one infinite PSNR makes the mean infinite");
    let ssim_mean = lines[..3].iter().map(|l| l["ssim_y"].as_f64().unwrap()).sum::<f64>() / 3.0;
    assert!((summary["ssim_y"].as_f64().unwrap() - ssim_mean).abs() < 1e-12);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let big = write_rgb(&dir.path().join("big.png"), 40, 36, reference_hr);
    let small = write_rgb(&dir.path().join("small.png"), 38, 36, reference_hr);
    let tiny = write_rgb(&dir.path().join("tiny.png"), 12, 12, reference_hr);
    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"not an image").unwrap();
    let missing = dir.path().join("missing.png");
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "big.png\nnowhere.png\n").unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["metrics", "--hr", arg(&big), "--sr", arg(&small), "--scale", "2"], vec!["40x36", "38x36", "big.png", "small.png"]),
        (vec!["metrics", "--hr", arg(&missing), "--sr", arg(&big), "--scale", "2"], vec!["missing.png"]),
        (vec!["metrics", "--hr", arg(&big), "--sr", arg(&garbage), "--scale", "2"], vec!["garbage.png"]),
        (vec!["metrics", "--hr", arg(&tiny), "--sr", arg(&tiny), "--scale", "6"], vec!["6 pixels", "12x12"]),
        (vec!["metrics", "--hr", arg(&tiny), "--sr", arg(&tiny), "--scale", "1"], vec!["10x10", "11x11 window"]),
        (vec!["bicubic", "--hr-dir", arg(dir.path()), "--list", arg(&list), "--scale", "2"], vec!["line 2", "nowhere.png"]),
        (vec!["bicubic", "--hr-dir", arg(dir.path()), "--list", arg(&missing), "--scale", "2"], vec!["missing.png"]),
        (vec!["bicubic", "--hr-dir", arg(dir.path()), "--list", arg(&list), "--scale", "0"], vec!["--scale"]),
    ];
    for (args, expected) in cases {
        let out = bench_sr(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
        for needle in expected {
            assert!(stderr.contains(needle), "{args:?}: {needle:?} not in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
