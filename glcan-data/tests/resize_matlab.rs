//! Our bicubic `imresize` against the committed expected values of MATLAB's algorithm,
//! `tests/fixtures/resize/matlab_cases.txt`, made by the independent plain-Python reference
//! beside it:
//!
//! ```text
//! python3 glcan-data/tests/fixtures/resize/imresize_reference.py --fixture > glcan-data/tests/fixtures/resize/matlab_cases.txt
//! ```
//!
//! That reference reproduces MATLAB R2015b's own output to the last value on the one MATLAB
//! result we have (reports/exactness/). The cases shrink by 2, 3 and 4, enlarge by 2, 3 and 4
//! and resize to sizes with a different scale per axis (either axis first), on uint8 images
//! whose passes over- and undershoot: every uint8 case would change with one rounding at the
//! end instead of one per pass, or with the passes in the other order (the fixture's comments
//! count by how many values).

use std::path::Path;

use glcan_data::resize::{downscale, imresize_bicubic, resize_plane_f64, upscale};
use glcan_data::ImageU8;

/// One case of the fixture file.
struct Case {
    name: String,
    /// `downscale k`, `upscale k`, `size h w` or `size-f64 h w`.
    kind: String,
    args: Vec<usize>,
    input: (usize, usize, Vec<f64>),
    output: (usize, usize, Vec<f64>),
}

fn parse_block(lines: &mut dyn Iterator<Item = &str>, head: &str) -> (usize, usize, Vec<f64>) {
    let line = lines.next().unwrap_or_else(|| panic!("missing `{head}` line"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&head), "expected `{head} <h> <w>`, got {line:?}");
    let (h, w): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let mut values = Vec::with_capacity(h * w);
    for _ in 0..h {
        let row: Vec<f64> = lines.next().expect("a row").split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert_eq!(row.len(), w, "row of {} values in a {h}x{w} block", row.len());
        values.extend(row);
    }
    (h, w, values)
}

fn cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resize/matlab_cases.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let mut cases = Vec::new();
    while let Some(line) = lines.next() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], "case", "expected a case, got {line:?}");
        let input = parse_block(&mut lines, "input");
        let output = parse_block(&mut lines, "output");
        let args = fields[3..].iter().map(|v| v.parse().unwrap()).collect();
        cases.push(Case { name: fields[1].to_string(), kind: fields[2].to_string(), args, input, output });
    }
    cases
}

fn gray(h: usize, w: usize, values: &[f64]) -> ImageU8 {
    ImageU8::from_chw(1, h, w, values.iter().map(|&v| v as u8).collect())
}

#[test]
fn resize_matches_the_matlab_reference_values() {
    let cases = cases();
    assert_eq!(cases.len(), 11, "the fixture's cases");
    for case in &cases {
        let (h, w, ref input) = case.input;
        let (oh, ow, ref expected) = case.output;
        if case.kind == "size-f64" {
            let got = resize_plane_f64(input, h, w, case.args[0], case.args[1]).unwrap();
            assert_eq!(got.len(), expected.len(), "{}", case.name);
            for (i, (g, e)) in got.iter().zip(expected).enumerate() {
                assert!((g - e).abs() < 1e-9, "{}: value {i} is {g}, expected {e}", case.name);
            }
            continue;
        }
        let image = gray(h, w, input);
        let got = match case.kind.as_str() {
            "downscale" => downscale(&image, case.args[0]),
            "upscale" => upscale(&image, case.args[0]),
            "size" => imresize_bicubic(&image, case.args[0], case.args[1]),
            other => panic!("unknown case kind {other}"),
        }
        .unwrap();
        assert_eq!((got.height(), got.width()), (oh, ow), "{}", case.name);
        let want: Vec<u8> = expected.iter().map(|&v| v as u8).collect();
        let differing = got.as_slice().iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(got.as_slice(), want.as_slice(), "{}: {differing} of {} values differ", case.name, want.len());
    }
}

/// Each channel of an RGB image is resized as a grey image of its own.
#[test]
fn channels_are_resized_independently() {
    let cases = cases();
    let case = cases.iter().find(|c| c.name == "a-down2").unwrap();
    let (h, w, ref input) = case.input;
    let planes: Vec<u8> = [0.0, 255.0, 17.0].iter().flat_map(|&shift| input.iter().map(move |&v| (v - shift).abs() as u8)).collect();
    let rgb = ImageU8::from_chw(3, h, w, planes.clone());
    let got = downscale(&rgb, 2).unwrap();
    let n = got.height() * got.width();
    for c in 0..3 {
        let alone = downscale(&ImageU8::from_chw(1, h, w, planes[c * h * w..(c + 1) * h * w].to_vec()), 2).unwrap();
        assert_eq!(&got.as_slice()[c * n..(c + 1) * n], alone.as_slice(), "channel {c}");
    }
}
