//! The tree on disk: read it, compare it, replace it atomically.
//!
//! A render writes the new tree into a hidden staging directory beside the
//! destination, batch by batch as it is laid out ([`Staged`]), then swaps
//! the two directories in one `renameat2(2)` call with `RENAME_EXCHANGE`,
//! and only then deletes the old tree. A process killed at any moment
//! leaves the destination as the old tree or the new one, whole; at worst a
//! stale staging directory remains, which the next render removes. Files
//! the sources no longer produce disappear with the old tree.
//!
//! Where the swap is atomic: on Linux (`RENAME_EXCHANGE`, on every local
//! filesystem that supports it: ext4, xfs, btrfs, tmpfs). Elsewhere (macOS,
//! the BSDs, filesystems without it) the swap is two renames with a moment
//! in which the destination is missing; a journal written before them lets
//! the next run put the complete new tree in place ([`recover`]).
//!
//! Files committed with the tree ([`Staged::also_replace`], the release
//! file `set-image` edits) go through the same journal: after a kill at any
//! moment the next run finds both old or completes both to new.
//!
//! A destination is replaced only if a render wrote it (it holds the
//! [`MARKER`] file, or only the files a render writes), or if it is empty:
//! a render never deletes a directory of someone else's files. Symbolic
//! links are refused, in the destination and inside it, by every command.

mod journal;

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use gitops_core::par;

use crate::tree::Tree;

pub use journal::{pending, recover, remove_stale_temporaries, replace_files};

/// The file at the top of every rendered tree that says a render wrote it
/// (and may replace it). It is not part of the [`Tree`]: [`read_tree`]
/// skips it and [`compare`] never reports it.
pub const MARKER: &str = ".gitops-rendered";

const MARKER_TEXT: &[u8] = b"This directory is a rendered GitOps tree. Every render replaces it whole\n\
and removes each file it did not write: keep nothing else here.\n";

/// The error for a symbolic link where the tree must have a real directory or file.
fn link_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link: a rendered tree is made of real directories and files (Argo CD reads \
         it from Git, where a link is not the directory it points at); replace the link with a \
         directory, or render with --out into a real one",
        path.display()
    ))
}

/// Reads every file below `root` into a [`Tree`]. A missing `root` is an
/// empty tree; a symbolic link (`root` itself or inside it) is an error
/// naming it; the [`MARKER`] is skipped.
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    match fs::symlink_metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(tree),
        Err(e) => return Err(e),
        Ok(m) if m.is_symlink() => return Err(link_error(root)),
        Ok(m) if !m.is_dir() => {
            return Err(io::Error::other(format!("{} exists and is not a directory", root.display())));
        }
        Ok(_) => {}
    }
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                return Err(link_error(&entry.path()));
            } else if kind.is_dir() {
                stack.push((entry.path(), rel));
            } else if rel != MARKER {
                tree.insert(rel, fs::read(entry.path())?);
            }
        }
    }
    Ok(tree)
}

/// How a file on disk differs from the rendered one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drift {
    /// On disk with other bytes.
    Changed(String),
    /// Rendered, not on disk.
    Missing(String),
    /// On disk, no longer rendered.
    Extra(String),
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::Changed(p) => write!(f, "changed: {p}"),
            Drift::Missing(p) => write!(f, "missing: {p}"),
            Drift::Extra(p) => write!(f, "extra:   {p}"),
        }
    }
}

/// Every difference between `rendered` and `on_disk`, in path order.
pub fn compare(rendered: &Tree, on_disk: &Tree) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (path, bytes) in rendered.files() {
        match on_disk.get(path) {
            None => drift.push(Drift::Missing(path.into())),
            Some(old) if old != bytes => drift.push(Drift::Changed(path.into())),
            Some(_) => {}
        }
    }
    for path in on_disk.paths() {
        if rendered.get(path).is_none() {
            drift.push(Drift::Extra(path.into()));
        }
    }
    drift.sort();
    drift
}

/// Replaces the single file `path` with `bytes`: writes a temporary file
/// beside it, flushes it to disk and renames it over `path`, keeping the old
/// file's permissions. Readers see the old content or the new, never a part;
/// on error `path` is as it was. Creates the parent directory if needed.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let tmp = journal::write_temporary(path, bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// What [`write_atomically`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The destination already held exactly this tree; nothing was touched.
    Unchanged,
    /// The destination now holds the new tree.
    Replaced,
}

/// What [`Staged::finish`] did: the tree's outcome, and what could not be
/// tidied after the change was in place (the old tree left beside the
/// destination, which the next run removes). The change is made either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Whether the tree changed.
    pub outcome: Outcome,
    /// Tidying that failed, for the user to read; nothing to undo.
    pub warnings: Vec<String>,
}

