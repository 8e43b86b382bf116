//! Just enough of Java object serialization to step over a JCEKS secret-key entry.
//!
//! JCEKS writes a secret key as a serialized `SealedObject` with no length prefix, so
//! the only way to find the next entry is to walk the object's grammar. keyway never
//! decrypts these; it records the class name so `list` can show the entry's type.
//! Recursion depth and handle counts are bounded; every length is checked by `Reader`.

use std::rc::Rc;

use crate::reader::Reader;

const STREAM_MAGIC: u16 = 0xACED;
const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_ARRAY: u8 = 0x75;
const TC_CLASS: u8 = 0x76;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_RESET: u8 = 0x79;
const TC_BLOCKDATALONG: u8 = 0x7A;
const TC_LONGSTRING: u8 = 0x7C;
const TC_PROXYCLASSDESC: u8 = 0x7D;
const TC_ENUM: u8 = 0x7E;
const SC_WRITE_METHOD: u8 = 0x01;
const SC_SERIALIZABLE: u8 = 0x02;
const SC_EXTERNALIZABLE: u8 = 0x04;
const SC_BLOCK_DATA: u8 = 0x08;
const MAX_DEPTH: u32 = 64;
const MAX_HANDLES: usize = 100_000;

struct ClassDesc {
    name: String,
    flags: u8,
    /// Type code of each field, in stream order.
    fields: Vec<u8>,
    parent: Option<Rc<ClassDesc>>,
}

enum Handle {
    Class(Rc<ClassDesc>),
    Other,
}

struct Walker<'r, 'a> {
    r: &'r mut Reader<'a>,
    handles: Vec<Handle>,
    depth: u32,
}

/// Steps over one serialized object stream; returns the top object's class name.
pub(crate) fn skip_object(r: &mut Reader<'_>) -> Result<String, String> {
    let mut w = Walker {
        r,
        handles: Vec::new(),
        depth: 0,
    };
    let magic = w.u16()?;
    let version = w.u16()?;
    if magic != STREAM_MAGIC || version != 5 {
        return Err(format!(
            "not a Java serialization stream (header {magic:04X} {version})"
        ));
    }
    let tag = w.u8()?;
    if tag != TC_OBJECT {
        return Err(format!("expected an object, found tag {tag:#04x}"));
    }
    let desc = w.class_desc()?.ok_or("object without a class")?;
    w.push(Handle::Other)?;
    w.class_data(&desc)?;
    Ok(desc.name.clone())
}

