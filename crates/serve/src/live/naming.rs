//! Live ids of incidents: which incident of a new answer is which one already
//! seen (and paged for), so that a console, an alert and a ticket keep one name
//! as an incident grows, merges or a reader behind the stream catches up.

use vigie_scope::Scope;

/// An incident already seen: its live id and the entities it had.
///
/// Why live ids: the scope numbers its incidents by severity (`INC-1` is
/// the main one), so a number changes when another incident grows. A
/// console, an alert and a ticket need a name that stays: an incident
/// keeps its live id as it grows (it shares a host or an account with
/// what it was); when two merge, the merged one keeps the older id.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Known {
    pub id: String,
    pub entities: std::collections::BTreeSet<String>,
}

/// Names each incident of `scope` with a live id: the known incident
/// sharing most of its hosts and accounts (the oldest on a tie), each
/// known id used once; otherwise a new one. Pure: `known` is updated.
pub fn name_incidents(scope: &Scope, known: &mut Vec<Known>, tenant_prefix: &str) -> Vec<String> {
    let mut kept: Vec<vigie_state::KnownIncident> = std::mem::take(known)
        .into_iter()
        .map(|k| (k.id, k.entities))
        .collect();
    let named = name_kept(scope, &mut kept, tenant_prefix);
    *known = kept
        .into_iter()
        .map(|(id, entities)| Known { id, entities })
        .collect();
    named
}

/// [`name_incidents`] on the incidents as a store keeps them (what
/// [`vigie_store::live::IncidentIds::name`] hands over under the tenant's
/// lock).
pub fn name_kept(
    scope: &Scope,
    known: &mut Vec<vigie_state::KnownIncident>,
    tenant_prefix: &str,
) -> Vec<String> {
    let entities = |i: &vigie_scope::model::Incident| -> std::collections::BTreeSet<String> {
        i.hosts
            .iter()
            .map(|h| format!("host:{}", h.name.to_ascii_lowercase()))
            .chain(
                i.accounts
                    .iter()
                    .map(|a| format!("account:{}", a.name.to_ascii_lowercase())),
            )
            .collect()
    };
    let incidents: Vec<_> = scope
        .incidents
        .iter()
        .map(|i| {
            (
                entities(i),
                i.first.timestamp_millis(),
                i.last.timestamp_millis(),
            )
        })
        .collect();
    name_spans(&incidents, known, tenant_prefix)
}

/// [`name_kept`] on each incident's entities and first time (ms).
///
/// The oldest incidents choose first: a host's incident of Monday keeps
/// its id when the one of Thursday on the same host grows larger (by
/// detections the larger chose first, and took the older's id).
///
/// A reading older than the naming kept (an api node behind the other on
/// the stream) may hold as two incidents what the other already merged:
/// a part whose hosts and accounts all belong to an incident already
/// named this time, and that shares none with the parts already given
/// its id, is given that id — adopted, never split off under a new id
/// (and paged for). Two incidents of the scope that share a host or an
/// account were kept apart by the scope itself (by time: the same host
/// attacked again days later): never one id. A part with a host or
/// account the kept naming never saw with the others is named anew.
///
/// An id made for an incident keeps that incident's first time: it is
/// never given to an incident that ended before it (an older incident
/// arriving late, e.g. a laptop shipping days of buffered logs), nor to
/// another while the incident it was made for is in this reading; and
/// the incident an id retired into another was made for, seen apart by a
/// reader behind the merge, is named with the id it went into.
pub fn name_sets(
    incidents: &[(std::collections::BTreeSet<String>, i64)],
    known: &mut Vec<vigie_state::KnownIncident>,
    tenant_prefix: &str,
) -> Vec<String> {
    let spans: Vec<_> = incidents
        .iter()
        .map(|(e, first)| (e.clone(), *first, *first))
        .collect();
    name_spans(&spans, known, tenant_prefix)
}

