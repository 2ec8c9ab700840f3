//! Links glcan-core's tests and benches to libtorch, and compiles the C++ shims behind
//! `glcan_core::memory` (a counting CPU allocator and the CUDA allocator's statistics),
//! `glcan_core::cpu_kernels` (ATen's CPU capability), `glcan_core::libtorch_facts`
//! (libtorch's versions), `glcan_core::memory_format` (channels-last tensors) and
//! `glcan_core::optim` (the multi-tensor SGD step) against the headers of the same libtorch
//! that torch-sys links, `glcan_core::c10d` (torch's TCPStore and ProcessGroupGloo) with
//! gloo's headers too, and passes on the tch version of Cargo.lock.

fn main() {
    glcan_build::link_libtorch();
    compile_shim("csrc/memory_shim.cpp", "glcan_memory_shim");
    compile_shim("csrc/cpu_kernels_shim.cpp", "glcan_cpu_kernels_shim");
    compile_shim("csrc/libtorch_facts_shim.cpp", "glcan_libtorch_facts_shim");
    compile_shim("csrc/tensor_layout_shim.cpp", "glcan_tensor_layout_shim");
    compile_shim("csrc/multi_tensor_sgd_shim.cpp", "glcan_multi_tensor_sgd_shim");
    compile_c10d_shim();
    println!("cargo:rustc-env=GLCAN_TCH_VERSION={}", locked_version("tch"));
}

/// The version of `package` in the workspace's Cargo.lock: what this build links.
fn locked_version(package: &str) -> String {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return version.trim_end_matches('"').to_owned();
            }
        }
    }
    "unknown".to_owned()
}

fn compile_shim(source: &str, library: &str) {
    shim_build(source).compile(library);
}

/// ProcessGroupGloo's header is compiled only with USE_C10D_GLOO, as in torch's own build.
fn compile_c10d_shim() {
    let mut build = shim_build("csrc/c10d_shim.cpp");
    build.define("USE_C10D_GLOO", None).flag("-isystem").flag(glcan_build::gloo_include_dir().display().to_string());
    build.compile("glcan_c10d_shim");
}

fn shim_build(source: &str) -> cc::Build {
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-changed=build.rs");
    // Must match the ABI libtorch was built with; torch-sys reads the same variable and the
    // torch 2.13 wheel uses the new ABI (`torch._C._GLIBCXX_USE_CXX11_ABI` is True).
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());

    let mut build = cc::Build::new();
    build.cpp(true).pic(true).std("c++17").warnings(true).extra_warnings(true);
    // -isystem: warnings from libtorch's own headers are not ours to fix.
    for dir in glcan_build::libtorch_include_dirs() {
        build.flag("-isystem").flag(dir.display().to_string());
    }
    build.define("_GLIBCXX_USE_CXX11_ABI", cxx11_abi.as_str()).file(source);
    build
}
