//! The tree on disk: read it, compare it, replace it atomically.
//!
//! A render writes the new tree into a hidden staging directory beside the
//! destination, batch by batch as it is laid out ([`Staged`]), then swaps
//! the two directories in one `renameat2(2)` call with `RENAME_EXCHANGE`,
//! and only then deletes the old tree. A process
//! killed at any moment leaves the destination as the old tree or the new
//! one, whole; at worst a stale staging directory remains, which the next
//! render removes. Files the sources no longer produce disappear with the
//! old tree.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use gitops_core::par;

use crate::tree::Tree;

/// Reads every file below `root` into a [`Tree`]. A missing `root` is an empty tree.
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    match fs::metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(tree),
        Err(e) => return Err(e),
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
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), rel));
            } else {
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
    use std::io::Write as _;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the destination has no file name"))?;
    let tmp = path.with_file_name(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match fs::metadata(path) {
            Ok(old) => fs::set_permissions(&tmp, old.permissions())?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What [`write_atomically`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The destination already held exactly this tree; nothing was touched.
    Unchanged,
    /// The destination now holds the new tree.
    Replaced,
}

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
    staged.finish()
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
    /// Whether the staging directory exists.
    staging: bool,
    /// Directories made in it.
    dirs: BTreeSet<String>,
    /// Set once the tree is in place (or found unchanged).
    finished: bool,
}

impl<'h> Staged<'h> {
    /// Prepares to replace `dest` (a directory, or nothing yet), removing
    /// the staging directories of renders that died.
    pub fn begin(dest: &Path, before_write: BeforeWrite<'h>) -> io::Result<Self> {
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dest_name = dest.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the destination has no directory name")
        })?;
        match fs::metadata(&parent) {
            Ok(_) => remove_stale_staging(&parent, dest_name)?,
            // Made with the staging directory, once there is a file to write.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let exists = match fs::symlink_metadata(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
            Ok(m) if m.is_dir() => true,
            Ok(_) => {
                return Err(io::Error::other(format!("{} exists and is not a directory", dest.display())));
            }
        };
        let staging = parent.join(staging_name(dest_name, std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        let state =
            State { same: exists.then(Vec::new), staging: false, dirs: BTreeSet::new(), finished: false };
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

    /// The staging directory and the directories `files` go in.
    fn make_dirs(&self, state: &mut State, files: &[(String, Vec<u8>)]) -> io::Result<()> {
        if !state.staging {
            if let Some(parent) = self.staging.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::create_dir(&self.staging)?;
            state.staging = true;
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

    /// Puts the tree in place of the destination, or leaves the destination
    /// alone when it already holds exactly this tree.
    pub fn finish(self) -> io::Result<Outcome> {
        let mut state = self.state();
        if let Some(same) = state.same.take() {
            // Every file is the destination's; unchanged unless it has more.
            if count_files(&self.dest)? == same.len() {
                state.finished = true;
                return Ok(Outcome::Unchanged);
            }
            // Written as `add` writes them, now that the trees differ.
            drop(state);
            self.add(same)?;
            state = self.state();
        } else if !state.staging {
            // No files at all: an empty tree is an empty directory.
            self.make_dirs(&mut state, &[])?;
        }
        swap_in(&self.staging, &self.dest)?;
        state.finished = true;
        Ok(Outcome::Replaced)
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

/// How many files are below `root`.
fn count_files(root: &Path) -> io::Result<usize> {
    let mut count = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                count += 1;
            }
        }
    }
    Ok(count)
}

fn staging_prefix(dest_name: &std::ffi::OsStr) -> String {
    format!(".{}.render-", dest_name.to_string_lossy())
}

fn staging_name(dest_name: &std::ffi::OsStr, pid: u32) -> OsString {
    format!("{}{pid}", staging_prefix(dest_name)).into()
}

/// Removes staging directories left by renders that were killed; one that
/// belongs to a live process is left alone.
fn remove_stale_staging(parent: &Path, dest_name: &std::ffi::OsStr) -> io::Result<()> {
    let prefix = staging_prefix(dest_name);
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let alive = pid.parse::<u32>().is_ok_and(|pid| pid != std::process::id() && process_alive(pid));
        if !alive {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

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

/// Puts `staging` at `dest`; the old `dest`, if any, is deleted afterwards.
fn swap_in(staging: &Path, dest: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return fs::rename(staging, dest),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => {
            return Err(io::Error::other(format!("{} exists and is not a directory", dest.display())));
        }
        Ok(_) => {}
    }
    match exchange(staging, dest) {
        // `staging` now holds the old tree.
        Ok(()) => fs::remove_dir_all(staging),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)) => {
            // No RENAME_EXCHANGE on this filesystem: two renames, with a
            // moment in which `dest` is missing.
            let mut old = staging.as_os_str().to_owned();
            old.push(".old");
            fs::rename(dest, &old)?;
            fs::rename(staging, dest)?;
            fs::remove_dir_all(old)
        }
        Err(e) => Err(e),
    }
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
        assert_eq!(staged.finish().unwrap(), Outcome::Replaced);
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
        assert_eq!(staged.finish().unwrap(), Outcome::Replaced);
        let new = tree(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b"), ("prod/a.yaml", "A")]);
        assert_eq!(read_tree(&dest).unwrap(), new, "the equal batch was written as well");

        let fewer = Staged::begin(&dest, &|_| Ok(())).unwrap();
        fewer.add(files(&[("dev/a.yaml", "a"), ("prod/a.yaml", "A")])).unwrap();
        assert_eq!(fewer.finish().unwrap(), Outcome::Replaced);
        assert_eq!(read_tree(&dest).unwrap(), tree(&[("dev/a.yaml", "a"), ("prod/a.yaml", "A")]));

        let same = Staged::begin(&dest, &|_| Ok(())).unwrap();
        same.add(files(&[("prod/a.yaml", "A")])).unwrap();
        same.add(files(&[("dev/a.yaml", "a")])).unwrap();
        assert_eq!(same.finish().unwrap(), Outcome::Unchanged);
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
