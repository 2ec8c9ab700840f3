//! Bad MNIST files through the binary: an error that names the file and the fault, before
//! any training, never a crash inside libtorch.

use std::path::Path;
use std::process::Command;

/// Writes an unsigned-byte IDX file: magic `0x0803` (images) or `0x0801` (labels).
fn write_idx(path: &Path, magic: u32, dims: &[u32], values: &[u8]) {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(values);
    std::fs::write(path, bytes).unwrap();
}

/// An MNIST folder of `prefix` (`train` or `t10k`) files: images of `rows x cols`, `labels`.
fn write_split(dir: &Path, prefix: &str, rows: u32, cols: u32, labels: &[u8]) {
    let n = labels.len() as u32;
    write_idx(&dir.join(format!("{prefix}-images-idx3-ubyte")), 0x803, &[n, rows, cols], &vec![100; (n * rows * cols) as usize]);
    write_idx(&dir.join(format!("{prefix}-labels-idx1-ubyte")), 0x801, &[n], labels);
}

/// `bench-classify train` on MNIST from `data_dir`; returns its standard error (it must fail).
fn train_error(data_dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bench-classify"))
        .args(["train", "--dataset", "mnist", "--net", "resnet8", "--epochs", "1", "--batch-size", "2", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && out.stdout.is_empty(), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("epoch 1/1"), "{stderr}");
    stderr
}

#[test]
fn a_label_out_of_range_names_the_file_the_record_and_the_range() {
    let data = tempfile::tempdir().unwrap();
    let mnist = data.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    write_split(&mnist, "train", 28, 28, &[3, 200, 1, 4]);
    write_split(&mnist, "t10k", 28, 28, &[0, 1]);
    let stderr = train_error(data.path());
    assert!(stderr.contains("train-labels-idx1-ubyte: record 1: label 200 is out of range 0..10"), "{stderr}");
}

#[test]
fn images_of_other_geometry_name_the_file_and_both_shapes() {
    let data = tempfile::tempdir().unwrap();
    let mnist = data.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    write_split(&mnist, "train", 14, 56, &[3, 2, 1, 4]);
    write_split(&mnist, "t10k", 28, 28, &[0, 1]);
    let stderr = train_error(data.path());
    assert!(stderr.contains("train-images-idx3-ubyte: images of 14x56 pixels, but the dataset's images are 28x28"), "{stderr}");
    // Right training images, test images of another size.
    write_split(&mnist, "train", 28, 28, &[3, 2, 1, 4]);
    write_split(&mnist, "t10k", 14, 56, &[0, 1]);
    let stderr = train_error(data.path());
    assert!(stderr.contains("t10k-images-idx3-ubyte: images of 14x56 pixels, but the dataset's images are 28x28"), "{stderr}");
}
