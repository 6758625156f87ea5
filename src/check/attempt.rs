//! One attempt's deadline and the phase it is in, shared between the thread
//! that runs the check and the one that waits for it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Attempt {
    deadline: Instant,
    phase: Arc<Mutex<&'static str>>,
}

impl Attempt {
    pub fn new(deadline: Instant) -> Attempt {
        Attempt {
            deadline,
            phase: Arc::new(Mutex::new("before starting")),
        }
    }

    /// Records the phase; a timeout reports "timed out " + this text, so
    /// write it to follow: "while resolving the name", "while connecting",
    /// "during the TLS handshake", "waiting for the reply".
    pub fn phase(&self, text: &'static str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = text;
        }
    }

    pub fn current_phase(&self) -> &'static str {
        self.phase.lock().map(|p| *p).unwrap_or("")
    }

    /// Time left before the deadline (at least 1 ms, so it can be handed to
    /// socket APIs that reject zero).
    pub fn remaining(&self) -> Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    /// Whether the deadline has passed (within the 1 ms a socket timeout
    /// may round to).
    pub fn passed(&self) -> bool {
        self.deadline.saturating_duration_since(Instant::now()) < Duration::from_millis(1)
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}