/// [`name_sets`] on each incident's entities, first and last times (ms):
/// the span tells a merge from a reading behind (see the retirement
/// below).
pub fn name_spans(
    incidents: &[(std::collections::BTreeSet<String>, i64, i64)],
    known: &mut Vec<vigie_state::KnownIncident>,
    tenant_prefix: &str,
) -> Vec<String> {
    // Per known incident, the times spanned by the incidents given its id
    // in this naming.
    let mut span: Vec<Option<(i64, i64)>> = vec![None; known.len()];
    let mut used = vec![false; known.len()];
    // Per known incident, the entities of the incidents given its id in
    // this naming.
    let mut given: Vec<std::collections::BTreeSet<String>> = vec![Default::default(); known.len()];
    // Per known incident, what it held before this naming.
    let mut before: Vec<std::collections::BTreeSet<String>> =
        known.iter().map(|k| k.1.clone()).collect();
    let mut order: Vec<usize> = (0..incidents.len()).collect();
    order.sort_by_key(|&i| (incidents[i].1, i));
    // Per known incident, the incident of this naming it was made for:
    // one starting at its first time and sharing one of its hosts or
    // accounts; no other takes it, even one named before. Ids made for
    // the same first time each reserve their own while there are enough,
    // the closest pairs first (most entities shared for the entities of
    // both; then the oldest incident, the older id): an incident seen
    // whole, then as two parts starting together (retention removed the
    // events that linked them), names its parts the same way at every
    // reading, whichever part is listed first — neither both ids reserved
    // for one part (the other's id retired, a new one paged) nor ids
    // swapped when the parts' severities change. An id left without one
    // of its own reserves the oldest it shares with (a merge of two ids
    // made at the same time: the merged incident, for both).
    let position: Vec<usize> = {
        let mut p = vec![0; incidents.len()];
        for (n, &i) in order.iter().enumerate() {
            p[i] = n;
        }
        p
    };
    let mut pairs: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (k, kn) in known.iter().enumerate() {
        // A retired id reserves nothing: it is named through the one it
        // went into.
        let Some(at) = made_at(&kn.1).filter(|_| !retired(&kn.1)) else {
            continue;
        };
        let own = kn.1.iter().filter(|e| !is_mark(e)).count();
        for (i, (e, first, _)) in incidents.iter().enumerate() {
            if *first != at {
                continue;
            }
            let shared = kn.1.iter().filter(|x| e.contains(*x)).count();
            if shared > 0 {
                pairs.push((k, i, shared, own + e.len() - shared));
            }
        }
    }
    // Closest first: shared/union compared without division.
    pairs.sort_by(|a, b| {
        (b.2 * a.3)
            .cmp(&(a.2 * b.3))
            .then(position[a.1].cmp(&position[b.1]))
            .then(a.0.cmp(&b.0))
    });
    let mut reserved: Vec<Option<usize>> = vec![None; known.len()];
    let mut taken = vec![false; incidents.len()];
    for &(k, i, _, _) in &pairs {
        if reserved[k].is_none() && !taken[i] {
            reserved[k] = Some(i);
            taken[i] = true;
        }
    }
    for (k, r) in reserved.iter_mut().enumerate().filter(|(_, r)| r.is_none()) {
        *r = pairs
            .iter()
            .filter(|p| p.0 == k)
            .map(|p| p.1)
            .min_by_key(|&j| position[j]);
    }
    let mut named = vec![String::new(); incidents.len()];
    for i in order {
        let (e, first, last) = (&incidents[i].0, incidents[i].1, incidents[i].2);
        let spanned = |s: Option<(i64, i64)>| {
            Some(s.map_or((first, last), |(a, b)| (a.min(first), b.max(last))))
        };
        let first_mark = format!("{FIRST_AT}{first}");
        // The id first given to an incident of this first time, before
        // the one sharing most: two incidents of one host kept apart by
        // time that grow over each other's hosts keep their ids.
        // Never an id made for a later incident to one that ended before
        // it began (an older incident arriving late — a laptop shipping
        // days of logs — kept apart by time: it would take the id already
        // paged, and the later incident be paged again as new).
        let best = known
            .iter()
            .enumerate()
            .filter(|(k, kn)| {
                !used[*k]
                    && !retired(&kn.1)
                    && reserved[*k].is_none_or(|r| r == i)
                    && made_at(&kn.1).is_none_or(|at| last >= at)
            })
            .map(|(k, kn)| {
                let shared = kn.1.intersection(e).count();
                (kn.1.contains(&first_mark) && shared > 0, shared, k)
            })
            .filter(|(_, shared, _)| *shared > 0)
            .max_by_key(|(same_first, shared, k)| (*same_first, *shared, std::cmp::Reverse(*k)));
        if let Some((_, _, k)) = best {
            used[k] = true;
            given[k].extend(e.iter().cloned());
            span[k] = spanned(span[k]);
            known[k].1.extend(e.iter().cloned());
            named[i] = known[k].0.clone();
            continue;
        }
        // A part of an incident the kept naming already holds whole (a
        // reader behind the one that merged it): its id, nothing kept.
        let whole = known
            .iter()
            .enumerate()
            .filter(|(k, kn)| {
                !e.is_empty()
                    && !retired(&kn.1)
                    && e.is_subset(&kn.1)
                    && given[*k].is_disjoint(e)
                    && reserved[*k].is_none_or(|r| r == i || incidents[r].0.is_disjoint(e))
            })
            .max_by_key(|(k, kn)| (kn.1.len(), std::cmp::Reverse(*k)))
            .map(|(k, _)| k);
        // Or the incident an id retired into another was made for, seen
        // apart by a reader behind the one that saw them merge: the id it
        // was merged into (a new one would be paged, then said merged).
        let whole = whole.or_else(|| {
            let r = known.iter().position(|kn| {
                retired(&kn.1)
                    && made_at(&kn.1).is_some_and(|at| first <= at && at <= last)
                    && kn.1.iter().any(|x| e.contains(x))
            })?;
            let k = merged_end(known, r)?;
            (!e.is_empty() && e.is_subset(&known[k].1)).then_some(k)
        });
        if let Some(k) = whole {
            given[k].extend(e.iter().cloned());
            span[k] = spanned(span[k]);
            named[i] = known[k].0.clone();
            continue;
        }
        let id = format!("{tenant_prefix}{}", known.len() + 1);
        let mut kept = e.clone();
        kept.insert(first_mark);
        known.push((id.clone(), kept));
        used.push(true);
        before.push(Default::default());
        span.push(Some((first, last)));
        given.push(e.clone());
        named[i] = id;
    }
    // A known incident no incident took, whose hosts and accounts one
    // incident now holds under another id, was merged into it — when
    // this naming shows it: the taker holds some of them only since now,
    // or spans the time `k` was made for (its detections are the
    // taker's). Retired then, so that a later incident sharing an account
    // with it is not given its id (that incident would be compared with
    // the merged one's last page, and never paged as new). Otherwise this
    // reading is only behind the one that named `k` (an api node that has
    // not yet seen `k`'s incident: Monday's alone, Thursday's id unused):
    // `k` is kept.
    for k in 0..known.len() {
        let own: std::collections::BTreeSet<&String> =
            known[k].1.iter().filter(|e| !is_mark(e)).collect();
        if used[k] || retired(&known[k].1) || own.is_empty() {
            continue;
        }
        let made_at = made_at(&known[k].1);
        let into = (0..known.len()).find(|&j| {
            j != k
                && !given[j].is_empty()
                && own.iter().all(|e| given[j].contains(*e))
                && (own.iter().any(|e| !before[j].contains(*e))
                    || made_at
                        .zip(span[j])
                        .is_some_and(|(t, (a, b))| a <= t && t <= b))
        });
        if let Some(j) = into {
            let mark = format!("{MERGED_INTO}{}", known[j].0);
            known[k].1.insert(mark);
        }
    }
    named
}

