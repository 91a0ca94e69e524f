//! One change to several places (the tree and the release file it was
//! rendered from) made whole even if the process is killed half-way.
//!
//! Everything new is written first where no reader looks: the tree in its
//! staging directory, each file as a temporary beside its destination.
//! Then, when a kill between two renames could leave a mix, a journal
//! beside the tree (`.deploy.journal`) records what is about to move; the
//! renames follow, and the journal goes last. The next run that finds a
//! journal ([`recover`]) makes the remaining moves: each is idempotent
//! (a temporary still there has not moved; the tree has moved when the
//! destination is the staged directory, recognised by its inode).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{OLD_SUFFIX, exchange, remove_tree, split, unsupported, write_file_atomically};

/// What a change is about to move.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Journal {
    /// The staged tree, and its inode where the platform has them.
    pub(super) staging: Option<(PathBuf, Option<u64>)>,
    /// Each file's temporary and its destination.
    pub(super) files: Vec<(PathBuf, PathBuf)>,
}

const HEADER: &str = "gitops-journal 1";

impl Journal {
    pub(super) fn encode(&self) -> String {
        let mut out = format!("{HEADER}\n");
        if let Some((staging, ino)) = &self.staging {
            out.push_str(&format!("staging {}\n", hex(staging)));
            if let Some(ino) = ino {
                out.push_str(&format!("ino {ino}\n"));
            }
        }
        for (tmp, dest) in &self.files {
            out.push_str(&format!("file {} {}\n", hex(tmp), hex(dest)));
        }
        out
    }

    fn decode(text: &str) -> Option<Journal> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut journal = Journal { staging: None, files: Vec::new() };
        for line in lines {
            let mut words = line.split(' ');
            match (words.next()?, words.next(), words.next(), words.next()) {
                ("staging", Some(path), None, None) => journal.staging = Some((unhex(path)?, None)),
                ("ino", Some(ino), None, None) => journal.staging.as_mut()?.1 = Some(ino.parse().ok()?),
                ("file", Some(tmp), Some(dest), None) => journal.files.push((unhex(tmp)?, unhex(dest)?)),
                _ => return None,
            }
        }
        Some(journal)
    }
}

impl Journal {
    /// Whether every move is one this tool makes: the staged tree from
    /// beside `dest` (`.deploy.render-PID`), each file from its temporary
    /// beside it (`.dev.yaml.tmp-PID`). A journal in a repository is anyone's
    /// file; recovery must not become a way to move others.
    fn moves_only_its_own(&self, dest: &Path) -> bool {
        let named = |path: &Path, dir: Option<&Path>, prefix: &str| {
            path.parent() == dir
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(prefix))
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        };
        let Ok((parent, name)) = split(dest) else { return false };
        let staging_ok = self.staging.as_ref().is_none_or(|(staging, _)| {
            named(staging, Some(parent.as_path()), &format!(".{}.render-", name.to_string_lossy()))
        });
        staging_ok
            && self.files.iter().all(|(tmp, file)| {
                file.file_name()
                    .is_some_and(|n| named(tmp, file.parent(), &format!(".{}.tmp-", n.to_string_lossy())))
            })
    }
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt as _;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt as _;
    std::ffi::OsString::from_vec(bytes).into()
}

#[cfg(not(unix))]
fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    String::from_utf8_lossy(&bytes).into_owned().into()
}

/// A path as hexadecimal: any bytes, one word.
fn hex(path: &Path) -> String {
    path_bytes(path).iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(word: &str) -> Option<PathBuf> {
    if word.is_empty() || !word.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..word.len()).step_by(2).map(|i| u8::from_str_radix(word.get(i..i + 2)?, 16).ok()).collect();
    Some(bytes_path(bytes?))
}

#[cfg(unix)]
pub(super) fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    fs::symlink_metadata(path).ok().map(|m| m.ino())
}

