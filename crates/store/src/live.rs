//! What the live half of `vigie serve` must not forget, and must agree on
//! when several api nodes serve one deployment: the incidents' live ids
//! ([`IncidentIds`]) and what the alerting told each destination
//! ([`AlertJournal`]).
//!
//! Why traits: a single commune keeps them in its `state.db` (crate
//! `vigie-state`); a CSIRT's api nodes behind a load balancer keep them in
//! PostgreSQL (crate `vigie-db`), so that an incident has one name on
//! every node (a console, an alert, a ticket and a crisis-cell notice say
//! the same `L3`) and the technician is paged once per incident, not once
//! per node. Both backends pass the same [`crate::conformance`] checks.
//!
//! Calls are blocking: the live scope names incidents and the alerter
//! sends from tokio's blocking pool.

use std::collections::{BTreeMap, BTreeSet};

use crate::Result;

/// One incident already named: its live id and the entities it had
/// (`host:NAME`, `account:NAME`, lower case).
pub type KnownIncident = (String, BTreeSet<String>);

/// What names a tenant's incidents, given those kept (see
/// [`IncidentIds::name`]). Owned and `Send`: a network backend runs it
/// where its transaction is (it is pure and quick).
pub type Naming = Box<dyn FnOnce(&mut Vec<KnownIncident>) -> Vec<String> + Send>;

/// What a naming changed of a tenant's incidents (`before` → `after`):
/// the positions whose entities grew or that were added — what a store
/// writes, rather than the whole list at each change. `None` when
/// `after` is not `before` grown (an id taken back or moved: never by
/// [`IncidentIds::name`]'s contract; a store then writes the list whole).
pub fn grown(before: &[KnownIncident], after: &[KnownIncident]) -> Option<Vec<usize>> {
    if after.len() < before.len() {
        return None;
    }
    let mut changed = Vec::new();
    for (pos, (b, a)) in before.iter().zip(after).enumerate() {
        if b.0 != a.0 || !b.1.is_subset(&a.1) {
            return None;
        }
        if b.1 != a.1 {
            changed.push(pos);
        }
    }
    changed.extend(before.len()..after.len());
    Some(changed)
}

/// The live incidents' ids, per tenant, in the order first seen.
///
/// What a tenant keeps grows by one row per incident the deployment ever
/// named for it (a live id is never given again, so a row is not pruned
/// when its incident leaves the live scope with its events): a commune's
/// few incidents a month, each row its hosts and accounts.
pub trait IncidentIds: Send + Sync {
    /// Where they are kept (for messages).
    fn place(&self) -> String;

    /// Every tenant's incidents, each tenant's in the order first seen.
    fn all(&self) -> Result<BTreeMap<String, Vec<KnownIncident>>>;

    /// Names `tenant`'s incidents: reads them as kept now (another node's
    /// namings included), lets `name` add incidents and entities, and
    /// keeps the outcome if it changed — in one transaction holding the
    /// tenant's lock, so that two nodes naming at once take turns and the
    /// second sees the first's ids. What `name` returned.
    ///
    /// `name` must only add (incidents at the end, entities to an
    /// incident): an id handed out is never taken back.
    fn name(&self, tenant: &str, name: Naming) -> Result<Vec<String>>;

    /// Brings in a node's ids of an earlier deployment (its `state.db`) for
    /// `tenant`, unless the tenant is already named here (then those
    /// stand: two sets of ids for one tenant cannot both be kept).
    /// Whether they were taken.
    fn import(&self, tenant: &str, known: &[KnownIncident]) -> Result<bool>;
}

/// One message of the alerting's journal, as the alerter keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub sink: String,
    pub tenant: String,
    pub live_id: String,
    pub delivered: bool,
    /// The record as JSON text.
    pub doc: String,
}

/// What is said of one incident to one destination: (sink, tenant, live
/// id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlertKey {
    pub sink: String,
    pub tenant: String,
    pub live_id: String,
}

/// The last message delivered for one key, and how many were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub key: AlertKey,
    /// Messages delivered for the key, by every node.
    pub count: u64,
    /// The last one's record (JSON text).
    pub doc: String,
    /// Seconds since it was delivered, by the store's clock.
    pub age_secs: i64,
}