/// The mark of a live id retired by a merge, among its entities (never
/// an incident's own: theirs are `host:` and `account:`).
const MERGED_INTO: &str = "merged-into:";

/// The retired ids of `known` and where each went (its `merged-into:`
/// mark).
pub(super) fn merges(known: &[vigie_state::KnownIncident]) -> Vec<(String, String)> {
    known
        .iter()
        .filter_map(|(id, entities)| {
            let into = entities.iter().find_map(|e| e.strip_prefix(MERGED_INTO))?;
            Some((id.clone(), into.to_string()))
        })
        .collect()
}

fn retired(entities: &std::collections::BTreeSet<String>) -> bool {
    entities.iter().any(|e| e.starts_with(MERGED_INTO))
}

/// The known incident a retired id ended in, following merges of merges
/// (none if the chain leaves what is known or loops).
fn merged_end(known: &[vigie_state::KnownIncident], mut k: usize) -> Option<usize> {
    for _ in 0..=known.len() {
        let Some(into) = known[k].1.iter().find_map(|e| e.strip_prefix(MERGED_INTO)) else {
            return Some(k);
        };
        k = known.iter().position(|kn| kn.0 == into)?;
    }
    None
}

/// The first time (ms) of the incident a live id was made for (its
/// `first-at:` mark), if it has one.
fn made_at(entities: &std::collections::BTreeSet<String>) -> Option<i64> {
    entities
        .iter()
        .find_map(|e| e.strip_prefix(FIRST_AT)?.parse::<i64>().ok())
}

