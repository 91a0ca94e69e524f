//! Reading the repository's own input files (release files, sealed
//! secrets, policies) so that hostile content cannot reach further than
//! the file: a link is refused before it is followed (a pull request that
//! turns `releases/staging.yaml` into a link to a token file must not make
//! CI print the token in a parse error), only regular files are read (a
//! FIFO would block forever), the size is bounded, and bytes that are not
//! UTF-8 are named by offset, line and column.

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};

/// The most bytes a data file (release file, sealed secret) may hold: a
/// thousand times the largest real one, so a real file never meets it.
pub const MAX_DATA_BYTES: u64 = 1 << 20;

/// Why an input file could not be read. Each names no content of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// It does not exist (the caller says how to create it).
    Missing,
    /// It, or a directory on the way to it below the root, is a link.
    Link {
        /// The path that is a link, relative to the root.
        at: String,
    },
    /// It is a directory, a device, a FIFO, a socket.
    NotAFile,
    /// `..` in a file name: it would leave its directory.
    Outside,
    /// More bytes than allowed.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The first byte that is not UTF-8, 0-based, and its 1-based line and column.
    NotUtf8 {
        /// 0-based byte offset.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Any other I/O error.
    Io(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Missing => f.write_str("does not exist"),
            SourceError::Link { at } => write!(
                f,
                "{at} is a symbolic link; inputs are read only from regular files in the repository (a link \
                 could make a render read, and print in its errors, a file the repository does not own): \
                 replace the link with the file itself"
            ),
            SourceError::NotAFile => f.write_str("is not a regular file; put the file itself there"),
            SourceError::Outside => {
                f.write_str("names a file outside its directory (`..`); name one inside it")
            }
            SourceError::TooLarge { limit } => write!(
                f,
                "is larger than {limit} bytes, the limit for an input file; it is not a file this tool wrote \
                 or reads: restore it from version control"
            ),
            SourceError::NotUtf8 { offset, line, column } => write!(
                f,
                "byte {offset} (line {line}, column {column}) is not valid UTF-8; save the file as UTF-8 text"
            ),
            SourceError::Io(e) => write!(f, "cannot be read ({e})"),
        }
    }
}

impl std::error::Error for SourceError {}

/// Reads `dir/name` below `root` as UTF-8 text of at most `limit` bytes.
/// `dir` is the project's configured directory (it may climb with `..`,
/// as a project whose policies sit above it does); `name` is a path below
/// it. No directory of either below `root`, and not the file, may be a
/// link; the file must be a regular file.
pub fn read_text(root: &Path, dir: &str, name: &str, limit: u64) -> Result<String, SourceError> {
    let mut path = root.to_path_buf();
    let walk = |path: &mut PathBuf, part: &str, climb: bool| -> Result<(), SourceError> {
        for component in Path::new(part).components() {
            match component {
                Component::Normal(c) => path.push(c),
                Component::CurDir => continue,
                Component::ParentDir if climb => {
                    path.push("..");
                    continue;
                }
                _ => return Err(SourceError::Outside),
            }
            match fs::symlink_metadata(&*path) {
                Ok(m) if m.is_symlink() => {
                    let at = path.strip_prefix(root).unwrap_or(path).display().to_string();
                    return Err(SourceError::Link { at });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SourceError::Missing),
                Err(e) => return Err(SourceError::Io(e.to_string())),
            }
        }
        Ok(())
    };
    walk(&mut path, dir, true)?;
    walk(&mut path, name, false)?;
    if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return Err(SourceError::NotAFile);
    }
    let file = fs::File::open(&path).map_err(|e| SourceError::Io(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| SourceError::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(SourceError::TooLarge { limit });
    }
    text(bytes)
}

/// Reads at most `limit` bytes from `reader` (a file the user named, such
/// as a certificate, or standard input); more is an error saying so.
pub fn read_bounded(reader: impl io::Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!(
            "more than {limit} bytes; this is not the input expected here"
        )));
    }
    Ok(bytes)
}

/// `bytes` as UTF-8, or the position of the first byte that is not.
pub fn text(bytes: Vec<u8>) -> Result<String, SourceError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        // Characters, not bytes, before it on its line.
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        SourceError::NotUtf8 { offset, line, column }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("gitops-source-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("releases")).unwrap();
        root
    }

    #[test]
    fn links_anywhere_below_the_root_are_refused_before_reading() {
        let root = scratch("links");
        let secret = root.join("token");
        fs::write(&secret, "ghp_secret\n").unwrap();
        std::os::unix::fs::symlink(&secret, root.join("releases/staging.yaml")).unwrap();
        let err = read_text(&root, "releases", "staging.yaml", MAX_DATA_BYTES).unwrap_err();
        assert_eq!(err, SourceError::Link { at: "releases/staging.yaml".into() });
        assert!(!err.to_string().contains("ghp_secret"));
        // A linked directory: the directory is named.
        fs::create_dir_all(root.join("elsewhere")).unwrap();
        fs::write(root.join("elsewhere/dev.yaml"), "images: {}\n").unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("linked")).unwrap();
        assert_eq!(
            read_text(&root, "linked", "dev.yaml", MAX_DATA_BYTES),
            Err(SourceError::Link { at: "linked".into() })
        );
        // A configured directory above the root is fine; `..` in a name is not.
        let sub = root.join("sub");
        fs::create_dir_all(&sub).unwrap();
        assert_eq!(read_text(&sub, "../elsewhere", "dev.yaml", MAX_DATA_BYTES).unwrap(), "images: {}\n");
        assert_eq!(read_text(&root, "releases", "../token", MAX_DATA_BYTES), Err(SourceError::Outside));
        assert_eq!(read_text(&root, "releases", "none.yaml", MAX_DATA_BYTES), Err(SourceError::Missing));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn only_small_regular_utf8_files_are_read() {
        let root = scratch("kinds");
        fs::create_dir_all(root.join("releases/dir.yaml")).unwrap();
        assert_eq!(read_text(&root, "releases", "dir.yaml", 10), Err(SourceError::NotAFile));
        let made =
            std::process::Command::new("mkfifo").arg(root.join("releases/fifo.yaml")).status().unwrap();
        assert!(made.success());
        assert_eq!(read_text(&root, "releases", "fifo.yaml", 10), Err(SourceError::NotAFile), "not opened");
        fs::write(root.join("releases/big.yaml"), "x".repeat(11)).unwrap();
        assert_eq!(read_text(&root, "releases", "big.yaml", 10), Err(SourceError::TooLarge { limit: 10 }));
        fs::write(root.join("releases/ok.yaml"), "x".repeat(10)).unwrap();
        assert_eq!(read_text(&root, "releases", "ok.yaml", 10).unwrap(), "x".repeat(10));
        fs::write(root.join("releases/latin1.yaml"), b"images:\n  h\xe9llo:\n").unwrap();
        let err = read_text(&root, "releases", "latin1.yaml", 100).unwrap_err();
        assert_eq!(err, SourceError::NotUtf8 { offset: 11, line: 2, column: 4 });
        assert_eq!(
            err.to_string(),
            "byte 11 (line 2, column 4) is not valid UTF-8; save the file as UTF-8 text"
        );
        fs::remove_dir_all(root).unwrap();
    }
}
