//! Hand-made result rows for the unit tests.

use glcan_store::{ResultRow, RunStatus};

/// A finished classification run of `method` at `k` with `accuracy` % on the test set.
pub fn row(method: &str, k: usize, seed: u64, accuracy: f64) -> ResultRow {
    ResultRow {
        suite: "classify".into(),
        dataset: "fashion-mnist".into(),
        network: "resnet8".into(),
        method: method.into(),
        k,
        seed,
        preset: "test".into(),
        status: RunStatus::Ok,
        error: String::new(),
        epochs: 3,
        batch_size: 64,
        train_images: 512,
        test_images: 256,
        test_accuracy: Some(accuracy),
        ap: None,
        ap50: None,
        psnr_y: None,
        ssim_y: None,
        step_peak_bytes: 50_000_000 / k as u64,
        peak_rss_bytes: 1 << 28,
        images_per_s: 100.0,
        network_parameters: 1000,
        device: "cpu".into(),
        threads: 2,
        cpu_isa: "avx2".into(),
        kernel_fingerprint: String::new(),
        module_schedule: "sequential".into(),
        dtype: "float32".into(),
        git_commit: "abc1234".into(),
        config_hash: String::new(),
        run_dir: format!("runs/{method}-k{k}-s{seed}"),
        finished_at: "2026-11-25T16:00:00Z".into(),
        seconds: 1.5,
    }
}