/// The mark of the first time (ms) of the incident a live id was made
/// for, among its entities: kept when the id is made, never changed (an
/// id kept before it has none, and is matched by what it shares only).
const FIRST_AT: &str = "first-at:";

/// A mark kept among a live id's entities, not a host or an account.
fn is_mark(e: &str) -> bool {
    e.starts_with(MERGED_INTO) || e.starts_with(FIRST_AT)
}

#[cfg(test)]
mod naming_tests {
    use super::name_sets;
    use std::collections::BTreeSet;

    fn set(e: &[&str]) -> BTreeSet<String> {
        e.iter().map(|s| s.to_string()).collect()
    }

    /// A node behind the other on the stream sees as two incidents what
    /// the other merged into L1: both parts are L1 there, no L2 given
    /// (nor kept); a part with an entity never named is a new incident.
    #[test]
    fn a_reader_behind_adopts_a_merged_incidents_id_and_never_splits_it() {
        // The node ahead merged pc-1 and srv-2 (one account links them).
        let mut known = vec![(
            "L1".to_string(),
            set(&["host:pc-1", "host:srv-2", "account:a.martin"]),
        )];
        let kept = known.clone();
        let behind = [
            (set(&["host:pc-1", "account:a.martin"]), 100),
            (set(&["host:srv-2"]), 200),
        ];
        assert_eq!(name_sets(&behind, &mut known, "L"), ["L1", "L1"]);
        assert_eq!(known, kept, "nothing new kept");
        let other = [
            (set(&["host:pc-1", "account:a.martin"]), 100),
            (set(&["host:srv-2", "host:pc-9"]), 200),
        ];
        assert_eq!(name_sets(&other, &mut known, "L"), ["L1", "L2"]);
        assert_eq!(
            known[1],
            (
                "L2".to_string(),
                set(&["host:srv-2", "host:pc-9", "first-at:200"])
            )
        );
    }

    /// A node behind the one that named Thursday's incident (it has not
    /// consumed it yet) sees Monday's alone: Thursday's id is unused there
    /// but nothing was merged — it stays, and the node ahead gives it to
    /// Thursday's incident again (not retired, not paged anew as L3).
    #[test]
    fn a_node_behind_never_retires_an_id_it_has_not_seen_yet() {
        let mut known = Vec::new();
        let monday = (set(&["host:pc-1", "account:alice"]), 1_000);
        let thursday = (set(&["host:pc-1"]), 300_000);
        let ahead = [monday.clone(), thursday.clone()];
        assert_eq!(name_sets(&ahead, &mut known, "L"), ["L1", "L2"]);
        let behind = [monday.clone()];
        assert_eq!(name_sets(&behind, &mut known, "L"), ["L1"]);
        assert!(
            !known[1].1.iter().any(|e| e.starts_with("merged-into:")),
            "{known:?}"
        );
        assert_eq!(name_sets(&ahead, &mut known, "L"), ["L1", "L2"]);
        assert_eq!(known.len(), 2);
    }

    /// Monday's and Thursday's incidents of one host, named apart, then
    /// one incident spanning both (an event between them): Thursday's id
    /// is retired into Monday's — a merge, though it brings no host or
    /// account new to Monday's id; a reading of Monday alone retires
    /// nothing (above).
    #[test]
    fn an_incident_spanning_an_ids_time_retires_it() {
        use super::name_spans;
        let mut known = Vec::new();
        let monday = (set(&["host:pc-1", "account:alice"]), 1_000, 2_000);
        let thursday = (set(&["host:pc-1", "account:alice"]), 300_000, 301_000);
        assert_eq!(
            name_spans(&[monday.clone(), thursday], &mut known, "L"),
            ["L1", "L2"]
        );
        assert_eq!(
            name_spans(std::slice::from_ref(&monday), &mut known, "L"),
            ["L1"]
        );
        assert!(!known[1].1.iter().any(|e| e.starts_with("merged-into:")));
        let both = (set(&["host:pc-1", "account:alice"]), 1_000, 301_000);
        assert_eq!(name_spans(&[both], &mut known, "L"), ["L1"]);
        assert!(known[1].1.contains("merged-into:L1"), "{known:?}");
    }

