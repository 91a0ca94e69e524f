//! The repository's lock: every command that writes holds it exclusively
//! from before it reads the sources until the tree and the release files
//! are written; a command that only compares (`render --check`, `diff`,
//! `check`) holds it shared. Two writers never interleave, so no change is
//! lost, and a reader never sees a release file newer than the tree.
//!
//! It is an advisory `flock(2)` on the repository's root directory itself:
//! no lock file to leave behind, and the kernel releases it when the
//! process ends, however it ends. Off Unix there is no lock.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How the lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// With other readers, never with a writer.
    Shared,
    /// Alone.
    Exclusive,
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct RepoLock {
    _dir: File,
}

/// How often a waiting command tries again.
const RETRY: Duration = Duration::from_millis(25);

/// Takes the lock on `root`, waiting at most `wait` for the commands that
/// hold it; the error names the root, how long it waited and what to do.
pub fn acquire(root: &Path, access: Access, wait: Duration) -> Result<RepoLock, String> {
    let dir = File::open(root)
        .map_err(|e| format!("{}: cannot open the repository to lock it ({e})", root.display()))?;
    let deadline = Instant::now() + wait;
    loop {
        match try_lock(&dir, access) {
            Ok(true) => return Ok(RepoLock { _dir: dir }),
            Ok(false) if Instant::now() < deadline => std::thread::sleep(RETRY),
            Ok(false) => {
                return Err(format!(
                    "{}: another command is changing this repository (it holds the repository's lock); \
                     waited {} s for it. Run this again when it has finished, or set GITOPS_LOCK_WAIT \
                     to the seconds to wait",
                    root.display(),
                    wait.as_secs()
                ));
            }
            Err(e) => return Err(format!("{}: cannot lock the repository ({e})", root.display())),
        }
    }
}

/// Tries once; `false` if another process holds the lock in a conflicting way.
#[cfg(unix)]
fn try_lock(dir: &File, access: Access) -> io::Result<bool> {
    use std::os::fd::AsRawFd as _;
    let how = match access {
        Access::Shared => libc::LOCK_SH,
        Access::Exclusive => libc::LOCK_EX,
    };
    // SAFETY: flock on a descriptor this `File` owns for the call's duration.
    let rc = unsafe { libc::flock(dir.as_raw_fd(), how | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(false) } else { Err(e) }
}

#[cfg(not(unix))]
fn try_lock(_: &File, _: Access) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_excludes_everyone_and_readers_share() {
        let root = std::env::temp_dir().join(format!("gitops-lock-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let none = Duration::ZERO;
        let writer = acquire(&root, Access::Exclusive, none).unwrap();
        // Each `acquire` opens its own descriptor: flock treats them as
        // separate holders, as it does two processes.
        let err = acquire(&root, Access::Exclusive, Duration::from_millis(60)).unwrap_err();
        assert!(
            err.contains("another command is changing this repository") && err.contains("GITOPS_LOCK_WAIT"),
            "{err}"
        );
        assert!(acquire(&root, Access::Shared, none).is_err());
        drop(writer);
        let reader = acquire(&root, Access::Shared, none).unwrap();
        let second = acquire(&root, Access::Shared, none).unwrap();
        assert!(acquire(&root, Access::Exclusive, none).is_err());
        drop((reader, second));
        // A waiting writer gets the lock once the holder lets go.
        let holder = acquire(&root, Access::Exclusive, none).unwrap();
        let waiter = std::thread::spawn({
            let root = root.clone();
            move || acquire(&root, Access::Exclusive, Duration::from_secs(10)).map(drop)
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(holder);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        std::fs::remove_dir_all(root).unwrap();
    }
}