#[cfg(not(unix))]
pub(super) fn inode(_: &Path) -> Option<u64> {
    None
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The journal of changes to the tree at `dest`: `.deploy.journal` beside it.
fn journal_path(dest: &Path) -> io::Result<PathBuf> {
    let (parent, name) = split(dest)?;
    Ok(parent.join(format!(".{}.journal", name.to_string_lossy())))
}

/// The temporary a file is written to before it is renamed over `path`.
fn temporary(path: &Path, pid: u32) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the destination has no file name"))?;
    Ok(path.with_file_name(format!(".{}.tmp-{pid}", name.to_string_lossy())))
}

/// Writes `bytes` to `path`'s temporary, flushed, with `path`'s permissions.
pub(super) fn write_temporary(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    use std::io::Write as _;
    let tmp = temporary(path, std::process::id())?;
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match fs::metadata(path) {
            Ok(old) => fs::set_permissions(&tmp, old.permissions()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Puts the directory `staging` at `dest`; returns where the old tree went
/// (to be deleted), if there was one. Atomic where `RENAME_EXCHANGE` is;
/// elsewhere `before_fallback` runs (the journal is written) before two
/// renames, between which `dest` is missing.
fn swap(
    staging: &Path,
    dest: &Path,
    before_fallback: &mut dyn FnMut() -> io::Result<()>,
) -> io::Result<Option<PathBuf>> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return fs::rename(staging, dest).map(|()| None),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => {
            return Err(io::Error::other(format!("{} exists and is not a directory", dest.display())));
        }
        Ok(_) => {}
    }
    match exchange(staging, dest) {
        // `staging` now holds the old tree.
        Ok(()) => Ok(Some(staging.to_path_buf())),
        Err(e) if unsupported(&e) => {
            before_fallback()?;
            let mut old = staging.as_os_str().to_owned();
            old.push(OLD_SUFFIX);
            let old = PathBuf::from(old);
            fs::rename(dest, &old)?;
            if let Err(e) = fs::rename(staging, dest) {
                let _ = fs::rename(&old, dest);
                return Err(e);
            }
            Ok(Some(old))
        }
        Err(e) => Err(e),
    }
}

/// Makes one change: the staged tree (if it changed) at `dest` and each of
/// `files` at its path. Before the first move, an error leaves everything
/// as it was; after it, the change is completed here or, if a process is
/// killed, by the next run. Returns what could not be tidied.
pub(super) fn commit(
    staging: Option<&Path>,
    dest: &Path,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> io::Result<Vec<String>> {
    let named = |path: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut temps: Vec<(PathBuf, PathBuf)> = Vec::new();
    let abandon = |temps: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in temps {
            let _ = fs::remove_file(tmp);
        }
    };
    for (path, bytes) in &files {
        let written = match fs::symlink_metadata(path) {
            Ok(m) if !m.is_file() => Err(io::Error::other("exists and is not a regular file")),
            _ => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) => fs::create_dir_all(parent).and_then(|()| write_temporary(path, bytes)),
                None => write_temporary(path, bytes),
            },
        };
        match written {
            Ok(tmp) => temps.push((tmp, path.clone())),
            Err(e) => {
                abandon(&temps);
                return Err(named(path, e));
            }
        }
    }
    let journal_file = journal_path(dest)?;
    let journal = Journal { staging: staging.map(|s| (s.to_path_buf(), inode(s))), files: temps.clone() };
    let mut journaled = false;
    let mut write_journal = || -> io::Result<()> {
        if !journaled {
            write_file_atomically(&journal_file, journal.encode().as_bytes())?;
            journaled = true;
        }
        Ok(())
    };
    // A kill between two moves would leave a mix: journal them first.
    if (staging.is_some() && !temps.is_empty()) || temps.len() > 1 {
        write_journal().inspect_err(|_| abandon(&temps))?;
    }
    let mut old = None;
    if let Some(staging) = staging {
        match swap(staging, dest, &mut write_journal) {
            Ok(moved) => old = moved,
            Err(e) => {
                abandon(&temps);
                let _ = fs::remove_file(&journal_file);
                return Err(named(dest, e));
            }
        }
    }
    for (i, (tmp, path)) in temps.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, path) {
            if staging.is_none() && i == 0 {
                abandon(&temps);
                let _ = fs::remove_file(&journal_file);
                return Err(named(path, e));
            }
            return Err(io::Error::other(super::Incomplete {
                message: format!(
                    "{} could not be replaced ({e}) after the rest of the change was made; the change \
                     is recorded in {}, and the next command run here completes it",
                    path.display(),
                    journal_file.display()
                ),
            }));
        }
    }
    let mut warnings = Vec::new();
    if exists(&journal_file)
        && let Err(e) = fs::remove_file(&journal_file)
    {
        warnings
            .push(format!("{}: could not be removed ({e}); the next run removes it", journal_file.display()));
    }
    if let Some(old) = old
        && let Err(e) = remove_tree(&old)
    {
        warnings.push(e);
    }
    Ok(warnings)
}

