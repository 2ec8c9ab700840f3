//! The `bench-detect eval` command end to end: pycocotools' numbers on a recorded fixture,
//! hand-computed cases, and clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bench_detect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-detect")).args(args).output().expect("the binary runs")
}

fn eval(gt: &Path, dets: &Path) -> Output {
    bench_detect(&["eval", "--gt", gt.to_str().unwrap(), "--dets", dets.to_str().unwrap()])
}

fn eval_json(gt: &Path, dets: &Path) -> serde_json::Value {
    let out = eval(gt, dets);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

const KEYS: [&str; 13] = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl", "VOC_AP50"];

/// Ground truth with images 1 and 2 (64x64), categories 1 and 2 and the given annotations.
fn instances(annotations: &str) -> String {
    format!(
        r#"{{"images": [{{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}},
                      {{"id": 2, "file_name": "b.jpg", "width": 64, "height": 64}}],
            "annotations": [{annotations}],
            "categories": [{{"id": 1, "name": "one"}}, {{"id": 2, "name": "two"}}]}}"#
    )
}

/// Writes `gt` and `dets` into a temporary folder.
fn write_pair(gt: &str, dets: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (gt_path, dets_path) = (dir.path().join("instances.json"), dir.path().join("results.json"));
    std::fs::write(&gt_path, gt).unwrap();
    std::fs::write(&dets_path, dets).unwrap();
    (dir, gt_path, dets_path)
}

/// One 10x10 box (area 100, small) per image, category 1.
const TWO_BOXES: &str = r#"{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
                           {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}"#;

fn assert_close(json: &serde_json::Value, key: &str, expected: f64) {
    let actual = json[key].as_f64().unwrap_or_else(|| panic!("{key} missing from {json}"));
    assert!((actual - expected).abs() < 1e-12, "{key} = {actual}, expected {expected}: {json}");
}

#[test]
fn matches_pycocotools_on_the_fixture() {
    // Numbers recorded by fixtures/coco_eval/make_fixture.py with pycocotools 2.0.11.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coco_eval");
    let json = eval_json(&fixture.join("instances.json"), &fixture.join("results.json"));
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap()).unwrap();
    // All twelve of pycocotools' summary statistics.
    for key in &KEYS[..12] {
        // Same rules, same operations, same summation order: equal to the last bit.
        assert_eq!(json[key].as_f64(), expected[key].as_f64(), "{key}: {json} vs pycocotools {expected}");
    }
    assert_close(&json, "VOC_AP50", expected["VOC_AP50"].as_f64().unwrap());
}

#[test]
fn prints_every_key_for_perfect_detections() {
    let dets = r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
                   {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8}]"#;
    let (_dir, gt, dets) = write_pair(&instances(TWO_BOXES), dets);
    let json = eval_json(&gt, &dets);
    assert_eq!(json.as_object().unwrap().len(), KEYS.len(), "{json}");
    for key in ["AP", "AP50", "AP75", "APs", "VOC_AP50"] {
        assert_close(&json, key, 1.0);
    }
    // No medium or large objects and category 2 has no ground truth: -1, as pycocotools.
    assert_eq!((json["APm"].as_f64(), json["APl"].as_f64()), (Some(-1.0), Some(-1.0)));
}

