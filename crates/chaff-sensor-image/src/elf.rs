//! Just enough ELF parsing to tell a static executable from one that needs a dynamic
//! loader. Used by the build script (`#[path]`) and tested by the library.

/// A 64-bit little-endian ELF executable with no program interpreter (`PT_INTERP`), i.e.
/// one the kernel starts without a dynamic loader.
pub fn check_static(elf: &[u8]) -> Result<(), String> {
    const PT_INTERP: u32 = 3;
    const ET_EXEC: u16 = 2;
    const ET_DYN: u16 = 3;
    let u16_at = |at: usize| elf.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| elf.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |at: usize| elf.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));

    if elf.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if elf.get(4..6) != Some(&[2, 1]) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let e_type = u16_at(16).ok_or("truncated ELF header")?;
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(format!("ELF type {e_type} is not an executable"));
    }
    let phoff = u64_at(0x20).ok_or("truncated ELF header")? as usize;
    let phentsize = u16_at(0x36).ok_or("truncated ELF header")? as usize;
    let phnum = u16_at(0x38).ok_or("truncated ELF header")? as usize;
    if phnum == 0 || phentsize < 4 {
        return Err("no program headers".into());
    }
    for i in 0..phnum {
        let at = i.checked_mul(phentsize).and_then(|off| off.checked_add(phoff));
        let p_type = at.and_then(u32_at).ok_or("truncated program headers")?;
        if p_type == PT_INTERP {
            return Err("it has a PT_INTERP program header (it needs a dynamic loader)".into());
        }
    }
    Ok(())
}