    /// An incident seen whole, then as two parts starting at the same time
    /// (retention removed the events that linked them): the second part
    /// is a new id once, and every later reading of the same parts gives
    /// the same ids — the second's is neither retired nor made again.
    #[test]
    fn parts_starting_together_keep_their_ids_at_every_reading() {
        use super::name_spans;
        let mut known = Vec::new();
        let whole = (
            set(&["host:pc-1", "host:srv-1", "host:dc-1", "account:alice"]),
            1_000,
            9_000,
        );
        assert_eq!(name_spans(&[whole], &mut known, "L"), ["L1"]);
        let parts = [
            (
                set(&["host:pc-1", "host:srv-1", "account:alice"]),
                1_000,
                9_000,
            ),
            (
                set(&["host:pc-1", "host:dc-1", "account:alice"]),
                1_000,
                8_000,
            ),
        ];
        assert_eq!(name_spans(&parts, &mut known, "L"), ["L1", "L2"]);
        for _ in 0..2 {
            assert_eq!(name_spans(&parts, &mut known, "L"), ["L1", "L2"]);
        }
        // Listed the other way round (their severities changed): no swap.
        let reversed = [parts[1].clone(), parts[0].clone()];
        assert_eq!(name_spans(&reversed, &mut known, "L"), ["L2", "L1"]);
        assert_eq!(known.len(), 2);
        assert!(
            !known
                .iter()
                .any(|k| k.1.iter().any(|e| e.starts_with("merged-into:"))),
            "{known:?}"
        );
    }

    /// An incident older than one already named arrives late (a laptop
    /// shipping days of buffered logs), on the same host and kept apart by
    /// time: it is a new id; the later incident keeps its own (not paged
    /// again, its triage not given to the other).
    #[test]
    fn an_older_incident_arriving_late_never_takes_a_later_ones_id() {
        use super::name_spans;
        let mut known = Vec::new();
        let monday = (
            set(&["host:pc-1", "account:alice"]),
            300_000_000,
            300_100_000,
        );
        assert_eq!(
            name_spans(std::slice::from_ref(&monday), &mut known, "L"),
            ["L1"]
        );
        let earlier = (set(&["host:pc-1"]), 1_000, 2_000);
        assert_eq!(
            name_spans(&[earlier.clone(), monday.clone()], &mut known, "L"),
            ["L2", "L1"]
        );
        // Two ids of one host: a late incident between them takes neither.
        let sunday = (set(&["host:pc-1", "account:bob"]), 900_000_000, 900_100_000);
        let wednesday = (set(&["host:pc-1", "account:bob"]), 500_000_000, 500_100_000);
        let mut known = Vec::new();
        assert_eq!(
            name_spans(&[monday.clone(), sunday.clone()], &mut known, "L"),
            ["L1", "L2"]
        );
        assert_eq!(
            name_spans(&[monday, wednesday, sunday], &mut known, "L"),
            ["L1", "L3", "L2"]
        );
    }

    /// The node ahead saw Monday's and Thursday's incidents merge (L2
    /// retired into L1); a node behind still sees them apart: Thursday's
    /// part is L1 there too — never a new id paged, then said merged.
    #[test]
    fn a_reader_behind_a_merge_names_the_later_part_with_the_merged_id() {
        use super::name_spans;
        let mut known = Vec::new();
        let monday = (set(&["host:pc-1", "account:alice"]), 1_000, 2_000);
        let thursday = (set(&["host:pc-1", "account:alice"]), 300_000, 301_000);
        let apart = [monday.clone(), thursday.clone()];
        assert_eq!(name_spans(&apart, &mut known, "L"), ["L1", "L2"]);
        let both = (set(&["host:pc-1", "account:alice"]), 1_000, 301_000);
        assert_eq!(name_spans(&[both], &mut known, "L"), ["L1"]);
        assert!(known[1].1.contains("merged-into:L1"), "{known:?}");
        assert_eq!(name_spans(&apart, &mut known, "L"), ["L1", "L1"]);
        assert_eq!(known.len(), 2);
        // A new attack on the host weeks later is still a new incident.
        let later = (set(&["host:pc-1", "account:alice"]), 9_000_000, 9_001_000);
        assert_eq!(
            name_spans(&[monday, thursday, later], &mut known, "L"),
            ["L1", "L1", "L3"]
        );
    }