/// Whether a change at `dest` was left half-made ([`recover`] completes it).
pub fn pending(dest: &Path) -> bool {
    journal_path(dest).is_ok_and(|p| exists(&p))
}

/// Replaces each of `files` (path, new bytes) as one change: after a kill
/// at any moment, all are old, or the next run that recovers the tree at
/// `dest` (whose journal records the change) makes all new.
pub fn replace_files(dest: &Path, files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<Vec<String>> {
    commit(None, dest, files)
}

/// Completes the change a killed run left half-made at `dest` (its journal
/// is there), so that the tree and the files written with it are all new;
/// nothing to do without a journal. The caller holds the repository's lock
/// (no writer is running). Returns a note of what it did.
pub fn recover(dest: &Path) -> io::Result<Vec<String>> {
    let path = journal_path(dest)?;
    let text = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    let journal = std::str::from_utf8(&text)
        .ok()
        .and_then(Journal::decode)
        .filter(|j| j.moves_only_its_own(dest))
        .ok_or_else(|| {
            io::Error::other(format!(
                "{} is not a journal this tool wrote; delete it, then render to make the tree agree with the release files",
                path.display()
            ))
        })?;
    let mut moved = Vec::new();
    if let Some((staging, ino)) = &journal.staging {
        let swapped = match ino {
            Some(ino) => inode(dest) == Some(*ino),
            None => !exists(staging),
        };
        if !swapped && exists(staging) {
            if let Some(old) = swap(staging, dest, &mut || Ok(()))? {
                let _ = remove_tree(&old);
            }
            moved.push(dest.display().to_string());
        }
    }
    for (tmp, file) in &journal.files {
        if exists(tmp) {
            fs::rename(tmp, file)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
            moved.push(file.display().to_string());
        }
    }
    fs::remove_file(&path)?;
    Ok(if moved.is_empty() {
        Vec::new()
    } else {
        vec![format!("completed the change a stopped command left half-made: {}", moved.join(", "))]
    })
}

/// Removes the temporaries (`.NAME.tmp-PID`) that processes killed while
/// writing left in `dir`: run after [`recover`], under the lock. A
/// temporary of a live process stays. Returns what could not be removed.
pub fn remove_stale_temporaries(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.starts_with('.')).and_then(|n| n.rsplit_once(".tmp-"))
        else {
            continue;
        };
        let Ok(pid) = pid.1.parse::<u32>() else { continue };
        if (pid == std::process::id() || !super::process_alive(pid))
            && entry.file_type().is_ok_and(|t| t.is_file())
            && let Err(e) = fs::remove_file(entry.path())
        {
            warnings.push(format!("{}: could not be removed ({e})", entry.path().display()));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_reads_back_as_written_and_refuses_anything_else() {
        let journal = Journal {
            staging: Some((PathBuf::from("/r/.deploy.render-7"), Some(42))),
            files: vec![(
                PathBuf::from("/r/releases/.dev.yaml.tmp-7"),
                PathBuf::from("/r/releases/dev yaml"),
            )],
        };
        assert_eq!(Journal::decode(&journal.encode()), Some(journal));
        assert_eq!(Journal::decode("gitops-journal 1\nstaging zz\n"), None);
        assert_eq!(Journal::decode("something else\n"), None);
        assert_eq!(Journal::decode("gitops-journal 1\nino 3\n"), None, "an inode without a tree");
    }
}
