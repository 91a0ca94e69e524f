//! Git, run as a subprocess in the repository root: the commands that look
//! at history read it through `git` exactly as a person would.

use std::path::Path;
use std::process::Command;

/// Runs `git args…` in `root`; its stdout, or its stderr as the error.
pub fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git ({e}); install git and put it on PATH"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The full hash of the commit `rev` names in `root`.
pub fn commit(root: &Path, rev: &str, hint: &str) -> Result<String, Vec<String>> {
    if rev.starts_with('-') {
        return Err(vec![format!("`{rev}` is not a revision; {hint}")]);
    }
    git(root, &["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{rev}^{{commit}}")])
        .map(|hash| hash.trim().to_owned())
        .map_err(|e| {
            let why = if e.is_empty() { String::new() } else { format!(" ({e})") };
            vec![format!("`{rev}` is not a commit of the repository at {}{why}; {hint}", root.display())]
        })
}

/// The file `rel` (relative to `root`) as it was at `commit`; `None` if it did not exist.
pub fn show(root: &Path, commit: &str, rel: &str) -> Result<Option<String>, String> {
    let spec = format!("{commit}:./{rel}");
    match git(root, &["cat-file", "-e", &spec]) {
        Ok(_) => git(root, &["show", &spec]).map(Some),
        Err(_) => Ok(None),
    }
}
