//! The super-resolution suite's library part: what other crates and tools may reuse.
//! The `bench-sr` binary holds the rest (data, training grid, evaluation commands).

pub mod psnr_ssim;
