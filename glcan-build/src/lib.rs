//! Link settings shared by every build script of the workspace, and the binaries' build
//! stamp ([`stamp_git_commit`]).
//!
//! torch-sys finds libtorch (in `.venv`'s torch wheel) but its link flags do not reach
//! downstream binaries, so each package with binaries, tests or benches calls
//! [`link_libtorch`] from its `build.rs`. The package must depend on `torch-sys` directly:
//! cargo hands torch-sys' `libtorch_lib` metadata (as `DEP_TCH_LIBTORCH_LIB`) only to its
//! direct dependents.

use std::path::{Path, PathBuf};

mod git_stamp;
pub use git_stamp::stamp_git_commit;

/// Emits the linker arguments that make the package's executables
/// (a) find libtorch at run time without `LD_LIBRARY_PATH` (an rpath to its folder), and
/// (b) keep `libtorch_cuda` as a `NEEDED` entry: the default `--as-needed` drops it because
///     no Rust symbol refers to it, and CUDA then silently disappears.
pub fn link_libtorch() {
    for arg in link_args(&libtorch_lib_dir()) {
        println!("cargo:rustc-link-arg={arg}");
    }
}

/// The folder holding libtorch's shared libraries, as torch-sys found it.
pub fn libtorch_lib_dir() -> PathBuf {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    match std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "DEP_TCH_LIBTORCH_LIB is not set: this package must list `torch-sys` in its \
             [dependencies] so that cargo passes libtorch's location to its build script"
        ),
    }
}

/// libtorch's C++ header folders, for a build script that compiles C++ against it.
pub fn libtorch_include_dirs() -> Vec<PathBuf> {
    include_dirs(&libtorch_lib_dir())
}

/// The header folders next to a libtorch `lib` folder: the torch wheel and the libtorch
/// archive both keep them in `<torch>/include` (c10, ATen, ...) and the C++ frontend in
/// `<torch>/include/torch/csrc/api/include`.
pub fn include_dirs(lib_dir: &Path) -> Vec<PathBuf> {
    let root = lib_dir.parent().unwrap_or(lib_dir).join("include");
    vec![root.join("torch/csrc/api/include"), root]
}

/// gloo's header folder, which torch's ProcessGroupGloo header needs (the wheel does not ship
/// it): `$GLOO_INCLUDE_DIR`, else `.venv/gloo/include` as `scripts/setup-venv.sh` unpacks it.
pub fn gloo_include_dir() -> PathBuf {
    println!("cargo:rerun-if-env-changed=GLOO_INCLUDE_DIR");
    let dir = match std::env::var_os("GLOO_INCLUDE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
            Path::new(&manifest_dir).join("../.venv/gloo/include")
        }
    };
    if !dir.join("gloo/config.h").exists() {
        panic!(
            "gloo's headers are not in {} (gloo/config.h): run `make setup` (scripts/setup-venv.sh), or set GLOO_INCLUDE_DIR",
            dir.display()
        );
    }
    dir
}

/// The linker arguments for a libtorch folder; the CUDA libraries are named only when present.
pub fn link_args(lib_dir: &Path) -> Vec<String> {
    let mut args = vec![format!("-Wl,-rpath,{}", lib_dir.display()), "-Wl,--no-as-needed".to_owned()];
    for lib in ["torch_cuda", "torch_cpu", "torch", "c10"] {
        if lib_dir.join(format!("lib{lib}.so")).exists() {
            args.push(format!("-l{lib}"));
        }
    }
    // libtorch's own C++ dependencies must be resolvable even in a test binary that never
    // touches tch (lld checks the undefined symbols of every shared library it links).
    args.push("-lstdc++".to_owned());
    args.push("-Wl,--as-needed".to_owned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only_the_libraries_present_and_restores_as_needed() {
        let dir = std::env::temp_dir().join(format!("glcan-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libtorch_cpu.so"), b"").unwrap();
        let args = link_args(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(args[0], format!("-Wl,-rpath,{}", dir.display()));
        assert_eq!(args[1..], ["-Wl,--no-as-needed", "-ltorch_cpu", "-lstdc++", "-Wl,--as-needed"]);
    }

    #[test]
    fn include_dirs_sit_next_to_the_lib_folder() {
        let dirs = include_dirs(Path::new("/opt/torch/lib"));
        assert_eq!(dirs, [PathBuf::from("/opt/torch/include/torch/csrc/api/include"), PathBuf::from("/opt/torch/include")]);
    }
}