/// A change that was only half made: the tree is in place, a file
/// committed with it ([`Staged::also_replace`]) is not. Its journal stays,
/// and the next run (any command) completes the change.
#[derive(Debug)]
pub struct Incomplete {
    /// What happened, naming the files.
    pub message: String,
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Incomplete {}

/// Called with each file's final path before it is written into staging,
/// possibly from several threads at once; an error aborts the write (tests
/// inject failures through it).
pub type BeforeWrite<'a> = &'a (dyn Fn(&Path) -> io::Result<()> + Sync);

/// Replaces `dest` with `tree`, atomically. On error `dest` is as it was.
pub fn write_atomically(tree: &Tree, dest: &Path) -> io::Result<Outcome> {
    write_atomically_with(tree, dest, &|_| Ok(()))
}

/// [`write_atomically`] with a hook before each file write.
pub fn write_atomically_with(tree: &Tree, dest: &Path, before_write: BeforeWrite) -> io::Result<Outcome> {
    let staged = Staged::begin(dest, before_write)?;
    staged.add(tree.files().map(|(path, bytes)| (path.to_owned(), bytes.to_vec())).collect())?;
    Ok(staged.finish()?.outcome)
}

/// From this many files on, a batch is written on every CPU.
const FILES_FOR_THREADS: usize = 128;

/// A tree written while it is rendered: each batch of files goes into a
/// hidden staging directory beside the destination as it comes (from any
/// thread), and [`Staged::finish`] swaps the whole directory in. While
/// every file so far equals the destination's, nothing is written (the
/// files are kept until one differs), so rendering an unchanged tree again
/// touches nothing. Dropped without `finish`, after a failed render, the
/// staging directory goes: the destination never sees a part of a tree.
///
/// Two writers of one destination must not overlap: a command holds the
/// repository's lock from before `begin` until after `finish`.
pub struct Staged<'h> {
    dest: PathBuf,
    staging: PathBuf,
    before_write: BeforeWrite<'h>,
    state: Mutex<State>,
}

struct State {
    /// The files so far, while each equals the destination's; `None` once
    /// they are written (one differed, or there is no destination).
    same: Option<Vec<(String, Vec<u8>)>>,
    /// How many files the destination holds (its marker aside), and
    /// whether it has the marker; `None` if it does not exist.
    before: Option<Survey>,
    /// Whether the staging directory exists.
    staging: bool,
    /// Directories made in it.
    dirs: BTreeSet<String>,
    /// Files outside the tree replaced with it.
    also: Vec<(PathBuf, Vec<u8>)>,
    /// Tidying that failed before the render (stale directories left).
    warnings: Vec<String>,
    /// Set once the tree is in place (or found unchanged).
    finished: bool,
}

