//! A fast hasher for the renderer's own maps (names, labels, addresses).
//!
//! The standard SipHash resists flooding by hostile keys; every key here
//! comes from the platform definition, and at thousands of services SipHash
//! was a few percent of a render. This is the multiply-rotate hash rustc
//! uses for its own maps (FxHash), a word at a time.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash: `hash = (hash.rotl(5) ^ word) * K` for each 8-byte little-endian word (the last one
/// zero-padded); a byte slice is preceded by its length.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // The length first: zero padding must not make `a` and `a\0` equal.
        self.add(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;
/// A `HashMap` with [`FxHasher`]: fast, not resistant to chosen keys (the keys come from the platform definition).
pub type FxHashMap<K, V> = HashMap<K, V, FxBuildHasher>;
/// A `HashSet` with [`FxHasher`].
pub type FxHashSet<T> = HashSet<T, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_differ() {
        let h = |s: &str| FxBuildHasher::default().hash_one(s);
        assert_eq!(h("svc-0001-db"), h("svc-0001-db"));
        let distinct: FxHashSet<u64> = (0..10_000).map(|i| h(&format!("svc-{i:04}"))).collect();
        assert_eq!(distinct.len(), 10_000);
        assert_ne!(h("a"), h("a\0"), "zero padding does not collide");
    }
}
