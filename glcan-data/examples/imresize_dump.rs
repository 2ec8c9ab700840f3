//! Writes what our MATLAB-style bicubic `imresize` makes, as binary PPM (P6) files, so that
//! an independent implementation (`reports/exactness/imresize_compare.py`) can check it
//! pixel by pixel.
//!
//! ```text
//! imresize_dump pairs  <hr_dir> <list> <scale> <out_dir>   # per image: <stem>.x<s>.{hr,lr,sr}.ppm
//! imresize_dump resize <image> <height> <width> <out.ppm>   # imresize(image, [height width])
//! ```
//!
//! `pairs` makes what `bench-sr bicubic` scores: the mod-cropped HR image, its LR image
//! (`imresize(hr, 1/s)`) and the bicubic estimate (`imresize(lr, s)`).

use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use glcan_data::resize::{downscale, imresize_bicubic, upscale};
use glcan_data::sr::mod_crop;
use glcan_data::ImageU8;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Binary PPM of an RGB image (8 bits per sample, interleaved).
fn write_ppm(image: &ImageU8, path: &Path) -> Result<()> {
    let (h, w) = (image.height(), image.width());
    if image.channels() != 3 {
        return Err(format!("{}: {} channels, PPM needs 3", path.display(), image.channels()).into());
    }
    let mut bytes = format!("P6\n{w} {h}\n255\n").into_bytes();
    for y in 0..h {
        for x in 0..w {
            bytes.extend((0..3).map(|c| image.at(c, y, x)));
        }
    }
    fs::File::create(path)?.write_all(&bytes)?;
    Ok(())
}

fn pairs(hr_dir: &Path, list: &Path, scale: usize, out_dir: &Path) -> Result<()> {
    fs::create_dir_all(out_dir)?;
    let names = fs::read_to_string(list)?;
    for name in names.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let hr = mod_crop(&ImageU8::open_rgb(hr_dir.join(name))?, scale);
        let lr = downscale(&hr, scale)?;
        let sr = upscale(&lr, scale)?;
        let stem = Path::new(name).file_stem().ok_or("a list line without a file name")?.to_string_lossy().into_owned();
        for (kind, image) in [("hr", &hr), ("lr", &lr), ("sr", &sr)] {
            write_ppm(image, &out_dir.join(format!("{stem}.x{scale}.{kind}.ppm")))?;
        }
        println!("{name} x{scale}: HR {}x{}, LR {}x{}", hr.height(), hr.width(), lr.height(), lr.width());
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["pairs", hr_dir, list, scale, out_dir] => pairs(Path::new(hr_dir), Path::new(list), scale.parse()?, &PathBuf::from(out_dir)),
        ["resize", image, height, width, out] => {
            let resized = imresize_bicubic(&ImageU8::open_rgb(image)?, height.parse()?, width.parse()?)?;
            write_ppm(&resized, Path::new(out))
        }
        _ => Err("usage: imresize_dump pairs <hr_dir> <list> <scale> <out_dir> | resize <image> <height> <width> <out.ppm>".into()),
    }
}