    /// Monday's and Thursday's incidents of one host, kept apart by time,
    /// each grow over the other's hosts and accounts: Monday's now shares
    /// more with Thursday's id than with its own — ids kept all the same
    /// (each id knows the first time of the incident it was given to).
    #[test]
    fn incidents_growing_over_each_other_keep_their_ids() {
        let mut known = Vec::new();
        let monday = (set(&["host:pc-1", "account:alice"]), 1_000);
        let thursday = (set(&["host:pc-1", "host:srv-2", "account:bob"]), 300_000);
        assert_eq!(
            name_sets(&[monday, thursday.clone()], &mut known, "L"),
            ["L1", "L2"]
        );
        let monday_grown = (
            set(&["host:pc-1", "account:alice", "host:srv-2", "account:bob"]),
            1_000,
        );
        assert_eq!(
            name_sets(&[monday_grown.clone(), thursday.clone()], &mut known, "L"),
            ["L1", "L2"]
        );
        // Listed the other way round too, and again once the sets kept are
        // the same.
        assert_eq!(
            name_sets(&[thursday, monday_grown], &mut known, "L"),
            ["L2", "L1"]
        );
        assert_eq!(known.len(), 2);
    }

    /// The same host attacked again days later: the scope keeps two
    /// incidents (split by time), so two ids — the new one never takes
    /// the old one's (it would not be paged, and would show the old one's
    /// triage); and each keeps its id when the newer grows larger.
    #[test]
    fn a_host_attacked_again_is_a_new_incident_and_ids_never_swap() {
        let mut known = vec![("L1".to_string(), set(&["host:pc-1", "account:alice"]))];
        let monday = set(&["host:pc-1", "account:alice"]);
        let thursday = set(&["host:pc-1"]);
        let both = [(monday.clone(), 1_000), (thursday.clone(), 300_000)];
        assert_eq!(name_sets(&both, &mut known, "L"), ["L1", "L2"]);
        // Listed the other way round (as by severity), the same ids.
        let swapped = [(thursday.clone(), 300_000), (monday.clone(), 1_000)];
        assert_eq!(name_sets(&swapped, &mut known, "L"), ["L2", "L1"]);
        // Thursday's grows over Monday's hosts and more: ids kept.
        let grown = set(&["host:pc-1", "account:alice", "host:srv-2"]);
        let later = [(grown, 300_000), (monday, 1_000)];
        assert_eq!(name_sets(&later, &mut known, "L"), ["L2", "L1"]);
        assert_eq!(known.len(), 2);
    }

    /// Two incidents merged into one: the id left over is retired, and a
    /// new incident of an account they shared (on a host never seen) is a
    /// new one — paged as new, not as an update of the merged one.
    #[test]
    fn a_merged_id_is_retired_never_given_to_a_new_incident() {
        let mut known = Vec::new();
        let apart = [
            (set(&["host:dc01", "account:adm.tech01"]), 1_000),
            (set(&["host:srv-bkp01", "account:adm.tech01"]), 2_000),
        ];
        // Apart by time at first (the scope split them), then merged.
        assert_eq!(name_sets(&apart, &mut known, "L"), ["L1", "L2"]);
        let merged = [(
            set(&["host:dc01", "host:srv-bkp01", "account:adm.tech01"]),
            1_000,
        )];
        assert_eq!(name_sets(&merged, &mut known, "L"), ["L1"]);
        assert!(known[1].1.contains("merged-into:L1"), "{known:?}");
        let new = [
            (
                set(&["host:dc01", "host:srv-bkp01", "account:adm.tech01"]),
                1_000,
            ),
            (set(&["host:pc-urba-01", "account:adm.tech01"]), 9_000),
        ];
        assert_eq!(name_sets(&new, &mut known, "L"), ["L1", "L3"]);
    }
}
