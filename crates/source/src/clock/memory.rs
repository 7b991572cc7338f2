//! Offsets learned per computer, carried from one read to the next (see
//! the [`super`] module doc: a live stream is read a request at a time,
//! often one event each, too little evidence for an offset).

use std::collections::HashMap;

/// Computers a [`ClockMemory`] remembers at most (memory bound); past it,
/// new computers are not learned (their records fall back on what their
/// own read shows, as without memory).
pub const MEMORY_HOSTS: usize = 65_536;

/// Offsets learned per computer, carried from one read to the next (see
/// the module doc). Cloning shares the memory; [`ClockMemory::scoped`]
/// gives a view whose computers are apart from other scopes' (a commune's
/// `DC01` is not another commune's).
#[derive(Debug, Clone, Default)]
pub struct ClockMemory {
    learned: std::sync::Arc<std::sync::Mutex<HashMap<String, i32>>>,
    scope: String,
    /// Times the shared memory was taken (read or written), counted for
    /// the test that a read takes it per computer, not per record.
    #[cfg(test)]
    pub(super) taken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl PartialEq for ClockMemory {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.learned, &other.learned) && self.scope == other.scope
    }
}

impl ClockMemory {
    /// An empty memory.
    pub fn new() -> ClockMemory {
        ClockMemory::default()
    }

    /// The same memory seen under `scope` (a tenant).
    pub fn scoped(&self, scope: &str) -> ClockMemory {
        ClockMemory {
            learned: self.learned.clone(),
            scope: scope.to_string(),
            #[cfg(test)]
            taken: self.taken.clone(),
        }
    }

    fn key(&self, computer: &str) -> String {
        format!("{}\u{0}{}", self.scope, computer.to_ascii_lowercase())
    }

    /// The offset learned for `computer` (quarter-hours, doubtful − UTC).
    pub(super) fn get(&self, computer: &str) -> Option<i32> {
        if computer.is_empty() {
            return None;
        }
        #[cfg(test)]
        self.taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let m = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&self.key(computer)).copied()
    }

    /// Learns `bin` for `computer`; the latest evidence wins (a
    /// daylight-saving change moves it). Whether it is remembered (not
    /// when full, nor for a record without a computer name).
    pub(super) fn set(&self, computer: &str, bin: i32) -> bool {
        // Records without a computer name are no one sender.
        if computer.is_empty() {
            return false;
        }
        #[cfg(test)]
        self.taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = self.key(computer);
        let mut m = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < MEMORY_HOSTS || m.contains_key(&key) {
            m.insert(key, bin);
            return true;
        }
        false
    }

    /// Computers remembered (all scopes).
    pub fn len(&self) -> usize {
        self.learned.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
