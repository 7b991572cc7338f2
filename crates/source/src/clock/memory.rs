//! Offsets learned per computer, carried from one read to the next (see
//! the [`super`] module doc: a live stream is read a request at a time,
//! often one event each, too little evidence for an offset).

use std::collections::HashMap;

/// Computers a [`ClockMemory`] remembers at most per scope (a tenant:
/// one commune's made-up `Computer` names never stop another's from being
/// learned); past it, new computers of that scope are not learned (their
/// records fall back on what their own read shows, as without memory).
pub const MEMORY_HOSTS: usize = 16_384;

/// A computer's name kept at most this long (a DNS name is at most 253
/// bytes): a longer one is hostile or damaged, and learned under its
/// first bytes rather than kept whole.
const NAME_BYTES: usize = 255;

/// Offsets learned per computer, carried from one read to the next (see
/// the module doc). Cloning shares the memory; [`ClockMemory::scoped`]
/// gives a view whose computers are apart from other scopes' (a commune's
/// `DC01` is not another commune's).
#[derive(Debug, Clone, Default)]
pub struct ClockMemory {
    learned: std::sync::Arc<std::sync::Mutex<HashMap<String, HashMap<String, i32>>>>,
    scope: String,
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
        }
    }

    fn key(computer: &str) -> String {
        let mut end = computer.len().min(NAME_BYTES);
        while !computer.is_char_boundary(end) {
            end -= 1;
        }
        computer[..end].to_ascii_lowercase()
    }

    /// The offset learned for `computer` (quarter-hours, doubtful − UTC).
    pub(super) fn get(&self, computer: &str) -> Option<i32> {
        if computer.is_empty() {
            return None;
        }
        let key = Self::key(computer);
        let m = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&self.scope)?.get(&key).copied()
    }

    /// Learns `bin` for `computer`; the latest evidence wins (a
    /// daylight-saving change moves it).
    pub(super) fn set(&self, computer: &str, bin: i32) {
        // Records without a computer name are no one sender.
        if computer.is_empty() {
            return;
        }
        let key = Self::key(computer);
        let mut m = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        let scope = m.entry(self.scope.clone()).or_default();
        if scope.len() < MEMORY_HOSTS || scope.contains_key(&key) {
            scope.insert(key, bin);
        }
    }

    /// Computers remembered (all scopes).
    pub fn len(&self) -> usize {
        let m = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        m.values().map(HashMap::len).sum()
    }

    /// Whether nothing is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One commune sending made-up computer names fills its own share, not
    /// another's; a very long name is kept by its first bytes.
    #[test]
    fn a_scope_full_of_names_never_stops_another_from_learning() {
        let memory = ClockMemory::new();
        let noisy = memory.scoped("noisy");
        for i in 0..MEMORY_HOSTS + 10 {
            noisy.set(&format!("fake-{i}"), 4);
        }
        assert_eq!(memory.len(), MEMORY_HOSTS);
        assert_eq!(noisy.get("fake-0"), Some(4));
        assert_eq!(noisy.get(&format!("fake-{}", MEMORY_HOSTS + 5)), None);
        let quiet = memory.scoped("quiet");
        quiet.set("DC01", 8);
        assert_eq!(quiet.get("dc01"), Some(8));
        assert_eq!(noisy.get("dc01"), None);
        let long = "é".repeat(1_000);
        quiet.set(&long, 2);
        assert_eq!(quiet.get(&long), Some(2));
        assert_eq!(memory.len(), MEMORY_HOSTS + 2);
    }
}