/// The outcome of [`AlertJournal::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This node sends; [`AlertJournal::delivered`] or
    /// [`AlertJournal::release`] ends the claim.
    Won,
    /// Not this node's to send: another node holds the claim, or messages
    /// were delivered since the count the caller knew.
    Lost {
        /// The last delivery (`None`: none yet).
        last: Option<Delivered>,
        /// The node holding a claim now, if any.
        holder: Option<String>,
    },
}

/// The alerting's journal, the claims on messages and the silences said.
///
/// Why claims: two api nodes each derive the same incident from the same
/// stream; each would page the technician. Before sending, a node claims
/// the next message of the key (the count of messages delivered it
/// knows): one node wins, the others do not send. A claim is a lease: a
/// node that dies before sending leaves it to expire, and another node
/// sends the message then (never silently lost; at worst said twice when
/// a node died between sending and keeping the delivery).
pub trait AlertJournal: Send + Sync {
    fn place(&self) -> String;

    /// Appends one message of the journal; a delivered one moves its
    /// key's count and last delivery.
    fn append(&self, row: &AlertRow) -> Result<()>;

    /// The last message delivered per key, in no set order: what a start
    /// must not send again.
    fn last_delivered(&self) -> Result<Vec<Delivered>>;

    /// Every message kept, in order (for an operator and the tests).
    fn journal(&self) -> Result<Vec<AlertRow>>;

    /// Takes the right to send the next message of `key` — the one after
    /// `after` delivered — for `lease_secs`: won when no node holds a
    /// live claim and exactly `after` messages were delivered. A live
    /// claim of `node` itself is taken again: a node's name is kept in its
    /// data directory and one process holds that directory, so such a
    /// claim is a former process's (killed in its delivery), and its
    /// message is sent now rather than after the lease.
    fn claim(&self, key: &AlertKey, after: u64, node: &str, lease_secs: i64) -> Result<Claim>;

    /// `row` (delivered) kept, and `node`'s claim on its key ended, in one
    /// transaction. The key's count after.
    fn delivered(&self, row: &AlertRow, node: &str) -> Result<u64>;

    /// Lets go of `node`'s claim on `key` (the message was not delivered:
    /// any node may try it again).
    fn release(&self, key: &AlertKey, node: &str) -> Result<()>;

    /// The silences said: (sink, tenant, host, channel).
    fn silences(&self) -> Result<Vec<[String; 4]>>;

    /// Takes the right to say each silence for `lease_secs` (one node says
    /// a channel silent): per key, whether this node won. A silence
    /// already said, or claimed by another node's live claim, is not won.
    fn claim_silences(
        &self,
        keys: &[[String; 4]],
        node: &str,
        lease_secs: i64,
    ) -> Result<Vec<bool>>;

    /// Silences said (`said`, their claims ended) and channels that sent
    /// again (`ended`), in one transaction.
    fn silences_changed(&self, said: &[[String; 4]], ended: &[[String; 4]]) -> Result<()>;

    /// Lets go of `node`'s claims on silences not said.
    fn release_silences(&self, keys: &[[String; 4]], node: &str) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::{grown, KnownIncident};

    fn k(id: &str, e: &[&str]) -> KnownIncident {
        (id.into(), e.iter().map(|s| s.to_string()).collect())
    }

    /// Only what grew or was added is written; anything else (an id
    /// moved, an entity taken back) is written whole.
    #[test]
    fn a_naming_writes_what_grew_only() {
        let before = [k("L1", &["host:a"]), k("L2", &["host:b"])];
        assert_eq!(grown(&before, &before), Some(vec![]));
        let after = [
            k("L1", &["host:a"]),
            k("L2", &["host:b", "account:c"]),
            k("L3", &["host:d"]),
        ];
        assert_eq!(grown(&before, &after), Some(vec![1, 2]));
        assert_eq!(grown(&before, &[k("L1", &["host:a"])]), None);
        assert_eq!(
            grown(&before, &[k("L2", &["host:b"]), k("L1", &["host:a"])]),
            None
        );
        assert_eq!(grown(&before, &[k("L1", &[]), k("L2", &["host:b"])]), None);
    }
}
