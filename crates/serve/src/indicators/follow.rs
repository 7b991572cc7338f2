//! With `--db`: the indicators kept in PostgreSQL followed by every node
//! (an upload on one api node matched by every detect worker).

use std::collections::BTreeMap;

use super::{held_of, swap, Held, Intel, SourceInfo};
use crate::Shared;

/// The sources kept in PostgreSQL, read again from their bytes; one that
/// does not read is said (it stays in the database), never dropped
/// silently.
pub(super) fn held_of_shared(sources: &[vigie_db::IndicatorSource]) -> BTreeMap<String, Held> {
    let mut held = BTreeMap::new();
    for source in sources {
        match serde_json::from_str::<SourceInfo>(&source.info) {
            Ok(info) => {
                held.insert(source.name.clone(), held_of(info, &source.src));
            }
            Err(e) => eprintln!(
                "vigie serve: indicators: source {} in PostgreSQL: {e} (not applied; left as it is)",
                source.name
            ),
        }
    }
    held
}

/// How often a node asks PostgreSQL whether the indicators changed.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Intel {
    /// Whether the sources are PostgreSQL's (`--db`).
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// After this node's own write of the sources (made `version`, held
    /// and applied, under the sources' lock): when it is the one version
    /// after the one followed, the follower has nothing to read again;
    /// otherwise another node wrote in between and the follower reads
    /// everything, as it must.
    pub(super) fn own_write(&self, version: Option<i64>) {
        if let (Some((_, seen)), Some(v)) = (&self.shared, version) {
            let _ = seen.compare_exchange(
                v - 1,
                v,
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
            );
        }
    }
}

/// With `--db`, for as long as the server runs: when the indicators'
/// version in PostgreSQL moved (an upload or a removal on any node), the
/// sources are read again and the matcher swapped, as an upload here
/// does. PostgreSQL unreachable is said once, and its return.
pub(crate) async fn follow_shared(s: Shared) {
    let Some((db, seen)) = &s.intel.shared else {
        return;
    };
    let mut down = false;
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let moved = match db.version().await {
            Ok(v) => v != seen.load(std::sync::atomic::Ordering::Acquire),
            Err(e) => {
                if !down {
                    eprintln!("vigie serve: indicators: {e} (the matcher held goes on; asked again every {} s)", FOLLOW_EVERY.as_secs());
                }
                down = true;
                continue;
            }
        };
        if down {
            eprintln!("vigie serve: indicators: {} answers again", db.place());
            down = false;
        }
        if !moved {
            continue;
        }
        // Under the sources' lock: an upload here waits, then sees them.
        let mut held = s.intel.held.lock().await;
        let (version, sources) = match db.all().await {
            Ok(all) => all,
            Err(e) => {
                eprintln!("vigie serve: indicators: {e}");
                continue;
            }
        };
        // Every source imported again: CPU work, off the async threads.
        *held = match tokio::task::spawn_blocking(move || held_of_shared(&sources)).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("vigie serve: indicators: version {version} not read: {e}");
                continue;
            }
        };
        match swap(&s, &held).await {
            Ok(()) => {
                seen.store(version, std::sync::atomic::Ordering::Release);
                eprintln!(
                    "vigie serve: indicators: version {version} from {}: {} source(s), {} indicator(s) applied",
                    db.place(),
                    held.len(),
                    held.values().map(|h| h.indicators.len()).sum::<usize>()
                );
            }
            Err(e) => eprintln!("vigie serve: indicators: version {version} not applied: {e}"),
        }
    }
}
