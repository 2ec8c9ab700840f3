//! `bench-detect measure` end to end on a thin backbone and small images: one JSON object
//! with a measured peak, a memory-balanced split with its module costs, and errors that
//! name the flag.

use std::process::{Command, Output};

fn bench_detect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-detect")).args(args).output().expect("the binary runs")
}

const TINY: [&str; 13] =
    ["measure", "--batch-size", "2", "--classes", "3", "--fpn-width", "16", "--head-convs", "1", "--steps", "1", "--warmup", "1"];

/// The tiny settings, a thin backbone unless `extra` names one, then `extra`.
fn tiny_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let net = if extra.contains(&"--net") { vec![] } else { vec!["--net", "resnet10-w8"] };
    TINY.iter().copied().chain(net).chain(extra.iter().copied()).collect()
}

fn measure(extra: &[&str]) -> serde_json::Value {
    let out = bench_detect(&tiny_args(extra));
    assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn error(extra: &[&str]) -> String {
    let out = bench_detect(&tiny_args(extra));
    assert!(!out.status.success(), "{extra:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn e2e_on_a_non_square_image_prints_a_peak_above_the_inputs() {
    let json = measure(&["--method", "e2e", "--size", "64x96"]);
    assert_eq!((json["height"].as_i64(), json["width"].as_i64()), (Some(64), Some(96)));
    assert_eq!(json["k"], 1);
    assert!(json["split_points"].as_array().unwrap().is_empty());
    // The images alone (2 x 3 x 64 x 96 floats) and the stem's output (2 x 8 x 16 x 24) are alive at the peak.
    let floor = (2 * 3 * 64 * 96 + 2 * 8 * 16 * 24) * 4;
    assert!(json["peak_bytes"].as_u64().unwrap() > floor, "{json}");
    assert!(json["images_per_s"].as_f64().unwrap() > 0.0);
    assert!(json["module_memory_bytes"].is_null());
}

#[test]
fn glcan_at_a_memory_balanced_split_reports_each_modules_cost() {
    let json = measure(&["--method", "glcan", "--k", "2", "--split", "memory-balanced", "--size", "64"]);
    assert_eq!(json["split"], "memorybalanced");
    assert_eq!(json["split_points"].as_array().unwrap().len(), 1);
    let costs: Vec<u64> = json["module_memory_bytes"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    assert_eq!(costs.len(), 2);
    assert!(costs.iter().all(|&c| c > 0), "{costs:?}");
    // The measured step holds at least the largest module's estimate.
    assert!(json["peak_bytes"].as_u64().unwrap() > *costs.iter().max().unwrap(), "{json}");
    let early = measure(&["--method", "dgl", "--k", "2", "--size", "64"]);
    assert_eq!(early["split_points"], serde_json::json!(["[1,0]"]), "the early split cuts after stage 1");
}

#[test]
fn bad_flags_are_named() {
    for (extra, expected) in [
        (vec!["--size", "16"], "--size"),
        (vec!["--size", "64x"], "--size"),
        (vec!["--method", "infopro-contrast"], "bench-detect does not run infopro-contrast"),
        (vec!["--net", "resnet20"], "ImageNet ResNet"),
        (vec!["--method", "glcan", "--k", "2", "--split", "memory-balanced", "--size", "64x96"], "--size N"),
        (vec!["--method", "glcan", "--k", "2", "--glcan-global-width", "0"], "global_width"),
        (vec!["--k", "9", "--method", "dgl"], "--split"),
        (vec!["--objects", "0"], "--objects"),
    ] {
        let message = error(&extra);
        assert!(message.contains(expected), "{extra:?}: {message}");
    }
}