impl Walker<'_, '_> {
    fn u8(&mut self) -> Result<u8, String> {
        self.r
            .u8(&|| "serialized object".into())
            .map_err(|e| e.to_string())
    }
    fn u16(&mut self) -> Result<u16, String> {
        self.r
            .u16(&|| "serialized object".into())
            .map_err(|e| e.to_string())
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.r
            .u32(&|| "serialized object".into())
            .map_err(|e| e.to_string())
    }
    fn skip(&mut self, len: u64) -> Result<(), String> {
        let len = usize::try_from(len).map_err(|_| "length too large".to_string())?;
        self.r
            .bytes(len, &|| "serialized object".into())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn utf(&mut self) -> Result<String, String> {
        self.r
            .java_utf(&|| "serialized name".into())
            .map_err(|e| e.to_string())
    }
    fn push(&mut self, h: Handle) -> Result<usize, String> {
        if self.handles.len() >= MAX_HANDLES {
            return Err("too many objects".into());
        }
        self.handles.push(h);
        Ok(self.handles.len() - 1)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("objects nested deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    fn content(&mut self) -> Result<(), String> {
        let tag = self.u8()?;
        self.content_tagged(tag)
    }

    fn content_tagged(&mut self, tag: u8) -> Result<(), String> {
        self.enter()?;
        match tag {
            TC_NULL => {}
            TC_REFERENCE => {
                self.reference()?;
            }
            TC_OBJECT => {
                let desc = self.class_desc()?.ok_or("object without a class")?;
                self.push(Handle::Other)?;
                self.class_data(&desc)?;
            }
            TC_STRING => {
                let len = self.u16()?;
                self.skip(u64::from(len))?;
                self.push(Handle::Other)?;
            }
            TC_LONGSTRING => {
                let len = self
                    .r
                    .u64(&|| "serialized object".into())
                    .map_err(|e| e.to_string())?;
                self.skip(len)?;
                self.push(Handle::Other)?;
            }
            TC_ARRAY => self.array()?,
            TC_CLASS => {
                self.class_desc()?;
                self.push(Handle::Other)?;
            }
            TC_CLASSDESC | TC_PROXYCLASSDESC => {
                self.class_desc_tagged(tag)?;
            }
            TC_ENUM => {
                self.class_desc()?;
                self.push(Handle::Other)?;
                self.content()?;
            }
            TC_BLOCKDATA => {
                let len = self.u8()?;
                self.skip(u64::from(len))?;
            }
            TC_BLOCKDATALONG => {
                let len = self.u32()?;
                self.skip(u64::from(len))?;
            }
            TC_RESET => self.handles.clear(),
            other => return Err(format!("unsupported serialization tag {other:#04x}")),
        }
        self.depth -= 1;
        Ok(())
    }

    fn reference(&mut self) -> Result<&Handle, String> {
        let raw = self.u32()?;
        let index = raw.checked_sub(0x7E_0000).ok_or("bad object reference")? as usize;
        self.handles
            .get(index)
            .ok_or_else(|| "reference to an unknown object".to_string())
    }

    fn class_desc(&mut self) -> Result<Option<Rc<ClassDesc>>, String> {
        let tag = self.u8()?;
        self.class_desc_tagged(tag)
    }

    fn class_desc_tagged(&mut self, tag: u8) -> Result<Option<Rc<ClassDesc>>, String> {
        self.enter()?;
        let desc = match tag {
            TC_NULL => None,
            TC_REFERENCE => match self.reference()? {
                Handle::Class(desc) => Some(desc.clone()),
                Handle::Other => return Err("class reference points at a non-class".into()),
            },
            TC_CLASSDESC => {
                let name = self.utf()?;
                self.skip(8)?; // serialVersionUID
                let handle = self.push(Handle::Other)?;
                let flags = self.u8()?;
                let count = self.u16()?;
                let mut fields = Vec::new();
                for _ in 0..count {
                    let code = self.u8()?;
                    self.utf()?;
                    if code == b'L' || code == b'[' {
                        self.content()?; // the field's class name, a string or reference
                    }
                    fields.push(code);
                }
                self.annotation()?;
                let parent = self.class_desc()?;
                let desc = Rc::new(ClassDesc {
                    name,
                    flags,
                    fields,
                    parent,
                });
                self.handles[handle] = Handle::Class(desc.clone());
                Some(desc)
            }
            TC_PROXYCLASSDESC => {
                let handle = self.push(Handle::Other)?;
                let count = self.u32()?;
                for _ in 0..count {
                    self.utf()?;
                }
                self.annotation()?;
                let parent = self.class_desc()?;
                let desc = Rc::new(ClassDesc {
                    name: "proxy".into(),
                    flags: SC_SERIALIZABLE,
                    fields: vec![],
                    parent,
                });
                self.handles[handle] = Handle::Class(desc.clone());
                Some(desc)
            }
            other => {
                return Err(format!(
                    "expected a class description, found tag {other:#04x}"
                ));
            }
        };
        self.depth -= 1;
        Ok(desc)
    }

    /// Class or object annotations: contents up to `TC_ENDBLOCKDATA`.
    fn annotation(&mut self) -> Result<(), String> {
        loop {
            let tag = self.u8()?;
            if tag == TC_ENDBLOCKDATA {
                return Ok(());
            }
            self.content_tagged(tag)?;
        }
    }

    fn class_data(&mut self, desc: &Rc<ClassDesc>) -> Result<(), String> {
        let mut lineage = Vec::new();
        let mut next = Some(desc.clone());
        while let Some(d) = next {
            if lineage.len() > MAX_DEPTH as usize {
                return Err("class hierarchy too deep".into());
            }
            next = d.parent.clone();
            lineage.push(d);
        }
        for class in lineage.iter().rev() {
            if class.flags & SC_EXTERNALIZABLE != 0 {
                if class.flags & SC_BLOCK_DATA == 0 {
                    return Err(format!("{}: old-style externalizable data", class.name));
                }
                self.annotation()?;
                continue;
            }
            if class.flags & SC_SERIALIZABLE == 0 {
                continue;
            }
            for code in &class.fields {
                match code {
                    b'B' | b'Z' => self.skip(1)?,
                    b'C' | b'S' => self.skip(2)?,
                    b'I' | b'F' => self.skip(4)?,
                    b'J' | b'D' => self.skip(8)?,
                    b'L' | b'[' => self.content()?,
                    other => return Err(format!("unknown field type {other:#04x}")),
                }
            }
            if class.flags & SC_WRITE_METHOD != 0 {
                self.annotation()?;
            }
        }
        Ok(())
    }

    fn array(&mut self) -> Result<(), String> {
        let desc = self.class_desc()?.ok_or("array without a class")?;
        self.push(Handle::Other)?;
        let len = u64::from(self.u32()?);
        let element = desc.name.as_bytes().get(1).copied().unwrap_or(b'L');
        let width = match element {
            b'B' | b'Z' => 1,
            b'C' | b'S' => 2,
            b'I' | b'F' => 4,
            b'J' | b'D' => 8,
            _ => 0,
        };
        if width > 0 {
            return self.skip(len * width);
        }
        for _ in 0..len {
            self.content()?;
        }
        Ok(())
    }
}
