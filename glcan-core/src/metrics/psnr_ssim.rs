//! PSNR and SSIM on the Y channel (to be written).
