//! Is a JPEG file complete? The `image` crate's JPEG decoder fills the rows a truncated file
//! lacks with grey and returns no error (half a photo scored 2 dB *better* in the bicubic
//! baseline than the whole one), so the readers check the file before decoding it.
//!
//! A JPEG (ITU-T T.81, Annex B) is a sequence of markers `FF xx`: SOI, segments that carry
//! their length, scans whose entropy-coded data follow the SOS segment (an `FF` byte there
//! is stuffed as `FF 00`; `FF D0`..`FF D7` are restart markers), and EOI `FF D9`. A file is
//! complete when walking that structure reaches EOI; bytes after it (some cameras append
//! data) are ignored, and a thumbnail inside an APP segment is skipped with its segment.

/// Start of image, end of image, start of scan.
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

/// `Ok` when `bytes` is a JPEG that reaches its end-of-image marker; otherwise what is
/// missing, in words.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(..2) != Some(&[0xFF, SOI]) {
        return Err("no start-of-image marker (FF D8)".into());
    }
    let mut pos = 2;
    let mut scans = 0;
    loop {
        // Like libjpeg, skip stray bytes before a marker, and the fill bytes FF FF ...
        let Some(ff) = bytes[pos..].iter().position(|&b| b == 0xFF) else { return Err(missing_eoi(scans)) };
        pos += ff;
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else { return Err(missing_eoi(scans)) };
        pos += 1;
        match marker {
            EOI => return Ok(()),
            // Markers without a segment: TEM, RSTn, a repeated SOI.
            0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        let Some(&[high, low]) = bytes.get(pos..pos + 2) else {
            return Err(format!("the file ends inside the header of marker FF {marker:02X}"));
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length < 2 {
            return Err(format!("marker FF {marker:02X} has an impossible segment length {length}"));
        }
        if pos + length > bytes.len() {
            return Err(format!(
                "the file ends inside the segment of marker FF {marker:02X} ({length} bytes announced, {} left)",
                bytes.len() - pos
            ));
        }
        pos += length;
        if marker == SOS {
            scans += 1;
            pos = end_of_entropy_data(bytes, pos).ok_or_else(|| missing_eoi(scans))?;
        }
    }
}

/// Position of the marker that ends the entropy-coded data starting at `pos`, or `None`
/// when the data run to the end of the file.
fn end_of_entropy_data(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        pos += bytes[pos..].iter().position(|&b| b == 0xFF)?;
        match *bytes.get(pos + 1)? {
            // A stuffed FF or a restart marker: still inside the scan.
            0x00 | 0xD0..=0xD7 => pos += 2,
            // A fill byte: the marker comes after it.
            0xFF => pos += 1,
            _ => return Some(pos),
        }
    }
}

fn missing_eoi(scans: usize) -> String {
    if scans == 0 {
        "the file ends before its first scan, without the end-of-image marker (FF D9)".into()
    } else {
        format!("the file ends inside scan {scans}, without the end-of-image marker (FF D9)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real baseline JPEG of 48x40 pixels, encoded by the `image` crate.
    fn jpeg() -> Vec<u8> {
        let image = image::RgbImage::from_fn(48, 40, |x, y| image::Rgb([(x * 5) as u8, (y * 6) as u8, ((x * y) % 256) as u8]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&image).unwrap();
        bytes
    }

    #[test]
    fn a_whole_file_is_complete_even_with_bytes_after_its_end() {
        let mut bytes = jpeg();
        assert_eq!(check(&bytes), Ok(()));
        bytes.extend_from_slice(b"trailing data a camera appended");
        assert_eq!(check(&bytes), Ok(()));
    }

    #[test]
    fn every_cut_is_found() {
        let bytes = jpeg();
        for len in 0..bytes.len() {
            assert!(check(&bytes[..len]).is_err(), "cut at {len} of {} passed", bytes.len());
        }
        let message = check(&bytes[..bytes.len() / 2]).unwrap_err();
        assert_eq!(message, "the file ends inside scan 1, without the end-of-image marker (FF D9)");
        assert_eq!(check(&bytes[..10]).unwrap_err(), "the file ends inside the segment of marker FF E0 (16 bytes announced, 6 left)");
        assert_eq!(check(b"GIF89a").unwrap_err(), "no start-of-image marker (FF D8)");
    }

    #[test]
    fn stuffed_bytes_and_restart_markers_stay_inside_the_scan() {
        // SOI, SOS with a 2-byte segment, data with FF 00 and FF D3, then EOI.
        let bytes = [0xFF, SOI, 0xFF, SOS, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF, EOI];
        assert_eq!(check(&bytes), Ok(()));
        assert!(check(&bytes[..13]).unwrap_err().contains("inside scan 1"));
    }
}
