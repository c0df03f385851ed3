//! Running independent work items on every core (hashing files, parsing and signing
//! roles, writing files), with `std::thread::scope` and no thread pool crate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Worker threads for CPU-bound work: the available parallelism.
pub fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Worker threads for work that mostly waits on the filesystem: a few per core, so that
/// one thread's slow `fsync` or `create` does not idle a core.
pub fn io_threads() -> usize {
    (cpu_threads() * 4).clamp(4, 32)
}

/// Applies `f` to every item on up to `threads` threads and returns the results in the
/// order of `items`. Items are handed out one at a time, so uneven work balances itself.
/// With one item or one thread everything runs on the calling thread.
pub fn map<T, R, F>(items: Vec<T>, threads: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let n = items.len();
    let threads = threads.min(n).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let inputs: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let outputs: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let item = inputs[i].lock().ok().and_then(|mut slot| slot.take());
                if let Some(item) = item {
                    let r = f(item);
                    if let Ok(mut slot) = outputs[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    outputs
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

/// Like [`map`] for fallible work: the first error (in item order) wins.
pub fn try_map<T, R, E, F>(items: Vec<T>, threads: usize, f: F) -> Result<Vec<R>, E>
where
    T: Send,
    R: Send,
    E: Send,
    F: Fn(T) -> Result<R, E> + Sync,
{
    map(items, threads, f).into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u64> = (0..1000).collect();
        let out = super::map(items, 4, |i| i * 2);
        assert_eq!(out.len(), 1000);
        assert!(out.iter().enumerate().all(|(i, v)| *v == 2 * i as u64));
        let err = super::try_map(
            (0..10).collect(),
            3,
            |i: u32| {
                if i >= 5 {
                    Err(i)
                } else {
                    Ok(i)
                }
            },
        );
        assert_eq!(err, Err(5));
    }
}
