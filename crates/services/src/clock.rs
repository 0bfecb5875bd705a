//! Time as a dependency, so tests control it (lockout, idle timeout, SLA).

use std::sync::Mutex;

pub trait Clock: Send + Sync {
    fn now(&self) -> jiff::Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that only moves when told (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<jiff::Timestamp>);

impl ManualClock {
    pub fn new(at: jiff::Timestamp) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn advance(&self, d: jiff::SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += d;
    }

    pub fn set(&self, at: jiff::Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
