//! What several targets share to build their inputs: splitting the fuzz
//! input into parts, and writing a tar member.

/// `data` split on `sep` into at most `max` parts (the last keeps the rest,
/// separators included).
pub fn split<'a>(mut data: &'a [u8], sep: &[u8], max: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while out.len() + 1 < max {
        match data.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                out.push(&data[..i]);
                data = &data[i + sep.len()..];
            }
            None => break,
        }
    }
    out.push(data);
    out
}

/// Append a regular file `name` holding `data`.
#[allow(dead_code)] // not every target that shares `split` writes a tar
pub fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, data).unwrap();
}