#[test]
fn hand_computed_rankings() {
    // TP (0.9), duplicate (0.8), TP (0.7) over two boxes: recall [.5, .5, 1], precision
    // [1, 1/2, 2/3]. COCO reads the envelope at 101 points: (51 * 1 + 50 * 2/3) / 101;
    // VOC integrates it: 0.5 * 1 + 0.5 * 2/3.
    let dets = r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
                   {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},
                   {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.7}]"#;
    let (_dir, gt, dets) = write_pair(&instances(TWO_BOXES), dets);
    let json = eval_json(&gt, &dets);
    assert_close(&json, "AP", (51.0 + 50.0 * 2.0 / 3.0) / 101.0);
    assert_close(&json, "AP50", (51.0 + 50.0 * 2.0 / 3.0) / 101.0);
    assert_close(&json, "VOC_AP50", 0.5 + 1.0 / 3.0);

    // A false positive (0.95, far away) above both true positives: recall [0, .5, 1],
    // precision [0, 1/2, 2/3] -> envelope 2/3 everywhere: AP = 2/3 (VOC too).
    let dets = r#"[{"image_id": 2, "category_id": 1, "bbox": [40, 40, 10, 10], "score": 0.95},
                   {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
                   {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.7}]"#;
    let (_dir, gt, dets) = write_pair(&instances(TWO_BOXES), dets);
    let json = eval_json(&gt, &dets);
    assert_close(&json, "AP", 2.0 / 3.0);
    assert_close(&json, "VOC_AP50", 2.0 / 3.0);
}

#[test]
fn no_detections_and_no_ground_truth() {
    let (_dir, gt, dets) = write_pair(&instances(TWO_BOXES), "[]");
    let json = eval_json(&gt, &dets);
    for key in ["AP", "AP50", "AP75", "APs", "VOC_AP50"] {
        assert_eq!(json[key].as_f64(), Some(0.0), "{key}: {json}");
    }
    // Nothing to find anywhere: every value undefined.
    let dets = r#"[{"image_id": 1, "category_id": 2, "bbox": [0, 0, 10, 10], "score": 0.9}]"#;
    let (_dir, gt, dets) = write_pair(&instances(""), dets);
    let json = eval_json(&gt, &dets);
    for key in KEYS {
        assert_eq!(json[key].as_f64(), Some(-1.0), "{key}: {json}");
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let good_dets = r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]"#;
    let det = |image: i64, category: i64, bbox: &str, score: &str| {
        format!(r#"[{{"image_id": {image}, "category_id": {category}, "bbox": {bbox}, "score": {score}}}]"#)
    };
    for (gt, dets, file, expected) in [
        (instances(TWO_BOXES), "[{\"image_id\": 1,\n \"category_id\" 1}]".to_string(), "results.json", "line 2 column"),
        (instances(TWO_BOXES), det(7, 1, "[0, 0, 10, 10]", "0.5"), "results.json", "image_id 7 is not an image of the ground truth"),
        (instances(TWO_BOXES), det(1, 9, "[0, 0, 10, 10]", "0.5"), "results.json", "category_id 9 is not a category of the ground truth"),
        (instances(TWO_BOXES), det(1, 1, "[0, 0, -10, 10]", "0.5"), "results.json", "negative width or height"),
        (instances(TWO_BOXES), det(1, 1, "[0, 0, 10, 10]", "NaN"), "results.json", "JSON has no NaN or Infinity"),
        (instances(TWO_BOXES), det(1, 1, "[0, 0, 10, 10]", "null"), "results.json", "invalid type: null"),
        ("{\"images\": [".to_string(), good_dets.to_string(), "instances.json", "malformed COCO JSON"),
        (
            instances(r#"{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -3, 10], "iscrowd": 0}"#),
            good_dets.to_string(),
            "instances.json",
            "negative width or height",
        ),
        (
            instances(r#"{"id": 1, "image_id": 5, "category_id": 1, "bbox": [0, 0, 3, 10], "iscrowd": 0}"#),
            good_dets.to_string(),
            "instances.json",
            "no image has id 5",
        ),
    ] {
        let (_dir, gt_path, dets_path) = write_pair(&gt, &dets);
        let out = eval(&gt_path, &dets_path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{dets} should fail");
        assert!(out.stdout.is_empty(), "no JSON on failure");
        assert!(stderr.contains(file) && stderr.contains(expected), "expected {file}: {expected}, got: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = bench_detect(&["eval", "--gt", "/nonexistent/instances.json", "--dets", "/nonexistent/results.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/nonexistent/instances.json"), "{stderr}");
}