impl<'h> Staged<'h> {
    /// Prepares to replace `dest` (a directory, or nothing yet): completes
    /// a change a killed run left half-made ([`recover`]), removes the
    /// staging directories of renders that died, and refuses a destination
    /// that is a link, holds one, or holds files no render wrote.
    pub fn begin(dest: &Path, before_write: BeforeWrite<'h>) -> io::Result<Self> {
        let (parent, dest_name) = split(dest)?;
        let mut warnings = Vec::new();
        match fs::metadata(&parent) {
            Ok(_) => {
                warnings.extend(recover(dest)?);
                warnings.extend(remove_stale_staging(&parent, dest_name));
            }
            // Made with the staging directory, once there is a file to write.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let before = survey(dest)?;
        let staging = parent.join(staging_name(dest_name, std::process::id()));
        if fs::symlink_metadata(&staging).is_ok() {
            fs::remove_dir_all(&staging)?;
        }
        let state = State {
            same: before.is_some().then(Vec::new),
            before,
            staging: false,
            dirs: BTreeSet::new(),
            also: Vec::new(),
            warnings,
            finished: false,
        };
        Ok(Staged { dest: dest.to_path_buf(), staging, before_write, state: Mutex::new(state) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds files (relative paths) to the tree: writes them into staging on
    /// every CPU, or keeps them while the tree still equals the destination.
    pub fn add(&self, mut files: Vec<(String, Vec<u8>)>) -> io::Result<()> {
        let mut state = self.state();
        if let Some(same) = &mut state.same {
            let unchanged =
                files.iter().all(|(rel, bytes)| fs::read(self.dest.join(rel)).is_ok_and(|old| old == *bytes));
            if unchanged {
                same.extend(files);
                return Ok(());
            }
            let mut kept = state.same.take().unwrap_or_default();
            kept.append(&mut files);
            files = kept;
        }
        self.make_dirs(&mut state, &files)?;
        drop(state);
        // Creating a file costs the kernel more than starting a thread, but a
        // small batch comes from one of several threads already at work.
        let parallel = files.len() >= FILES_FOR_THREADS;
        let written = par::map(parallel, &par::chunks(&files, 4, 32), |chunk| {
            chunk.iter().try_for_each(|(rel, bytes)| {
                let path = self.staging.join(rel);
                (self.before_write)(&path)?;
                fs::write(&path, bytes)
            })
        });
        written.into_iter().collect()
    }

    /// Replaces the file `path` (outside the tree: a release file) with
    /// `bytes` in the same commit as the tree: after a kill at any moment,
    /// the file and the tree are both old, or the next run makes both new.
    pub fn also_replace(&self, path: PathBuf, bytes: Vec<u8>) {
        self.state().also.push((path, bytes));
    }

    /// The staging directory (with the marker) and the directories `files` go in.
    fn make_dirs(&self, state: &mut State, files: &[(String, Vec<u8>)]) -> io::Result<()> {
        if !state.staging {
            if let Some(parent) = self.staging.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::create_dir(&self.staging)?;
            state.staging = true;
            fs::write(self.staging.join(MARKER), MARKER_TEXT)?;
        }
        for (rel, _) in files {
            if let Some((dir, _)) = rel.rsplit_once('/')
                && !state.dirs.contains(dir)
            {
                fs::create_dir_all(self.staging.join(dir))?;
                state.dirs.insert(dir.to_owned());
            }
        }
        Ok(())
    }

    /// Puts the tree (and the files given to [`Staged::also_replace`]) in
    /// place, or leaves the destination alone when it already holds
    /// exactly this tree. On an error nothing changed, except an
    /// [`Incomplete`] change, which the next run completes.
    pub fn finish(self) -> io::Result<Finished> {
        let mut state = self.state();
        let mut changed = true;
        if let Some(same) = state.same.take() {
            let before = state.before.unwrap_or_default();
            if before.files == same.len() {
                // Every file is the destination's, and it has no more.
                changed = false;
                if !before.marked {
                    // A tree rendered before there was a marker: mark it.
                    write_file_atomically(&self.dest.join(MARKER), MARKER_TEXT)?;
                }
            } else {
                // Written as `add` writes them, now that the trees differ.
                drop(state);
                self.add(same)?;
                state = self.state();
            }
        } else if !state.staging {
            // No files at all: an empty tree is an empty directory.
            self.make_dirs(&mut state, &[])?;
        }
        let also = std::mem::take(&mut state.also);
        let mut warnings = std::mem::take(&mut state.warnings);
        let staging = changed.then_some(self.staging.as_path());
        warnings.extend(journal::commit(staging, &self.dest, also)?);
        state.finished = true;
        let outcome = if changed { Outcome::Replaced } else { Outcome::Unchanged };
        Ok(Finished { outcome, warnings })
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        let state = self.state();
        if state.staging && !state.finished {
            // Best effort: the destination is untouched either way.
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// `dest`'s parent directory (`.` for a bare name) and its own name.
fn split(dest: &Path) -> io::Result<(PathBuf, &OsStr)> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the destination has no directory name")
    })?;
    Ok((parent, name))
}

/// What a destination holds, as far as replacing it is concerned.
#[derive(Debug, Clone, Copy, Default)]
struct Survey {
    /// Its files, the marker aside.
    files: usize,
    /// Whether it has the marker.
    marked: bool,
}

/// File extensions a render writes: a tree rendered before the marker
/// existed holds nothing else.
const RENDERED_EXTENSIONS: [&str; 2] = ["yaml", "md"];

/// What `dest` holds, if it exists; an error if a render must not replace
/// it: a link, a directory holding a link, or a directory no render wrote
/// (no marker, and a file a render does not write or no kustomization).
fn survey(dest: &Path) -> io::Result<Option<Survey>> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
        Ok(m) if m.is_symlink() => return Err(link_error(dest)),
        Ok(m) if !m.is_dir() => {
            return Err(io::Error::other(format!("{} exists and is not a directory", dest.display())));
        }
        Ok(_) => {}
    }
    let mut survey = Survey::default();
    // The first file that a render would not have written, and whether
    // there is a kustomization: for a tree rendered before the marker.
    let (mut foreign, mut kustomization) = (None::<String>, false);
    let mut stack = vec![(dest.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                return Err(link_error(&entry.path()));
            }
            if rel == MARKER {
                survey.marked = kind.is_file();
                continue;
            }
            let rendered_like = !name.starts_with('.')
                && (kind.is_dir()
                    || kind.is_file()
                        && name.rsplit_once('.').is_some_and(|(_, ext)| RENDERED_EXTENSIONS.contains(&ext)));
            if !rendered_like && foreign.is_none() {
                foreign = Some(rel.clone());
            }
            if kind.is_dir() {
                stack.push((entry.path(), rel));
            } else {
                survey.files += 1;
                kustomization |= name == "kustomization.yaml";
            }
        }
    }
    let empty = survey.files == 0 && foreign.is_none();
    if survey.marked || empty || (foreign.is_none() && kustomization) {
        return Ok(Some(survey));
    }
    let what = match foreign {
        Some(rel) => format!("it holds `{rel}`, which no render writes,"),
        None => "it holds no kustomization.yaml".to_owned(),
    };
    Err(io::Error::other(format!(
        "{} is not a tree a render wrote: {what} and has no {MARKER} marker. A render replaces its \
         destination whole, deleting what it held, so it writes only into a new or empty directory \
         or one it rendered before; choose another directory, or move those files away",
        dest.display()
    )))
}

fn staging_prefix(dest_name: &OsStr) -> String {
    format!(".{}.render-", dest_name.to_string_lossy())
}

fn staging_name(dest_name: &OsStr, pid: u32) -> OsString {
    format!("{}{pid}", staging_prefix(dest_name)).into()
}

/// Removes staging directories left by renders that were killed (and old
/// trees a finished render could not remove); one that belongs to a live
/// process is left alone. What cannot be removed is reported, not fatal.
fn remove_stale_staging(parent: &Path, dest_name: &OsStr) -> Vec<String> {
    let prefix = staging_prefix(dest_name);
    let Ok(entries) = fs::read_dir(parent) else { return Vec::new() };
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let pid = rest.strip_suffix(OLD_SUFFIX).unwrap_or(rest);
        let alive = pid.parse::<u32>().is_ok_and(|pid| pid != std::process::id() && process_alive(pid));
        if !alive && let Err(e) = remove_tree(&entry.path()) {
            warnings.push(e);
        }
    }
    warnings
}

