//! A bounds-checked big-endian reader: every length is checked against the bytes left
//! before anything is allocated, so a huge length field is an error, not an allocation.

use crate::{Error, Format};

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    format: Format,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], format: Format) -> Self {
        Reader {
            data,
            pos: 0,
            format,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn consumed(&self) -> &'a [u8] {
        &self.data[..self.pos]
    }

    pub(crate) fn bytes(
        &mut self,
        len: usize,
        what: &dyn Fn() -> String,
    ) -> Result<&'a [u8], Error> {
        if len > self.remaining() {
            return Err(Error::Truncated {
                format: self.format,
                context: format!(
                    "{} needs {len} bytes at offset {}, but only {} remain",
                    what(),
                    self.pos,
                    self.remaining()
                ),
            });
        }
        let out = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, Error> {
        Ok(self.bytes(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16, Error> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, Error> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, Error> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A `u32` length followed by that many bytes.
    pub(crate) fn sized(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8], Error> {
        let len = self.u32(what)? as usize;
        self.bytes(len, what)
    }

    /// Java's `DataOutput.writeUTF`: a `u16` length and modified UTF-8.
    pub(crate) fn java_utf(&mut self, what: &dyn Fn() -> String) -> Result<String, Error> {
        let len = self.u16(what)? as usize;
        let bytes = self.bytes(len, what)?;
        decode_modified_utf8(bytes).ok_or_else(|| Error::Malformed {
            format: self.format,
            detail: format!("{} is not valid (modified) UTF-8", what()),
        })
    }
}

/// Decodes Java's modified UTF-8: NUL as `C0 80`, supplementary characters as surrogate pairs.
pub(crate) fn decode_modified_utf8(bytes: &[u8]) -> Option<String> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.to_string());
    }
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (unit, len) = match b {
            0x01..=0x7F => (u16::from(b), 1),
            0xC0..=0xDF => {
                let b1 = *bytes.get(i + 1)?;
                (((u16::from(b) & 0x1F) << 6) | (u16::from(b1) & 0x3F), 2)
            }
            0xE0..=0xEF => {
                let b1 = *bytes.get(i + 1)?;
                let b2 = *bytes.get(i + 2)?;
                let u = ((u16::from(b) & 0x0F) << 12)
                    | ((u16::from(b1) & 0x3F) << 6)
                    | (u16::from(b2) & 0x3F);
                (u, 3)
            }
            _ => return None,
        };
        units.push(unit);
        i += len;
    }
    String::from_utf16(&units).ok()
}

/// Encodes a string as Java's modified UTF-8.
pub(crate) fn encode_modified_utf8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007F => out.push(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                out.push(0xC0 | ((unit >> 6) as u8 & 0x1F));
                out.push(0x80 | (unit as u8 & 0x3F));
            }
            _ => {
                out.push(0xE0 | ((unit >> 12) as u8 & 0x0F));
                out.push(0x80 | ((unit >> 6) as u8 & 0x3F));
                out.push(0x80 | (unit as u8 & 0x3F));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8_round_trips_nul_and_supplementary_characters() {
        for s in ["plain", "naïve", "nul\0inside", "emoji 🔑"] {
            let encoded = encode_modified_utf8(s);
            assert!(
                !encoded.contains(&0),
                "modified UTF-8 never contains a zero byte"
            );
            assert_eq!(decode_modified_utf8(&encoded).as_deref(), Some(s));
        }
    }

    #[test]
    fn huge_length_field_is_an_error_not_an_allocation() {
        let data = [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3];
        let mut r = Reader::new(&data, Format::Jks);
        let err = r.sized(&|| "certificate".to_string()).unwrap_err();
        assert!(err.to_string().contains("needs 4294967295 bytes"), "{err}");
    }
}
