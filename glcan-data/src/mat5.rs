//! MATLAB Level 5 MAT-files (`save -v6` / `-v7`), as specified in MathWorks' "MAT-File
//! Format" (<https://www.mathworks.com/help/pdf_doc/matlab/matfile_format.pdf>): enough of
//! it to read numeric arrays such as SVHN's `X` and `y`, and the struct arrays of char and
//! numeric fields of the ImageNet devkit's `meta.mat`.
//!
//! Layout, little-endian files only:
//! - a 128-byte header: 116 bytes of text (`MATLAB 5.0 MAT-file, ...`), 8 bytes of subsystem
//!   data offset, the version `0x0100` and the endian indicator `IM`;
//! - data elements, each an 8-byte tag (type `u32`, byte count `u32`) and its bytes, or the
//!   4-byte "small element" form (byte count in the upper 16 bits of the first word, type in
//!   the lower, up to 4 data bytes in the second word). Inside a matrix, elements are padded
//!   to a multiple of 8 bytes;
//! - a top-level element is `miMATRIX` (14) or `miCOMPRESSED` (15), a zlib stream that
//!   inflates to one `miMATRIX` element (`save -v7` writes these);
//! - a matrix holds array flags (class in the low byte), dimensions (`miINT32`), the name
//!   (`miINT8`) and, for numeric classes, the real part. The real part's storage type may be
//!   narrower than the class (MATLAB stores a double array of small integers as `miUINT8`):
//!   values are converted to the class on reading.
//!
//! - a char array holds its characters as the real part (`miUINT16` or `miUTF16` from
//!   MATLAB, `miUTF8` from scipy, `miUINT8` as Latin-1), column-major;
//! - a struct array holds, after its name, the longest field name length (`miINT32`), the
//!   field names (`miINT8`, each padded with NULs to that length), then for each element
//!   (column-major) and each field one `miMATRIX` element with an empty name.
//!
//! Not read: big-endian files, v7.3 files (HDF5 inside), and the content of cell, object,
//! sparse and complex arrays (they are listed, their data skipped).

use std::fs::File;
use std::io::{self, BufReader, Read, Take};
use std::path::Path;

use crate::{Error, Result};

/// Element types (the `mi*` constants of the specification).
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

/// Array-flags bit of a complex array.
const COMPLEX_FLAG: u32 = 0x0800;
/// The most bytes reserved ahead of a read: a byte count comes from the file and may be
/// garbage, so a truncated file must not make us allocate gigabytes before noticing.
const MAX_RESERVE: u64 = 1 << 26;

/// The class of a MATLAB array (the `mx*_CLASS` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatClass {
    Cell,
    Struct,
    Object,
    Char,
    Sparse,
    Double,
    Single,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    /// A class number this reader does not know (function handles, opaque objects, ...).
    Other(u8),
}

impl MatClass {
    fn from_code(code: u8) -> MatClass {
        match code {
            1 => MatClass::Cell,
            2 => MatClass::Struct,
            3 => MatClass::Object,
            4 => MatClass::Char,
            5 => MatClass::Sparse,
            6 => MatClass::Double,
            7 => MatClass::Single,
            8 => MatClass::Int8,
            9 => MatClass::UInt8,
            10 => MatClass::Int16,
            11 => MatClass::UInt16,
            12 => MatClass::Int32,
            13 => MatClass::UInt32,
            14 => MatClass::Int64,
            15 => MatClass::UInt64,
            other => MatClass::Other(other),
        }
    }

    /// Whether arrays of this class hold plain numbers this reader decodes.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            MatClass::Double
                | MatClass::Single
                | MatClass::Int8
                | MatClass::UInt8
                | MatClass::Int16
                | MatClass::UInt16
                | MatClass::Int32
                | MatClass::UInt32
                | MatClass::Int64
                | MatClass::UInt64
        )
    }
}

/// The values of a numeric array, in the type of its class, in MATLAB's column-major order.
#[derive(Debug, Clone, PartialEq)]
pub enum MatValues {
    Double(Vec<f64>),
    Single(Vec<f32>),
    Int8(Vec<i8>),
    UInt8(Vec<u8>),
    Int16(Vec<i16>),
    UInt16(Vec<u16>),
    Int32(Vec<i32>),
    UInt32(Vec<u32>),
    Int64(Vec<i64>),
    UInt64(Vec<u64>),
}

