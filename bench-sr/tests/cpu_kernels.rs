//! The CPU-kernel pin end to end: a step's peak memory and the kernels' numerics
//! fingerprint do not depend on the instruction set the environment offers libtorch.
//!
//! `cpu_isa = avx2` (the default) must give what a machine with AVX2 only gives: that
//! machine is simulated by handing a `native` run the AVX2 settings through the
//! environment. On an AVX2-only CPU both sides are native AVX2 anyway; on an AVX-512 CPU
//! this is the case the pin exists for.

use std::process::Command;

/// The smoke preset's EDSR step (4 blocks, 32 features, batch 8 of 24 px patches).
fn measure(cpu_isa: &str, environment: &[(&str, &str)]) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bench-sr"));
    command.args(["--cpu-isa", cpu_isa, "measure", "--n-resblocks", "4", "--n-feats", "32", "--batch-size", "8", "--lr-patch", "24"]);
    // Two threads on every machine: the thread count moves both figures too.
    command.env("OMP_NUM_THREADS", "2");
    for (variable, value) in environment {
        command.env(variable, value);
    }
    for variable in ["ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_CBWR"] {
        if !environment.iter().any(|(v, _)| *v == variable) {
            command.env_remove(variable);
        }
    }
    let out = command.output().expect("the binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn pinned_avx2_kernels_measure_what_an_avx2_machine_measures() {
    let avx2_machine = measure("native", &[("ONEDNN_MAX_CPU_ISA", "AVX2"), ("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_CBWR", "COMPATIBLE")]);
    // The pin wins over whatever the environment asks for.
    let pinned = measure("avx2", &[("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"), ("ATEN_CPU_CAPABILITY", "avx512")]);
    assert_eq!(pinned["cpu_isa"], "avx2");
    assert_eq!(avx2_machine["cpu_isa"], "native-avx2");
    assert_eq!(pinned["peak_bytes"], avx2_machine["peak_bytes"], "peak memory follows the instruction set");
    assert_eq!(pinned["kernel_fingerprint"], avx2_machine["kernel_fingerprint"], "numerics follow the instruction set");
}

#[test]
fn an_unknown_cpu_isa_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_bench-sr")).args(["--cpu-isa", "avx512", "measure"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("avx512") && stderr.contains("expected avx2 or native"), "{stderr}");
}
