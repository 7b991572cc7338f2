//! Deterministic detection ids.
//!
//! Why: a worker killed after writing its detections but before
//! committing its position gets the same events again; writing the same
//! detection under the same id (an upsert) is what keeps "no detection
//! lost, none doubled" true without any coordination between workers.

use sha2::{Digest, Sha256};

/// What identifies an event across deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIdentity<'a> {
    /// Windows-style: the computer, the channel and the record id.
    Record {
        computer: &'a str,
        channel: &'a str,
        record_id: u64,
    },
    /// No record id (syslog, most JSON): the event's bytes as received.
    Content(&'a [u8]),
}

/// The id of the detection of `rule_id` on the event `event`, for
/// `tenant`: 32 hexadecimal digits (128 bits of SHA-256).
pub fn detection_id(tenant: &str, rule_id: &str, event: EventIdentity<'_>) -> String {
    let mut h = Sha256::new();
    // Length-prefixed parts: no two different inputs give the same bytes.
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    part(tenant.as_bytes());
    part(rule_id.as_bytes());
    match event {
        EventIdentity::Record {
            computer,
            channel,
            record_id,
        } => {
            part(b"record");
            part(computer.to_ascii_lowercase().as_bytes());
            part(channel.to_ascii_lowercase().as_bytes());
            part(&record_id.to_le_bytes());
        }
        EventIdentity::Content(bytes) => {
            part(b"content");
            part(bytes);
        }
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_event_same_id_and_every_part_counts() {
        let rec = |c: &'static str, ch: &'static str, r| EventIdentity::Record {
            computer: c,
            channel: ch,
            record_id: r,
        };
        let a = detection_id("default", "r1", rec("PC-01", "Security", 7));
        assert_eq!(a.len(), 32);
        // Host names arrive in either case from different shippers.
        assert_eq!(
            a,
            detection_id("default", "r1", rec("pc-01", "security", 7))
        );
        for other in [
            detection_id("mairie-b", "r1", rec("PC-01", "Security", 7)),
            detection_id("default", "r2", rec("PC-01", "Security", 7)),
            detection_id("default", "r1", rec("PC-02", "Security", 7)),
            detection_id("default", "r1", rec("PC-01", "System", 7)),
            detection_id("default", "r1", rec("PC-01", "Security", 8)),
            detection_id("default", "r1", EventIdentity::Content(b"PC-01")),
        ] {
            assert_ne!(a, other);
        }
        // Parts cannot slide into each other.
        assert_ne!(
            detection_id("ab", "c", EventIdentity::Content(b"x")),
            detection_id("a", "bc", EventIdentity::Content(b"x"))
        );
    }
}