impl MatValues {
    pub fn len(&self) -> usize {
        match self {
            MatValues::Double(v) => v.len(),
            MatValues::Single(v) => v.len(),
            MatValues::Int8(v) => v.len(),
            MatValues::UInt8(v) => v.len(),
            MatValues::Int16(v) => v.len(),
            MatValues::UInt16(v) => v.len(),
            MatValues::Int32(v) => v.len(),
            MatValues::UInt32(v) => v.len(),
            MatValues::Int64(v) => v.len(),
            MatValues::UInt64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `index` as a double (exact except for 64-bit integers beyond 2^53).
    pub fn get_f64(&self, index: usize) -> Option<f64> {
        match self {
            MatValues::Double(v) => v.get(index).copied(),
            MatValues::Single(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::Int8(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::UInt8(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::Int16(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::UInt16(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::Int32(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::UInt32(v) => v.get(index).map(|&x| f64::from(x)),
            MatValues::Int64(v) => v.get(index).map(|&x| x as f64),
            MatValues::UInt64(v) => v.get(index).map(|&x| x as f64),
        }
    }

    /// The values as bytes: without a copy for a `uint8` array, otherwise only when every
    /// value is a whole number in 0..=255 (`None` if one is not).
    pub fn into_u8(self) -> Option<Vec<u8>> {
        if let MatValues::UInt8(bytes) = self {
            return Some(bytes);
        }
        (0..self.len()).map(|i| self.get_f64(i).filter(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v)).map(|v| v as u8)).collect()
    }
}

/// One variable of a MAT-file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatArray {
    pub name: String,
    pub class: MatClass,
    /// MATLAB dimensions, at least two (a column vector of n values is `[n, 1]`).
    pub dims: Vec<usize>,
    /// Whether the array has an imaginary part.
    pub complex: bool,
    /// The values of a real numeric array; `None` for the arrays whose content this reader
    /// skips: non-numeric classes, complex arrays, and variables not asked for.
    pub values: Option<MatValues>,
    /// The characters of a char array, rows joined by `\n`; `None` for other classes and
    /// variables not asked for.
    pub text: Option<String>,
    /// The fields of a struct array; `None` for other classes and variables not asked for.
    pub fields: Option<MatStruct>,
}

/// The content of a struct array.
#[derive(Debug, Clone, PartialEq)]
pub struct MatStruct {
    /// Field names, in file order.
    pub names: Vec<String>,
    /// One entry per element of the array (column-major), each holding one value per field
    /// in the order of `names`; each value is named after its field. An empty field (`[]`)
    /// is an empty double array.
    pub elements: Vec<Vec<MatArray>>,
}

impl MatStruct {
    /// Field `name` of element `index` (counting from 0).
    pub fn field(&self, index: usize, name: &str) -> Option<&MatArray> {
        let position = self.names.iter().position(|n| n == name)?;
        self.elements.get(index)?.get(position)
    }
}

/// The variables of a MAT-file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct MatFile {
    /// The header text, trailing blanks removed.
    pub description: String,
    pub arrays: Vec<MatArray>,
}

impl MatFile {
    /// Reads every variable.
    pub fn open(path: &Path) -> Result<MatFile> {
        Self::read(path, None)
    }

    /// Reads the values of the variables named in `names` only; the others are listed with
    /// `values: None` and their data skipped without being kept (a large file's unwanted
    /// arrays cost no memory).
    pub fn open_only(path: &Path, names: &[&str]) -> Result<MatFile> {
        Self::read(path, Some(names))
    }

    /// The first variable called `name`.
    pub fn get(&self, name: &str) -> Option<&MatArray> {
        self.arrays.iter().find(|a| a.name == name)
    }

    /// Takes the first variable called `name` out of the file (no copy of its values).
    pub fn remove(&mut self, name: &str) -> Option<MatArray> {
        let index = self.arrays.iter().position(|a| a.name == name)?;
        Some(self.arrays.remove(index))
    }

    fn read(path: &Path, wanted: Option<&[&str]>) -> Result<MatFile> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let description = read_header(&mut reader, path)?;
        let mut arrays = Vec::new();
        // Byte offset of the element being read, for messages.
        let mut offset: u64 = 128;
        while let Some(tag) = read_tag(&mut reader, path, &format!("element tag at byte {offset}"), true)? {
            let at = format!("element at byte {offset}");
            if tag.small.is_some() {
                return Err(Error::bad_data(path, format!("{at}: a small data element at top level")));
            }
            let mut body = (&mut reader).take(u64::from(tag.bytes));
            let array = match tag.data_type {
                MI_MATRIX => read_matrix(&mut body, path, &at, wanted)?,
                MI_COMPRESSED => {
                    let array = {
                        let mut inflated = flate2::read::ZlibDecoder::new(&mut body);
                        let inner = read_tag(&mut inflated, path, &format!("{at} (compressed)"), false)?;
                        match inner {
                            Some(Tag { data_type: MI_MATRIX, bytes, small: None }) => {
                                read_matrix(&mut (&mut inflated).take(u64::from(bytes)), path, &at, wanted)?
                            }
                            Some(other) => {
                                return Err(Error::bad_data(
                                    path,
                                    format!("{at}: compressed element holds type {}, not miMATRIX", other.data_type),
                                ))
                            }
                            // read_tag reports a missing tag itself when told it is required.
                            None => None,
                        }
                    };
                    // The zlib stream may end before its element does (checksum, padding).
                    skip_rest(&mut body, path, &at)?;
                    array
                }
                other => {
                    return Err(Error::bad_data(
                        path,
                        format!("{at}: element type {other} at top level, expected miMATRIX (14) or miCOMPRESSED (15)"),
                    ))
                }
            };
            arrays.extend(array);
            offset += 8 + u64::from(tag.bytes);
        }
        Ok(MatFile { description, arrays })
    }
}

/// Checks the 128-byte header and returns its text.
fn read_header(reader: &mut impl Read, path: &Path) -> Result<String> {
    let mut header = [0u8; 128];
    let got = read_up_to(reader, &mut header).map_err(|e| Error::io(path, e))?;
    let text = &header[..116];
    if text.starts_with(b"MATLAB 7.3") || header.starts_with(b"\x89HDF") {
        return Err(Error::bad_data(path, "a MATLAB 7.3 MAT-file (HDF5), which this reader does not read: save it with -v7"));
    }
    if got < 128 {
        return Err(Error::bad_data(path, format!("truncated header: {got} bytes, a MAT-file header has 128")));
    }
    if !text.starts_with(b"MATLAB") {
        return Err(Error::bad_data(path, "not a Level 5 MAT-file: the header text does not start with 'MATLAB'"));
    }
    match &header[126..128] {
        b"IM" => {}
        b"MI" => return Err(Error::bad_data(path, "a big-endian MAT-file, which this reader does not read")),
        other => return Err(Error::bad_data(path, format!("bad endian indicator {other:?} in the header, expected \"IM\""))),
    }
    let version = u16::from_le_bytes([header[124], header[125]]);
    if version != 0x0100 {
        return Err(Error::bad_data(path, format!("MAT-file version {version:#06x}, expected 0x0100")));
    }
    let text = String::from_utf8_lossy(text);
    Ok(text.trim_end_matches([' ', '\0']).to_string())
}

/// A data element tag; `small` holds the data of the 4-byte small form.
struct Tag {
    data_type: u32,
    bytes: u32,
    small: Option<[u8; 4]>,
}

/// Reads a tag. At a clean end of input, returns `None` when `end_ok`, an error otherwise.
fn read_tag(reader: &mut impl Read, path: &Path, what: &str, end_ok: bool) -> Result<Option<Tag>> {
    let mut raw = [0u8; 8];
    let got = read_up_to(reader, &mut raw).map_err(|e| stream_error(path, what, e))?;
    if got == 0 && end_ok {
        return Ok(None);
    }
    if got < 8 {
        return Err(Error::bad_data(path, format!("truncated {what}: {got} of 8 bytes")));
    }
    let first = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let second = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
    if first >> 16 != 0 {
        let bytes = first >> 16;
        if bytes > 4 {
            return Err(Error::bad_data(path, format!("{what}: small element announces {bytes} bytes, at most 4 fit")));
        }
        return Ok(Some(Tag { data_type: first & 0xffff, bytes, small: Some([raw[4], raw[5], raw[6], raw[7]]) }));
    }
    Ok(Some(Tag { data_type: first, bytes: second, small: None }))
}

/// Reads one matrix element's content from `body` (limited to the matrix's byte count).
/// Returns `None` for an empty matrix element (0 bytes), which MATLAB writes for empty cells.
fn read_matrix<R: Read>(body: &mut Take<R>, path: &Path, at: &str, wanted: Option<&[&str]>) -> Result<Option<MatArray>> {
    if body.limit() == 0 {
        return Ok(None);
    }
    let (flags_type, flags) = read_element(body, path, &format!("{at}: array flags"))?;
    if flags_type != MI_UINT32 || flags.len() != 8 {
        return Err(Error::bad_data(
            path,
            format!("{at}: array flags are type {flags_type}, {} bytes; expected miUINT32, 8 bytes", flags.len()),
        ));
    }
    let flags_word = u32::from_le_bytes([flags[0], flags[1], flags[2], flags[3]]);
    let class = MatClass::from_code(flags[0]);
    let complex = flags_word & COMPLEX_FLAG != 0;

    let (dims_type, dims_bytes) = read_element(body, path, &format!("{at}: dimensions"))?;
    if dims_type != MI_INT32 || dims_bytes.len() < 8 || dims_bytes.len() % 4 != 0 {
        return Err(Error::bad_data(
            path,
            format!("{at}: dimensions are type {dims_type}, {} bytes; expected miINT32, 2 or more", dims_bytes.len()),
        ));
    }
    let mut dims = Vec::with_capacity(dims_bytes.len() / 4);
    for four in dims_bytes.chunks_exact(4) {
        let d = i32::from_le_bytes([four[0], four[1], four[2], four[3]]);
        let d = usize::try_from(d).map_err(|_| Error::bad_data(path, format!("{at}: negative dimension {d}")))?;
        dims.push(d);
    }

    let (name_type, name_bytes) = read_element(body, path, &format!("{at}: array name"))?;
    if name_type != MI_INT8 {
        return Err(Error::bad_data(path, format!("{at}: array name is type {name_type}, expected miINT8")));
    }
    let name = String::from_utf8_lossy(&name_bytes).into_owned();
    // Struct fields have no name of their own: keep the caller's description of them.
    let at = if name.is_empty() { at.to_owned() } else { format!("variable '{name}'") };

    let asked = wanted.is_none_or(|names| names.contains(&name.as_str()));
    let mut array = MatArray { name, class, dims, complex, values: None, text: None, fields: None };
    let Some(count) = array.dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        return Err(Error::bad_data(path, format!("{at}: dimensions {:?} are too large", array.dims)));
    };
    if asked && class == MatClass::Char && !complex {
        // An empty char array may end right after its name.
        let text = if count == 0 && body.limit() == 0 {
            String::new()
        } else {
            let (storage, bytes) = read_element(body, path, &format!("{at}: characters"))?;
            decode_chars(&array.dims, count, storage, &bytes).map_err(|fault| Error::bad_data(path, format!("{at}: {fault}")))?
        };
        array.text = Some(text);
    } else if asked && class == MatClass::Struct {
        array.fields = Some(read_struct(body, path, &at, count)?);
    } else if asked && class.is_numeric() && !complex {
        let (storage, bytes) = read_element(body, path, &format!("{at}: real part"))?;
        let values = decode(class, storage, bytes).map_err(|fault| Error::bad_data(path, format!("{at}: {fault}")))?;
        if values.len() != count {
            return Err(Error::bad_data(
                path,
                format!("{at}: dimensions {:?} announce {count} values, the real part holds {}", array.dims, values.len()),
            ));
        }
        array.values = Some(values);
    }
    // What is left (the data of skipped arrays, an imaginary part) is read past.
    skip_rest(body, path, &at)?;
    Ok(Some(array))
}

/// Reads a struct array's field names and its `count` elements' field values.
fn read_struct<R: Read>(body: &mut Take<R>, path: &Path, at: &str, count: usize) -> Result<MatStruct> {
    let (length_type, length_bytes) = read_element(body, path, &format!("{at}: field name length"))?;
    let name_length = match (length_type, length_bytes.as_slice()) {
        (MI_INT32, &[a, b, c, d]) => i32::from_le_bytes([a, b, c, d]),
        _ => {
            return Err(Error::bad_data(
                path,
                format!("{at}: field name length is type {length_type}, {} bytes; expected one miINT32", length_bytes.len()),
            ))
        }
    };
    let name_length = usize::try_from(name_length)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::bad_data(path, format!("{at}: field name length {name_length}, expected at least 1")))?;
    let (names_type, names_bytes) = read_element(body, path, &format!("{at}: field names"))?;
    if names_type != MI_INT8 || names_bytes.len() % name_length != 0 {
        return Err(Error::bad_data(
            path,
            format!("{at}: field names are type {names_type}, {} bytes; expected miINT8, a multiple of {name_length}", names_bytes.len()),
        ));
    }
    let names: Vec<String> = names_bytes
        .chunks_exact(name_length)
        .map(|chunk| {
            let end = chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len());
            String::from_utf8_lossy(&chunk[..end]).into_owned()
        })
        .collect();
    let mut elements = Vec::with_capacity(count.min(1 << 16));
    for index in 0..count {
        let mut values = Vec::with_capacity(names.len());
        for name in &names {
            // MATLAB's 1-based element index, as a user would type it.
            let what = format!("{at}({}).{name}", index + 1);
            let Some(tag) = read_tag(body, path, &format!("{what} tag"), false)? else {
                return Err(Error::bad_data(path, format!("{what}: missing")));
            };
            if tag.data_type != MI_MATRIX || tag.small.is_some() {
                return Err(Error::bad_data(path, format!("{what}: element type {}, expected miMATRIX", tag.data_type)));
            }
            let len = u64::from(tag.bytes);
            if len > body.limit() {
                return Err(Error::bad_data(path, format!("{what}: {len} bytes announced, but its struct has only {} left", body.limit())));
            }
            // Through `dyn Read`, so that nested structs do not nest the reader's type.
            let mut field = (body as &mut dyn Read).take(len);
            let value = read_matrix(&mut field, path, &what, None)?;
            let mut value = value.unwrap_or_else(|| MatArray {
                name: String::new(),
                class: MatClass::Double,
                dims: vec![0, 0],
                complex: false,
                values: Some(MatValues::Double(Vec::new())),
                text: None,
                fields: None,
            });
            value.name = name.clone();
            values.push(value);
        }
        elements.push(values);
    }
    Ok(MatStruct { names, elements })
}

/// The text of a char array of `count` characters stored as `storage`, column-major;
/// rows of a 2-D array are joined by `\n`.
fn decode_chars(dims: &[usize], count: usize, storage: u32, bytes: &[u8]) -> std::result::Result<String, String> {
    let units: Vec<char> = match storage {
        MI_UINT8 => bytes.iter().map(|&b| char::from(b)).collect(),
        MI_UTF8 => String::from_utf8(bytes.to_vec()).map_err(|e| format!("characters are not valid UTF-8: {e}"))?.chars().collect(),
        MI_UINT16 | MI_UTF16 => {
            let words = le_values(bytes, u16::from_le_bytes)?;
            char::decode_utf16(words).collect::<std::result::Result<_, _>>().map_err(|e| format!("characters are not valid UTF-16: {e}"))?
        }
        MI_UTF32 | MI_UINT32 => le_values(bytes, u32::from_le_bytes)?
            .into_iter()
            .map(|u| char::from_u32(u).ok_or_else(|| format!("character code {u:#x} is not a character")))
            .collect::<std::result::Result<_, _>>()?,
        other => return Err(format!("characters stored as element type {other}, expected a character type")),
    };
    if units.len() != count {
        return Err(format!("dimensions {dims:?} announce {count} characters, the data holds {}", units.len()));
    }
    let rows = dims.first().copied().unwrap_or(1);
    if rows <= 1 {
        return Ok(units.into_iter().collect());
    }
    // Column-major: character (r, c) is at r + rows * c.
    let columns = count / rows;
    let lines: Vec<String> = (0..rows).map(|r| (0..columns).map(|c| units[r + rows * c]).collect()).collect();
    Ok(lines.join("\n"))
}

/// Reads one element inside a matrix: its type and its data, padding consumed.
fn read_element<R: Read>(body: &mut Take<R>, path: &Path, what: &str) -> Result<(u32, Vec<u8>)> {
    let Some(tag) = read_tag(body, path, &format!("{what} tag"), false)? else {
        return Err(Error::bad_data(path, format!("{what}: missing")));
    };
    if let Some(small) = tag.small {
        return Ok((tag.data_type, small[..tag.bytes as usize].to_vec()));
    }
    let len = u64::from(tag.bytes);
    if len > body.limit() {
        return Err(Error::bad_data(path, format!("{what}: {len} bytes announced, but its matrix has only {} left", body.limit())));
    }
    let mut data = Vec::with_capacity(len.min(MAX_RESERVE) as usize);
    body.by_ref().take(len).read_to_end(&mut data).map_err(|e| stream_error(path, what, e))?;
    if (data.len() as u64) < len {
        return Err(Error::bad_data(path, format!("truncated {what}: {len} bytes announced, {} found", data.len())));
    }
    // Padding to 8 bytes; a writer that leaves it off the last element is tolerated.
    let padding = (8 - len % 8) % 8;
    io::copy(&mut body.by_ref().take(padding), &mut io::sink()).map_err(|e| stream_error(path, what, e))?;
    Ok((tag.data_type, data))
}

/// Reads to the end of `body`, which must hold as many bytes as it was announced to.
fn skip_rest<R: Read>(body: &mut Take<R>, path: &Path, at: &str) -> Result<()> {
    let left = body.limit();
    let skipped = io::copy(body, &mut io::sink()).map_err(|e| stream_error(path, at, e))?;
    if skipped < left {
        return Err(Error::bad_data(path, format!("truncated {at}: {} bytes missing at the end", left - skipped)));
    }
    Ok(())
}

/// Converts the stored bytes of a real part to the array's class.
fn decode(class: MatClass, storage: u32, bytes: Vec<u8>) -> std::result::Result<MatValues, String> {
    // Stored in the class's own type: no conversion (and, for uint8 images, no copy).
    if class == MatClass::UInt8 && storage == MI_UINT8 {
        return Ok(MatValues::UInt8(bytes));
    }
    let same = match (class, storage) {
        (MatClass::Double, MI_DOUBLE) => Some(MatValues::Double(le_values(&bytes, f64::from_le_bytes)?)),
        (MatClass::Single, MI_SINGLE) => Some(MatValues::Single(le_values(&bytes, f32::from_le_bytes)?)),
        (MatClass::Int8, MI_INT8) => Some(MatValues::Int8(le_values(&bytes, i8::from_le_bytes)?)),
        (MatClass::Int16, MI_INT16) => Some(MatValues::Int16(le_values(&bytes, i16::from_le_bytes)?)),
        (MatClass::UInt16, MI_UINT16) => Some(MatValues::UInt16(le_values(&bytes, u16::from_le_bytes)?)),
        (MatClass::Int32, MI_INT32) => Some(MatValues::Int32(le_values(&bytes, i32::from_le_bytes)?)),
        (MatClass::UInt32, MI_UINT32) => Some(MatValues::UInt32(le_values(&bytes, u32::from_le_bytes)?)),
        (MatClass::Int64, MI_INT64) => Some(MatValues::Int64(le_values(&bytes, i64::from_le_bytes)?)),
        (MatClass::UInt64, MI_UINT64) => Some(MatValues::UInt64(le_values(&bytes, u64::from_le_bytes)?)),
        _ => None,
    };
    if let Some(values) = same {
        return Ok(values);
    }
    // Stored in another type: read as doubles, then narrow to the class, checking each value.
    let wide: Vec<f64> = match storage {
        MI_DOUBLE => le_values(&bytes, f64::from_le_bytes)?,
        MI_SINGLE => le_values(&bytes, |b: [u8; 4]| f64::from(f32::from_le_bytes(b)))?,
        MI_INT8 => le_values(&bytes, |b: [u8; 1]| f64::from(i8::from_le_bytes(b)))?,
        MI_UINT8 => bytes.iter().map(|&b| f64::from(b)).collect(),
        MI_INT16 => le_values(&bytes, |b: [u8; 2]| f64::from(i16::from_le_bytes(b)))?,
        MI_UINT16 => le_values(&bytes, |b: [u8; 2]| f64::from(u16::from_le_bytes(b)))?,
        MI_INT32 => le_values(&bytes, |b: [u8; 4]| f64::from(i32::from_le_bytes(b)))?,
        MI_UINT32 => le_values(&bytes, |b: [u8; 4]| f64::from(u32::from_le_bytes(b)))?,
        MI_INT64 => le_values(&bytes, |b: [u8; 8]| i64::from_le_bytes(b) as f64)?,
        MI_UINT64 => le_values(&bytes, |b: [u8; 8]| u64::from_le_bytes(b) as f64)?,
        other => return Err(format!("real part stored as element type {other}, which is not numeric")),
    };
    Ok(match class {
        MatClass::Double => MatValues::Double(wide),
        MatClass::Single => MatValues::Single(wide.iter().map(|&v| v as f32).collect()),
        MatClass::Int8 => MatValues::Int8(narrow(&wide, class, i8::MIN.into(), i8::MAX.into(), |v| v as i8)?),
        MatClass::UInt8 => MatValues::UInt8(narrow(&wide, class, 0.0, u8::MAX.into(), |v| v as u8)?),
        MatClass::Int16 => MatValues::Int16(narrow(&wide, class, i16::MIN.into(), i16::MAX.into(), |v| v as i16)?),
        MatClass::UInt16 => MatValues::UInt16(narrow(&wide, class, 0.0, u16::MAX.into(), |v| v as u16)?),
        MatClass::Int32 => MatValues::Int32(narrow(&wide, class, i32::MIN.into(), i32::MAX.into(), |v| v as i32)?),
        MatClass::UInt32 => MatValues::UInt32(narrow(&wide, class, 0.0, u32::MAX.into(), |v| v as u32)?),
        MatClass::Int64 => MatValues::Int64(narrow(&wide, class, i64::MIN as f64, i64::MAX as f64, |v| v as i64)?),
        MatClass::UInt64 => MatValues::UInt64(narrow(&wide, class, 0.0, u64::MAX as f64, |v| v as u64)?),
        // Only numeric classes reach here.
        other => return Err(format!("class {other:?} has no numeric values")),
    })
}

/// Splits little-endian bytes into values of `N` bytes each.
fn le_values<T, const N: usize>(bytes: &[u8], from: impl Fn([u8; N]) -> T) -> std::result::Result<Vec<T>, String> {
    if !bytes.len().is_multiple_of(N) {
        return Err(format!("real part of {} bytes is not a whole number of {N}-byte values", bytes.len()));
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut word = [0u8; N];
            word.copy_from_slice(chunk);
            from(word)
        })
        .collect())
}

