//! A rendered tree: relative path -> bytes, sorted.

use std::collections::BTreeMap;

/// Files keyed by a relative, `/`-separated path. A `BTreeMap`, so iteration
/// (and so everything written or compared) is in path order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tree {
    files: BTreeMap<String, Vec<u8>>,
}

/// Paths and sizes: a failing assertion on two trees stays readable.
impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.files.iter().map(|(p, b)| (p, format!("{} bytes", b.len())))).finish()
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Tree::default()
    }

    /// Adds a file; returns `false` (and keeps the first) if the path is taken.
    pub fn insert(&mut self, path: String, bytes: Vec<u8>) -> bool {
        debug_assert!(!path.starts_with('/') && !path.split('/').any(|c| c.is_empty() || c == ".."));
        match self.files.entry(path) {
            std::collections::btree_map::Entry::Occupied(_) => false,
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(bytes);
                true
            }
        }
    }

    /// Adds every file; the error names the first path already taken.
    pub fn extend(&mut self, files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<(), String> {
        for (path, bytes) in files {
            if self.files.contains_key(&path) {
                return Err(path);
            }
            self.insert(path, bytes);
        }
        Ok(())
    }

    /// The bytes of the file at `path`, if there is one.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Every file and its bytes, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, b)| (p.as_str(), b.as_slice()))
    }

    /// Every path, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Keeps only the files whose path `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.files.retain(|path, _| keep(path));
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there is no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The bytes of every file together.
    pub fn total_bytes(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }
}

/// A tree of the given files; a repeated path keeps its first bytes.
impl<P: Into<String>, B: Into<Vec<u8>>> FromIterator<(P, B)> for Tree {
    fn from_iter<I: IntoIterator<Item = (P, B)>>(files: I) -> Self {
        let mut tree = Tree::new();
        for (path, bytes) in files {
            tree.insert(path.into(), bytes.into());
        }
        tree
    }
}
