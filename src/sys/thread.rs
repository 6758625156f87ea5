//! Starting threads without disturbing berth's signal mask.
//!
//! Two rules meet here, so every thread berth starts goes through `spawn`:
//! - a new thread blocks every handled signal, so a signal meant for berth is
//!   never delivered to a worker (under `run` and `wait` the main thread reads
//!   them from its signalfd; under `check` the main thread takes the default
//!   action);
//! - musl unblocks its own signals 32-34 in the calling thread when it starts
//!   the first thread (and around `posix_spawn`), so the caller's mask is put
//!   back exactly as it was afterwards.

use std::thread::JoinHandle;

use super::signals;

/// Starts `f` on a new named thread with every handled signal blocked.
pub fn spawn<F, T>(name: &str, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    signals::keeping_mask(|| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                signals::block_handled();
                f()
            })
    })
}