/// Narrows doubles to an integer class: each value must be whole and within `min..=max`.
fn narrow<T>(wide: &[f64], class: MatClass, min: f64, max: f64, cast: impl Fn(f64) -> T) -> std::result::Result<Vec<T>, String> {
    wide.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() == 0.0 && (min..=max).contains(&v) {
                Ok(cast(v))
            } else {
                Err(format!("value {i} ({v}) does not fit the array's class {class:?}"))
            }
        })
        .collect()
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A failed read: a zlib stream that does not inflate is bad data, anything else is I/O.
fn stream_error(path: &Path, what: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::bad_data(path, format!("truncated {what}")),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => Error::bad_data(path, format!("{what}: corrupt compressed data ({e})")),
        _ => Error::io(path, e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Hand-made MAT-files, byte by byte as MATLAB writes them; shared with the SVHN tests.

    use std::io::Write;

    use super::*;

    pub(crate) const CLASS_DOUBLE: u8 = 6;
    pub(crate) const CLASS_UINT8: u8 = 9;
    pub(crate) const CLASS_STRUCT: u8 = 2;
    pub(crate) const CLASS_CHAR: u8 = 4;

    /// The 128-byte header of a little-endian Level 5 file.
    pub(crate) fn header() -> Vec<u8> {
        let mut bytes = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024".to_vec();
        bytes.resize(116, b' ');
        bytes.extend_from_slice(&[0; 8]); // no subsystem data
        bytes.extend_from_slice(&0x0100u16.to_le_bytes());
        bytes.extend_from_slice(b"IM");
        bytes
    }

    /// A data element with its 8-byte tag, padded to 8 bytes; 1 to 4 bytes of data take the
    /// small form, as MATLAB writes them.
    pub(crate) fn element(data_type: u32, data: &[u8]) -> Vec<u8> {
        if (1..=4).contains(&data.len()) {
            let mut bytes = ((data.len() as u32) << 16 | data_type).to_le_bytes().to_vec();
            bytes.extend_from_slice(data);
            bytes.resize(8, 0);
            return bytes;
        }
        long_element(data_type, data)
    }

    /// A data element in the 8-byte tag form whatever its size.
    pub(crate) fn long_element(data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut bytes = data_type.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(data);
        bytes.resize(bytes.len().div_ceil(8) * 8, 0);
        bytes
    }

    /// An miMATRIX element of class `class` whose real part is `data` stored as `storage`.
    pub(crate) fn matrix(name: &str, class: u8, dims: &[i32], storage: u32, data: &[u8]) -> Vec<u8> {
        let mut content = element(MI_UINT32, &[class, 0, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>()));
        content.extend(element(MI_INT8, name.as_bytes()));
        content.extend(element(storage, data));
        long_element(MI_MATRIX, &content)
    }

    /// An element wrapped as `save -v7` does: an miCOMPRESSED tag and a zlib stream, unpadded.
    pub(crate) fn compressed(element: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(element).unwrap();
        let stream = encoder.finish().unwrap();
        let mut bytes = MI_COMPRESSED.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(stream.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&stream);
        bytes
    }

    pub(crate) fn doubles(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    pub(crate) fn write_mat(dir: &Path, name: &str, elements: &[Vec<u8>]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, [header(), elements.concat()].concat()).unwrap();
        path
    }

    fn open_error(elements: &[Vec<u8>]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write_mat(dir.path(), "broken.mat", elements);
        MatFile::open(&path).unwrap_err().to_string()
    }

    #[test]
    fn reads_plain_and_compressed_matrices() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..12).collect();
        let path = write_mat(
            dir.path(),
            "a.mat",
            &[
                matrix("img", CLASS_UINT8, &[2, 3, 2], MI_UINT8, &bytes),
                compressed(&matrix("scores", CLASS_DOUBLE, &[1, 3], MI_DOUBLE, &doubles(&[0.5, -2.0, 1e10]))),
                // A double array MATLAB stored as bytes, in the small form (2 bytes).
                compressed(&matrix("y", CLASS_DOUBLE, &[2, 1], MI_UINT8, &[10, 3])),
            ],
        );
        let file = MatFile::open(&path).unwrap();
        assert!(file.description.starts_with("MATLAB 5.0 MAT-file, Platform: GLNXA64"), "{}", file.description);
        assert!(!file.description.ends_with(' '));
        let names: Vec<&str> = file.arrays.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["img", "scores", "y"]);
        let img = file.get("img").unwrap();
        assert_eq!((img.class, img.dims.as_slice(), img.complex), (MatClass::UInt8, &[2usize, 3, 2][..], false));
        assert_eq!(img.values, Some(MatValues::UInt8(bytes)));
        assert_eq!(file.get("scores").unwrap().values, Some(MatValues::Double(vec![0.5, -2.0, 1e10])));
        let y = file.get("y").unwrap();
        assert_eq!((y.class, y.dims.as_slice()), (MatClass::Double, &[2usize, 1][..]));
        assert_eq!(y.values, Some(MatValues::Double(vec![10.0, 3.0])));
    }

    #[test]
    fn converts_storage_to_class() {
        let dir = tempfile::tempdir().unwrap();
        let int16s: Vec<u8> = [-3i16, 300].iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = write_mat(
            dir.path(),
            "c.mat",
            &[
                matrix("a", CLASS_DOUBLE, &[1, 2], MI_INT16, &int16s),
                // A uint8 class array stored as doubles.
                matrix("b", CLASS_UINT8, &[1, 2], MI_DOUBLE, &doubles(&[0.0, 255.0])),
                // An int32 array stored as int32, the identity path.
                matrix("c", 12, &[1, 1], MI_INT32, &(-7i32).to_le_bytes()),
            ],
        );
        let file = MatFile::open(&path).unwrap();
        assert_eq!(file.get("a").unwrap().values, Some(MatValues::Double(vec![-3.0, 300.0])));
        assert_eq!(file.get("b").unwrap().values, Some(MatValues::UInt8(vec![0, 255])));
        assert_eq!(file.get("c").unwrap().values, Some(MatValues::Int32(vec![-7])));
    }

    #[test]
    fn values_convert_to_bytes_only_when_exact() {
        assert_eq!(MatValues::Double(vec![0.0, 7.0, 255.0]).into_u8(), Some(vec![0, 7, 255]));
        assert_eq!(MatValues::Double(vec![1.5]).into_u8(), None);
        assert_eq!(MatValues::Int16(vec![256]).into_u8(), None);
        assert_eq!(MatValues::Int8(vec![-1]).into_u8(), None);
        assert_eq!(MatValues::Single(vec![2.0]).get_f64(0), Some(2.0));
        assert_eq!(MatValues::Single(vec![2.0]).get_f64(1), None);
    }

    #[test]
    fn open_only_skips_other_values_and_non_numeric_arrays() {
        let dir = tempfile::tempdir().unwrap();
        // A struct array: flags, dims, name, then field-name length and names, as MATLAB writes.
        let mut content = element(MI_UINT32, &[CLASS_STRUCT, 0, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &[1, 0, 0, 0, 1, 0, 0, 0]));
        content.extend(long_element(MI_INT8, b"a_struct_with_a_long_name"));
        content.extend(element(MI_INT32, &32i32.to_le_bytes()));
        let mut field_name = b"f".to_vec();
        field_name.resize(32, 0);
        content.extend(long_element(MI_INT8, &field_name));
        // Its one field of its one element: an empty matrix, as MATLAB writes `[]`.
        content.extend(long_element(MI_MATRIX, &[]));
        let path = write_mat(
            dir.path(),
            "s.mat",
            &[
                long_element(MI_MATRIX, &content),
                compressed(&matrix("big", CLASS_UINT8, &[4, 4], MI_UINT8, &[1; 16])),
                matrix("keep", CLASS_DOUBLE, &[1, 1], MI_DOUBLE, &doubles(&[4.0])),
            ],
        );
        let mut file = MatFile::open_only(&path, &["keep"]).unwrap();
        assert_eq!(file.arrays.len(), 3);
        let s = file.get("a_struct_with_a_long_name").unwrap();
        assert_eq!((s.class, s.values.is_none()), (MatClass::Struct, true));
        let big = file.get("big").unwrap();
        assert_eq!((big.dims.as_slice(), big.values.is_none()), (&[4usize, 4][..], true));
        let keep = file.remove("keep").unwrap();
        assert_eq!(keep.values, Some(MatValues::Double(vec![4.0])));
        assert!(file.get("keep").is_none());
        // Everything read: the struct has fields but no values.
        let all = MatFile::open(&path).unwrap();
        assert_eq!(all.get("big").unwrap().values, Some(MatValues::UInt8(vec![1; 16])));
        let s = all.get("a_struct_with_a_long_name").unwrap();
        assert!(s.values.is_none());
        let empty = s.fields.as_ref().unwrap().field(0, "f").unwrap();
        assert_eq!((empty.dims.as_slice(), &empty.values), (&[0usize, 0][..], &Some(MatValues::Double(vec![]))));
    }

    /// A char array named `name` holding `text` as one row, stored as `storage`.
    pub(crate) fn char_matrix(name: &str, text: &str, storage: u32) -> Vec<u8> {
        let data: Vec<u8> = match storage {
            MI_UTF8 => text.as_bytes().to_vec(),
            MI_UINT16 | MI_UTF16 => text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            _ => panic!("storage {storage}"),
        };
        let dims = [1, text.chars().count() as i32];
        let mut content = element(MI_UINT32, &[CLASS_CHAR, 0, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>()));
        content.extend(element(MI_INT8, name.as_bytes()));
        content.extend(element(storage, &data));
        long_element(MI_MATRIX, &content)
    }

    /// A struct array `name` of dims [n, 1] whose element i has the fields `fields[i]`
    /// (each an miMATRIX element with an empty name), as MATLAB writes a struct array.
    pub(crate) fn struct_matrix(name: &str, field_names: &[&str], elements: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut content = element(MI_UINT32, &[CLASS_STRUCT, 0, 0, 0, 0, 0, 0, 0]);
        let dims = [elements.len() as i32, 1];
        content.extend(element(MI_INT32, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>()));
        content.extend(element(MI_INT8, name.as_bytes()));
        content.extend(element(MI_INT32, &32i32.to_le_bytes()));
        let names: Vec<u8> = field_names
            .iter()
            .flat_map(|n| {
                let mut padded = n.as_bytes().to_vec();
                padded.resize(32, 0);
                padded
            })
            .collect();
        content.extend(long_element(MI_INT8, &names));
        for fields in elements {
            assert_eq!(fields.len(), field_names.len());
            for field in fields {
                content.extend_from_slice(field);
            }
        }
        long_element(MI_MATRIX, &content)
    }

    #[test]
    fn reads_struct_arrays_of_char_and_numeric_fields() {
        let dir = tempfile::tempdir().unwrap();
        let element_of = |id: f64, wnid: &str, storage: u32| {
            vec![
                matrix("", CLASS_DOUBLE, &[1, 1], MI_UINT8, &[id as u8]),
                char_matrix("", wnid, storage),
                // A nested struct field, to check nesting.
                struct_matrix("", &["inner"], &[vec![matrix("", CLASS_DOUBLE, &[1, 1], MI_DOUBLE, &doubles(&[id * 10.0]))]]),
            ]
        };
        let synsets = struct_matrix(
            "synsets",
            &["ILSVRC2012_ID", "WNID", "nested"],
            &[element_of(1.0, "n02119789", MI_UINT16), element_of(2.0, "n02100735", MI_UTF8)],
        );
        let path = write_mat(dir.path(), "meta.mat", &[compressed(&synsets), char_matrix("note", "é ü", MI_UTF16)]);
        let file = MatFile::open(&path).unwrap();
        let synsets = file.get("synsets").unwrap();
        assert_eq!((synsets.class, synsets.dims.as_slice()), (MatClass::Struct, &[2usize, 1][..]));
        let fields = synsets.fields.as_ref().unwrap();
        assert_eq!(fields.names, ["ILSVRC2012_ID", "WNID", "nested"]);
        assert_eq!(fields.elements.len(), 2);
        assert_eq!(fields.field(1, "ILSVRC2012_ID").unwrap().values, Some(MatValues::Double(vec![2.0])));
        assert_eq!(fields.field(0, "WNID").unwrap().text.as_deref(), Some("n02119789"));
        assert_eq!(fields.field(1, "WNID").unwrap().text.as_deref(), Some("n02100735"));
        assert_eq!(fields.field(1, "WNID").unwrap().name, "WNID");
        let nested = fields.field(1, "nested").unwrap().fields.as_ref().unwrap();
        assert_eq!(nested.field(0, "inner").unwrap().values, Some(MatValues::Double(vec![20.0])));
        assert!(fields.field(2, "WNID").is_none() && fields.field(0, "gloss").is_none());
        assert_eq!(file.get("note").unwrap().text.as_deref(), Some("é ü"));
    }

    #[test]
    fn two_row_char_array_reads_row_by_row() {
        let dir = tempfile::tempdir().unwrap();
        // ["ab"; "cd"] is stored column-major: a c b d.
        let mut content = element(MI_UINT32, &[CLASS_CHAR, 0, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &[2, 0, 0, 0, 2, 0, 0, 0]));
        content.extend(element(MI_INT8, b"m"));
        content.extend(element(MI_UINT16, &"acbd".encode_utf16().flat_map(|u| u.to_le_bytes()).collect::<Vec<u8>>()));
        let path = write_mat(dir.path(), "m.mat", &[long_element(MI_MATRIX, &content)]);
        assert_eq!(MatFile::open(&path).unwrap().get("m").unwrap().text.as_deref(), Some("ab\ncd"));
    }

    #[test]
    fn broken_structs_are_reported() {
        // A struct of two elements that holds the fields of only one.
        let short = struct_matrix("s", &["a"], &[vec![matrix("", CLASS_DOUBLE, &[1, 1], MI_DOUBLE, &doubles(&[1.0]))]]);
        let mut bytes = short.clone();
        // Patch the dims [1, 1] into [2, 1]: the second element's field is missing.
        let dims_at = 8 + 16 + 8;
        bytes[dims_at..dims_at + 4].copy_from_slice(&2i32.to_le_bytes());
        let message = open_error(&[bytes]);
        assert!(message.contains("broken.mat") && message.contains("variable 's'(2).a"), "{message}");
        // A field that is not a matrix.
        let mut content = element(MI_UINT32, &[CLASS_STRUCT, 0, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &[1, 0, 0, 0, 1, 0, 0, 0]));
        content.extend(element(MI_INT8, b"t"));
        content.extend(element(MI_INT32, &8i32.to_le_bytes()));
        content.extend(element(MI_INT8, b"x\0\0\0\0\0\0\0"));
        content.extend(element(MI_DOUBLE, &doubles(&[1.0])));
        let message = open_error(&[long_element(MI_MATRIX, &content)]);
        assert!(message.contains("variable 't'(1).x: element type 9, expected miMATRIX"), "{message}");
        // Characters that do not match the dimensions.
        let mut chars = char_matrix("c", "abc", MI_UINT16);
        let dims_at = 8 + 16 + 8;
        chars[dims_at + 4..dims_at + 8].copy_from_slice(&5i32.to_le_bytes());
        let message = open_error(&[chars]);
        assert!(message.contains("variable 'c': dimensions [1, 5] announce 5 characters, the data holds 3"), "{message}");
    }

    #[test]
    fn complex_arrays_are_listed_without_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut content = element(MI_UINT32, &[CLASS_DOUBLE, 0x08, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &[1, 0, 0, 0, 1, 0, 0, 0]));
        content.extend(element(MI_INT8, b"z"));
        content.extend(element(MI_DOUBLE, &doubles(&[1.0])));
        content.extend(element(MI_DOUBLE, &doubles(&[2.0])));
        let path = write_mat(dir.path(), "z.mat", &[long_element(MI_MATRIX, &content)]);
        let file = MatFile::open(&path).unwrap();
        let z = file.get("z").unwrap();
        assert_eq!((z.complex, z.values.is_none()), (true, true));
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let message = MatFile::open(&dir.path().join("none.mat")).unwrap_err().to_string();
        assert!(message.contains("none.mat"), "{message}");
    }

    #[test]
    fn bad_headers_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, Vec<u8>, &str); 6] = [
            ("short.mat", header()[..60].to_vec(), "truncated header: 60 bytes"),
            ("v73.mat", [b"MATLAB 7.3 MAT-file, Platform: GLNXA64".to_vec(), vec![b' '; 90]].concat(), "MATLAB 7.3"),
            ("v4.mat", vec![0; 200], "not a Level 5 MAT-file"),
            ("big.mat", [header()[..126].to_vec(), b"MI".to_vec()].concat(), "big-endian"),
            ("endian.mat", [header()[..126].to_vec(), b"XX".to_vec()].concat(), "bad endian indicator"),
            ("version.mat", [header()[..124].to_vec(), vec![0x00, 0x02], b"IM".to_vec()].concat(), "version 0x0200"),
        ];
        for (name, bytes, fault) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let message = MatFile::open(&path).unwrap_err().to_string();
            assert!(message.contains(name) && message.contains(fault), "{message}");
        }
    }

    #[test]
    fn truncated_plain_element_is_reported() {
        let mut element = matrix("X", CLASS_UINT8, &[4, 4], MI_UINT8, &[7; 16]);
        element.truncate(element.len() - 12);
        let message = open_error(&[element]);
        assert!(message.contains("broken.mat") && message.contains("truncated variable 'X': real part"), "{message}");
    }

    #[test]
    fn truncated_compressed_element_is_reported() {
        let mut element = compressed(&matrix("X", CLASS_UINT8, &[40, 40], MI_UINT8, &[7; 1600]));
        element.truncate(element.len() - 5);
        let message = open_error(&[element]);
        assert!(message.contains("broken.mat") && message.contains("truncated"), "{message}");
    }

    #[test]
    fn corrupt_compressed_element_is_reported() {
        let mut element = compressed(&matrix("X", CLASS_UINT8, &[4, 4], MI_UINT8, &[7; 16]));
        for byte in &mut element[10..] {
            *byte ^= 0x5a;
        }
        let message = open_error(&[element]);
        assert!(message.contains("broken.mat") && message.contains("corrupt compressed data"), "{message}");
    }

    #[test]
    fn truncated_tag_is_reported() {
        let message = open_error(&[matrix("a", CLASS_UINT8, &[1, 1], MI_UINT8, &[1]), vec![14, 0, 0]]);
        assert!(message.contains("broken.mat") && message.contains("truncated element tag at byte"), "{message}");
    }

    #[test]
    fn count_mismatch_is_reported() {
        let message = open_error(&[matrix("y", CLASS_DOUBLE, &[3, 1], MI_DOUBLE, &doubles(&[1.0, 2.0]))]);
        assert!(message.contains("broken.mat"), "{message}");
        let fault = "variable 'y': dimensions [3, 1] announce 3 values, the real part holds 2";
        assert!(message.contains(fault), "{message}");
    }

    #[test]
    fn value_outside_the_class_is_reported() {
        let message = open_error(&[matrix("b", CLASS_UINT8, &[1, 2], MI_DOUBLE, &doubles(&[1.0, 256.0]))]);
        assert!(message.contains("variable 'b': value 1 (256) does not fit the array's class UInt8"), "{message}");
    }

    #[test]
    fn unexpected_top_level_element_is_reported() {
        let message = open_error(&[long_element(MI_DOUBLE, &doubles(&[1.0]))]);
        assert!(message.contains("broken.mat") && message.contains("element at byte 128: element type 9"), "{message}");
    }

    #[test]
    fn subelement_overrunning_its_matrix_is_reported() {
        let mut content = element(MI_UINT32, &[CLASS_UINT8, 0, 0, 0, 0, 0, 0, 0]);
        content.extend(element(MI_INT32, &[1, 0, 0, 0, 1, 0, 0, 0]));
        content.extend(element(MI_INT8, b"q"));
        // A real part that claims 1000 bytes but holds 8.
        content.extend(MI_UINT8.to_le_bytes());
        content.extend(1000u32.to_le_bytes());
        content.extend([0; 8]);
        let message = open_error(&[long_element(MI_MATRIX, &content)]);
        assert!(message.contains("variable 'q': real part: 1000 bytes announced"), "{message}");
    }
}