/// The suffix of the old tree while the two-rename swap runs.
const OLD_SUFFIX: &str = ".old";

/// Deletes the directory `path`, making its directories writable first if
/// a plain delete is refused; the error says what is left and that the
/// next run tries again.
fn remove_tree(path: &Path) -> Result<(), String> {
    #[cfg(test)]
    if tests::REMOVE_FAILS.get() {
        return Err(format!("{} (an old tree) could not be removed (injected)", path.display()));
    }
    let first = match fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => e,
    };
    make_writable(path);
    fs::remove_dir_all(path).map_err(|_| {
        format!(
            "{} (an old tree) could not be removed ({first}); nothing depends on it, and the next run \
             tries again, or delete it by hand",
            path.display()
        )
    })
}

/// Gives the owner write and search permission on every directory below `path`.
#[cfg(unix)]
fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&dir) else { continue };
        if !meta.is_dir() {
            continue;
        }
        let mode = meta.permissions().mode();
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(mode | 0o700));
        if let Ok(entries) = fs::read_dir(&dir) {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
}

#[cfg(not(unix))]
fn make_writable(_: &Path) {}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_: u32) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both paths are valid NUL-terminated strings for the call's duration.
    let rc = unsafe {
        libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Whether `exchange` failed only because the platform or filesystem lacks it.
fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gitops-tree-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn tree(files: &[(&str, &str)]) -> Tree {
        files.iter().copied().collect()
    }

    #[test]
    fn writes_replaces_and_removes_files_no_longer_rendered() {
        let root = tmp("replace");
        let dest = root.join("deploy");
        let first = tree(&[("dev/a.yaml", "a"), ("dev/old.yaml", "old"), ("argocd/dev.yaml", "app")]);
        assert_eq!(write_atomically(&first, &dest).unwrap(), Outcome::Replaced);
        assert_eq!(read_tree(&dest).unwrap(), first);

        let second = tree(&[("dev/a.yaml", "a2"), ("argocd/dev.yaml", "app")]);
        assert_eq!(write_atomically(&second, &dest).unwrap(), Outcome::Replaced);
        assert_eq!(read_tree(&dest).unwrap(), second);
        assert!(!dest.join("dev/old.yaml").exists());
        assert_eq!(write_atomically(&second, &dest).unwrap(), Outcome::Unchanged);
        // Nothing but the destination is left beside it.
        let left: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [OsString::from("deploy")]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_old_tree_whole() {
        let root = tmp("fail");
        let dest = root.join("deploy");
        let old = tree(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b")]);
        write_atomically(&old, &dest).unwrap();

        let new = tree(&[("dev/a.yaml", "A"), ("dev/b.yaml", "B"), ("dev/c.yaml", "C")]);
        let written = std::sync::atomic::AtomicUsize::new(0);
        let err = write_atomically_with(&new, &dest, &|_| {
            let n = written.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if n == 2 { Err(io::Error::other("disk full (injected)")) } else { Ok(()) }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full (injected)");
        assert_eq!(read_tree(&dest).unwrap(), old);
        let left: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [OsString::from("deploy")], "no staging directory is left behind");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn stale_staging_of_a_dead_render_is_removed() {
        let root = tmp("stale");
        let dest = root.join("deploy");
        // A pid that cannot be alive: above the kernel's pid_max limit.
        let stale = root.join(staging_name(dest.file_name().unwrap(), 4_194_305));
        fs::create_dir_all(stale.join("dev")).unwrap();
        fs::write(stale.join("dev/half.yaml"), "x").unwrap();
        write_atomically(&tree(&[("dev/a.yaml", "a")]), &dest).unwrap();
        assert!(!stale.exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_single_file_is_replaced_whole_or_not_at_all() {
        use std::os::unix::fs::PermissionsExt;
        let root = tmp("file");
        let file = root.join("releases/dev.yaml");
        write_file_atomically(&file, b"one\n").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"one\n");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        write_file_atomically(&file, b"two\n").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two\n");
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);

        // A directory in the way: the rename fails, nothing is left behind.
        let dir = root.join("releases/prod.yaml");
        fs::create_dir_all(dir.join("x")).unwrap();
        assert!(write_file_atomically(&dir, b"three\n").is_err());
        assert!(dir.join("x").is_dir());
        let mut left: Vec<_> =
            fs::read_dir(root.join("releases")).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, [OsString::from("dev.yaml"), OsString::from("prod.yaml")]);
        fs::remove_dir_all(root).unwrap();
    }

    fn files(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs.iter().map(|(p, b)| ((*p).to_owned(), b.as_bytes().to_vec())).collect()
    }

    fn left_beside(root: &Path) -> Vec<OsString> {
        let mut left: Vec<_> = fs::read_dir(root).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        left
    }

    /// Three environments' batches, each from its own thread, then the Argo
    /// CD files: the tree one write of all of them gives.
    #[test]
    fn batches_staged_from_several_threads_make_one_tree() {
        let root = tmp("staged");
        let dest = root.join("out/deploy");
        let batches = [
            files(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b")]),
            files(&[("staging/a.yaml", "a"), ("staging/sub/c.yaml", "c")]),
            files(&[("prod/a.yaml", "a")]),
        ];
        let staged = Staged::begin(&dest, &|_| Ok(())).unwrap();
        std::thread::scope(|s| {
            for batch in &batches {
                s.spawn(|| staged.add(batch.clone()).unwrap());
            }
        });
        staged.add(files(&[("argocd/dev/apps/app.yaml", "app")])).unwrap();
        assert_eq!(staged.finish().unwrap().outcome, Outcome::Replaced);
        let mut want: Tree = batches.iter().flatten().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
        want.insert("argocd/dev/apps/app.yaml".into(), b"app".to_vec());
        assert_eq!(read_tree(&dest).unwrap(), want);
        assert_eq!(left_beside(&root.join("out")), [OsString::from("deploy")]);
        fs::remove_dir_all(root).unwrap();
    }

    /// While batches equal the destination nothing is written; a batch that
    /// differs writes the earlier ones too; a destination with a file more
    /// is replaced; an equal tree leaves the destination alone.
    #[test]
    fn staging_writes_only_once_the_tree_differs_and_then_all_of_it() {
        let root = tmp("staged-compare");
        let dest = root.join("deploy");
        let old = tree(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b"), ("prod/a.yaml", "a")]);
        write_atomically(&old, &dest).unwrap();

        let staged = Staged::begin(&dest, &|_| Ok(())).unwrap();
        staged.add(files(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b")])).unwrap();
        assert_eq!(left_beside(&root), [OsString::from("deploy")], "nothing staged while equal");
        staged.add(files(&[("prod/a.yaml", "A")])).unwrap();
        assert_eq!(staged.finish().unwrap().outcome, Outcome::Replaced);
        let new = tree(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b"), ("prod/a.yaml", "A")]);
        assert_eq!(read_tree(&dest).unwrap(), new, "the equal batch was written as well");

        let fewer = Staged::begin(&dest, &|_| Ok(())).unwrap();
        fewer.add(files(&[("dev/a.yaml", "a"), ("prod/a.yaml", "A")])).unwrap();
        assert_eq!(fewer.finish().unwrap().outcome, Outcome::Replaced);
        assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "a"), ("prod/a.yaml", "A")]));

        let same = Staged::begin(&dest, &|_| Ok(())).unwrap();
        same.add(files(&[("prod/a.yaml", "A")])).unwrap();
        same.add(files(&[("dev/a.yaml", "a")])).unwrap();
        assert_eq!(same.finish().unwrap().outcome, Outcome::Unchanged);
        assert_eq!(left_beside(&root), [OsString::from("deploy")]);
        fs::remove_dir_all(root).unwrap();
    }

    /// A render that fails after some files were staged: dropping the
    /// staged tree removes them, and the destination is as it was (or
    /// still absent, with no parent directory made for it).
    #[test]
    fn a_staged_tree_dropped_unfinished_leaves_nothing() {
        let root = tmp("staged-drop");
        let fresh = root.join("new/deploy");
        let staged = Staged::begin(&fresh, &|_| Ok(())).unwrap();
        staged.add(files(&[("dev/a.yaml", "a")])).unwrap();
        assert!(root.join("new").exists(), "staged beside the destination");
        drop(staged);
        assert!(!fresh.exists());
        assert_eq!(left_beside(&root.join("new")), Vec::<OsString>::new());
        assert!(Staged::begin(&root.join("never/deploy"), &|_| Ok(())).is_ok());
        assert!(!root.join("never").exists(), "nothing is made before a file is written");

        let dest = root.join("deploy");
        let old = tree(&[("dev/a.yaml", "a")]);
        write_atomically(&old, &dest).unwrap();
        let staged = Staged::begin(&dest, &|_| Ok(())).unwrap();
        staged.add(files(&[("dev/a.yaml", "changed")])).unwrap();
        drop(staged);
        assert_eq!(read_tree(&dest).unwrap(), old);
        assert_eq!(left_beside(&root), [OsString::from("deploy"), OsString::from("new")]);
        fs::remove_dir_all(root).unwrap();
    }

    thread_local! {
        /// Makes removing an old tree fail on this thread: a tree whose
        /// removal is refused (root removes anything, so tests inject it).
        pub(super) static REMOVE_FAILS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// A directory a render did not write is refused whole and untouched: a
    /// notes file, a repository (`.git`, sources), a directory of YAML with
    /// no kustomization; an empty one, a marked one, and one that looks
    /// like a tree rendered before the marker existed are replaced.
    #[test]
    fn only_a_rendered_or_empty_directory_is_replaced() {
        let root = tmp("foreign");
        let new = tree(&[("dev/kustomization.yaml", "k"), ("dev/a.yaml", "a")]);
        for (name, files) in [
            ("notes", &[("notes.txt", "mine")][..]),
            ("repo", &[(".git/HEAD", "ref"), ("Cargo.toml", "[package]"), ("deploy/dev/a.yaml", "a")]),
            ("releases", &[("dev.yaml", "images: {}")]),
            ("hidden", &[("dev/kustomization.yaml", "k"), ("dev/.env", "TOKEN=1")]),
        ] {
            let dest = root.join(name);
            for (rel, text) in files {
                write(&dest, rel, text);
            }
            let before = read_tree(&dest).unwrap();
            let err = write_atomically(&new, &dest).unwrap_err().to_string();
            assert!(
                err.contains("is not a tree a render wrote") && err.contains("choose another directory"),
                "{err}"
            );
            assert_eq!(read_tree(&dest).unwrap(), before, "{name} is untouched");
            assert!(!dest.join(MARKER).exists());
        }
        let err = write_atomically(&new, &root.join("notes")).unwrap_err().to_string();
        assert!(err.contains("`notes.txt`"), "the error names the file: {err}");

        let empty = root.join("empty");
        fs::create_dir_all(&empty).unwrap();
        assert_eq!(write_atomically(&new, &empty).unwrap(), Outcome::Replaced);
        assert!(empty.join(MARKER).is_file());
        // A tree rendered before the marker: replaced when unchanged too, and marked.
        let legacy = root.join("legacy");
        for (rel, bytes) in new.files() {
            write(&legacy, rel, std::str::from_utf8(bytes).unwrap());
        }
        assert_eq!(write_atomically(&new, &legacy).unwrap(), Outcome::Unchanged);
        assert!(legacy.join(MARKER).is_file());
        // Marked, it is the render's: a file added by hand goes with the next render.
        write(&legacy, "dev/notes.txt", "x");
        assert_eq!(write_atomically(&new, &legacy).unwrap(), Outcome::Replaced);
        assert!(!legacy.join("dev/notes.txt").exists());
        fs::remove_dir_all(root).unwrap();
    }

    /// Links are refused by reading and writing alike, naming the link,
    /// and nothing is changed through one.
    #[test]
    fn links_as_or_inside_the_tree_are_refused_by_every_reader_and_writer() {
        let root = tmp("links");
        let real = root.join("real");
        let t = tree(&[("dev/kustomization.yaml", "k")]);
        write_atomically(&t, &real).unwrap();
        let link = root.join("deploy");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        for err in [read_tree(&link).unwrap_err(), write_atomically(&t, &link).unwrap_err()] {
            assert!(err.to_string().starts_with(&format!("{} is a symbolic link", link.display())), "{err}");
        }
        let inner = root.join("inner");
        write_atomically(&t, &inner).unwrap();
        std::os::unix::fs::symlink(real.join("dev"), inner.join("prod")).unwrap();
        for err in [read_tree(&inner).unwrap_err(), write_atomically(&t, &inner).unwrap_err()] {
            assert!(
                err.to_string().contains(&format!("{} is a symbolic link", inner.join("prod").display())),
                "{err}"
            );
        }
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(read_tree(&real).unwrap(), t);
        fs::remove_dir_all(root).unwrap();
    }

    /// The old tree cannot be removed after the swap: the render succeeds
    /// and says so, the tree is the new one, and the next render removes
    /// the old one.
    #[test]
    fn an_old_tree_that_cannot_be_removed_is_reported_and_removed_next_time() {
        let root = tmp("old-stays");
        let dest = root.join("deploy");
        write_atomically(&tree(&[("dev/a.yaml", "a")]), &dest).unwrap();
        let staged = Staged::begin(&dest, &|_| Ok(())).unwrap();
        staged.add(files(&[("dev/a.yaml", "A")])).unwrap();
        REMOVE_FAILS.set(true);
        let finished = staged.finish();
        REMOVE_FAILS.set(false);
        let finished = finished.unwrap();
        assert_eq!(finished.outcome, Outcome::Replaced);
        assert!(finished.warnings[0].contains("could not be removed"), "{:?}", finished.warnings);
        assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "A")]));
        assert_eq!(left_beside(&root).len(), 2, "the old tree is left beside it");
        // Its pid is this live process's own: a later process would find it
        // dead; the next render of this one removes it as its own staging.
        write_atomically(&tree(&[("dev/a.yaml", "B")]), &dest).unwrap();
        assert_eq!(left_beside(&root), [OsString::from("deploy")]);
        fs::remove_dir_all(root).unwrap();
    }

    /// A file committed with the tree: both change, or (on an error before
    /// the first move) neither; the temporary is gone either way.
    #[test]
    fn a_file_replaced_with_the_tree_changes_with_it() {
        let root = tmp("also");
        let dest = root.join("deploy");
        let release = root.join("releases/dev.yaml");
        write_file_atomically(&release, b"old\n").unwrap();
        write_atomically(&tree(&[("dev/a.yaml", "a")]), &dest).unwrap();

        let staged = Staged::begin(&dest, &|_| Ok(())).unwrap();
        staged.add(files(&[("dev/a.yaml", "A")])).unwrap();
        staged.also_replace(release.clone(), b"new\n".to_vec());
        assert_eq!(staged.finish().unwrap().outcome, Outcome::Replaced);
        assert_eq!(fs::read(&release).unwrap(), b"new\n");
        assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "A")]));

        // The file's place is a directory: refused before anything moves.
        let blocked = root.join("releases/prod.yaml");
        fs::create_dir_all(&blocked).unwrap();
        let staged = Staged::begin(&dest, &|_| Ok(())).unwrap();
        staged.add(files(&[("dev/a.yaml", "changed")])).unwrap();
        staged.also_replace(blocked.clone(), b"x".to_vec());
        staged.also_replace(release.clone(), b"newer\n".to_vec());
        let err = staged.finish().unwrap_err().to_string();
        assert!(err.contains("prod.yaml") && err.contains("not a regular file"), "{err}");
        assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "A")]));
        assert_eq!(fs::read(&release).unwrap(), b"new\n");
        assert_eq!(
            left_beside(&root.join("releases")),
            [OsString::from("dev.yaml"), OsString::from("prod.yaml")]
        );
        assert_eq!(left_beside(&root), [OsString::from("deploy"), OsString::from("releases")]);
        fs::remove_dir_all(root).unwrap();
    }

    /// Every state a kill can leave a change in, made by hand from its
    /// journal: the next run ends with the new tree and the new file, and
    /// nothing else beside them.
    #[test]
    fn recovery_completes_a_change_killed_at_any_step() {
        for step in 0..4 {
            let root = tmp(&format!("recover-{step}"));
            let dest = root.join("deploy");
            let release = root.join("releases/dev.yaml");
            write_file_atomically(&release, b"old\n").unwrap();
            write_atomically(&tree(&[("dev/a.yaml", "old")]), &dest).unwrap();
            // What a writer (pid 4194305, dead) had staged when it was killed.
            let staging = root.join(staging_name(OsStr::new("deploy"), 4_194_305));
            write_atomically(&tree(&[("dev/a.yaml", "new")]), &staging).unwrap();
            let tmp_file = journal::write_temporary(&release, b"new\n").unwrap();
            let dead_tmp = release.with_file_name(".dev.yaml.tmp-4194305");
            fs::rename(&tmp_file, &dead_tmp).unwrap();
            let journal = journal::Journal {
                staging: Some((staging.clone(), journal::inode(&staging))),
                files: vec![(dead_tmp.clone(), release.clone())],
            };
            write_file_atomically(&root.join(".deploy.journal"), journal.encode().as_bytes()).unwrap();
            // 0: killed after the journal; 1: after the exchange; 2: after
            // the file's rename too; 3: in the two-rename fallback, between
            // the renames (no tree at the destination).
            if (1..3).contains(&step) {
                exchange(&staging, &dest).unwrap();
            }
            if step == 2 {
                fs::rename(&dead_tmp, &release).unwrap();
            }
            if step == 3 {
                fs::rename(&dest, root.join(".deploy.render-4194305.old")).unwrap();
            }
            let notes = recover(&dest).unwrap();
            assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "new")]), "step {step}");
            assert_eq!(fs::read(&release).unwrap(), b"new\n", "step {step}");
            assert!(step == 2 || notes[0].contains("completed the change"), "step {step}: {notes:?}");
            // The next writer tidies what is left of the dead one.
            write_atomically(&tree(&[("dev/a.yaml", "new")]), &dest).unwrap();
            remove_stale_temporaries(&root.join("releases"));
            assert_eq!(
                left_beside(&root),
                [OsString::from("deploy"), OsString::from("releases")],
                "step {step}"
            );
            assert_eq!(left_beside(&root.join("releases")), [OsString::from("dev.yaml")], "step {step}");
            fs::remove_dir_all(root).unwrap();
        }
    }

    /// A journal is anyone's file in a repository: one that would move
    /// anything but this tool's own staged tree and temporaries is refused,
    /// and nothing moves.
    #[test]
    fn a_planted_journal_moves_nothing() {
        let root = tmp("planted");
        let dest = root.join("deploy");
        write_atomically(&tree(&[("dev/a.yaml", "a")]), &dest).unwrap();
        let victim = root.join("victim.txt");
        fs::write(&victim, "keep").unwrap();
        let other = root.join("other");
        write_atomically(&tree(&[("x.yaml", "x")]), &other).unwrap();
        for journal in [
            journal::Journal { staging: None, files: vec![(victim.clone(), root.join("releases/dev.yaml"))] },
            journal::Journal { staging: Some((other.clone(), None)), files: vec![] },
            journal::Journal {
                staging: None,
                files: vec![(root.join("elsewhere/.dev.yaml.tmp-1"), root.join("releases/dev.yaml"))],
            },
        ] {
            write_file_atomically(&root.join(".deploy.journal"), journal.encode().as_bytes()).unwrap();
            let err = recover(&dest).unwrap_err().to_string();
            assert!(err.contains("is not a journal this tool wrote; delete it"), "{err}");
            assert_eq!(fs::read(&victim).unwrap(), b"keep");
            assert_eq!(read_tree(&other).unwrap(), tree(&[("x.yaml", "x")]));
            assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "a")]));
        }
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn compare_lists_every_kind_of_drift() {
        let rendered = tree(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let disk = tree(&[("a", "1"), ("b", "x"), ("d", "4")]);
        assert_eq!(
            compare(&rendered, &disk),
            [Drift::Changed("b".into()), Drift::Missing("c".into()), Drift::Extra("d".into())]
        );
        assert!(compare(&rendered, &rendered).is_empty());
    }
}
