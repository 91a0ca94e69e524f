//! Data parallelism without a dependency: `map` runs a function over items
//! on every available CPU (scoped threads pulling the next item from a
//! shared counter) and returns the results in item order, so what runs in
//! parallel stays deterministic.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// How many threads [`map`] uses at most: the CPUs this process may use,
/// asked once (the answer reads cgroup files).
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether work over `n` objects is worth threads. Below a few hundred,
/// starting and joining them costs more than it saves, the more so on a
/// busy machine, where the caller waits for a helper that is not running.
pub fn worth_threads(n: usize) -> bool {
    n >= 256 && threads() > 1
}

/// `items.iter().map(f).collect()`, on up to [`threads`] threads when
/// `parallel`; on the calling thread otherwise, or with one item or one CPU.
/// Meant for coarse items (a rule, a chunk of objects): each costs one
/// atomic increment.
pub fn map<T: Sync, R: Send>(parallel: bool, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = if parallel { threads().min(items.len()) } else { 1 };
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break done };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<(usize, R)> = thread::scope(|s| {
        let helpers: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// `items` cut into contiguous chunks for [`map`]: about `per_thread` per
/// thread, at least `min_len` items each (so one chunk when `items` is small).
pub fn chunks<T>(items: &[T], per_thread: usize, min_len: usize) -> Vec<&[T]> {
    let wanted = threads() * per_thread;
    let len = items.len().div_ceil(wanted).max(min_len).max(1);
    items.chunks(len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map(true, &items, |i| i * i);
        assert_eq!(map(false, &items, |i| i * i), squares);
        assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
        assert_eq!(map(true, &[] as &[u8], |_| 1), Vec::<i32>::new());
    }

    #[test]
    fn chunks_cover_every_item_once() {
        let items: Vec<u32> = (0..103).collect();
        let parts = chunks(&items, 4, 10);
        assert!(parts.iter().all(|c| c.len() >= 10 || std::ptr::eq(*c, *parts.last().unwrap())));
        assert_eq!(parts.concat(), items);
        assert_eq!(chunks(&items[..3], 4, 10), [&items[..3]]);
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let items: Vec<u32> = (0..64).collect();
        map(true, &items, |&i| if i == 63 { panic!("boom") } else { i });
    }
}
