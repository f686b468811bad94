//! Reading a local file in one piece: only a regular file, and at most a cap.
//!
//! For the files imgaudit reads whole from directories that others may
//! write: the config, the fact cache's records, the scan's plan and result
//! caches, and the shards' outputs a merge reads (a CI cache restored from
//! another job, a volume many pods share). Why each check:
//!
//! - the type is checked before opening: opening a FIFO blocks until a
//!   writer comes, and a device never ends (`/dev/zero`);
//! - the read stops one byte past the cap, whatever size the file claims
//!   (`/proc` files and a file that grows report sizes that cannot be
//!   trusted), so memory is bounded by the cap, not by the file.
//!
//! A symlink is followed (the type checked is its target's): these are the
//! user's own directories, and what a link leads to is read only as the
//! record it claims to be — it must still pass the reader's own checks.

use std::fs::FileType;
use std::io::{self, Read as _};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Not a regular file: a directory, FIFO, device or socket.
    #[error("{0}, not a regular file")]
    NotAFile(&'static str),
    /// Larger than the cap.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// The whole of the regular file `path`, if it holds at most `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(kind(&meta.file_type())));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, for messages.
pub fn kind(t: &FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_under_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_capped(&file, 5).unwrap(), b"12345");
        assert!(matches!(read_capped(&file, 4), Err(ReadError::TooLarge(4))));
        // A FIFO is refused before it is opened (opening it would block).
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert!(matches!(
            read_capped(&fifo, 5),
            Err(ReadError::NotAFile("a FIFO"))
        ));
        // A device that never ends, behind a symlink.
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            read_capped(&link, 5),
            Err(ReadError::NotAFile("a character device"))
        ));
        assert!(matches!(
            read_capped(dir.path(), 5),
            Err(ReadError::NotAFile("a directory"))
        ));
        assert!(matches!(
            read_capped(&dir.path().join("absent"), 5),
            Err(ReadError::Io(_))
        ));
    }
}
