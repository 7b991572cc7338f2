//! One feed's loop: the version held read back at start, a poll every
//! `--ioc-poll` (the lease taken first when several nodes share
//! PostgreSQL), a new version kept and matched, a failure said, counted
//! and tried again sooner (after [`RETRY`], doubling up to the interval).

use super::*;

pub(super) async fn poll_one(s: Shared, feed: Feed, every: Duration) {
    let name = feed.name();
    let shown = feed.shown();
    let agent = match vigie_intel::http::agent_trusting(feed.ca.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
            s.intel.feeds.last(&feed, "failed", 0, 0, Some(&e));
            eprintln!("vigie serve: feed {shown}: ca: {e}; not polled");
            return;
        }
    };
    // What the kept version holds (a MISP feed's events, a TAXII
    // collection's objects): a poll fetches only what changed since.
    // Without `--db`, the version kept in `state.db`.
    // With `--db`, it is read when this node takes the lease, and again
    // whenever another node kept a version since (else a node taking a
    // feed over would resume from the other's `added_after` onto its own
    // stale objects and write a version without what the other fetched).
    let db = s.intel.shared.as_ref().map(|(db, _)| db.clone());
    let kind = feed.kind();
    let mut memory = match &db {
        Some(_) => Memory::default(),
        None => {
            let kept = match &s.intel.embedded {
                Some(store) => store.src(&name).await.unwrap_or_else(|e| {
                    eprintln!(
                        "vigie serve: feed {shown}: the version kept not read ({e}): fetched whole"
                    );
                    None
                }),
                None => None,
            };
            tokio::task::spawn_blocking(move || {
                kept.map(|b| remembered(kind, &b)).unwrap_or_default()
            })
            .await
            .unwrap_or_default()
        }
    };
    // The version of the source `memory` holds (`Some(None)`: read, none
    // kept); `None`: not read yet.
    let mut held: Option<Option<i64>> = None;
    let mut retry = RETRY;
    let mut said_waiting = false;
    loop {
        // With `--db`: one detect node polls a feed at a time, when it is
        // due; the others read its version as they read uploads.
        let leased = match &db {
            None => false,
            Some(db) => match db.lease_feed(&name, holder(), LEASE_SECS).await {
                Ok(vigie_db::FeedLease::Taken(polled)) => {
                    // The source as kept now, when another node kept it
                    // since this one read or wrote it. A database error
                    // is a failed poll, never "nothing held".
                    let reread = match db.src_version(&name).await {
                        Ok(v) if held == Some(v) => Ok(None),
                        Ok(v) => db.src(&name).await.map(|src| Some((v, src))),
                        Err(e) => Err(e),
                    };
                    match reread {
                        Ok(None) => {}
                        Ok(Some((v, src))) => {
                            memory = tokio::task::spawn_blocking(move || {
                                src.map(|b| remembered(kind, &b)).unwrap_or_default()
                            })
                            .await
                            .unwrap_or_default();
                            held = Some(v);
                        }
                        Err(e) => {
                            let e = format!("its version kept in PostgreSQL: {e}");
                            s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
                            s.intel.feeds.last(&feed, "failed", 0, 0, Some(&e));
                            eprintln!(
                                "vigie serve: feed {shown}: {e}; polled again in {} s",
                                RETRY.min(every).as_secs()
                            );
                            tokio::time::sleep(RETRY.min(every)).await;
                            continue;
                        }
                    }
                    // What the last poll learnt, whichever node made it:
                    // an unchanged feed is a `304`, not a new download.
                    memory.validators = Validators {
                        etag: polled.etag,
                        last_modified: polled.last_modified,
                    };
                    if let Some(t) = polled.taxii.and_then(|t| serde_json::from_str(&t).ok()) {
                        memory.taxii = t;
                    }
                    said_waiting = false;
                    true
                }
                Ok(vigie_db::FeedLease::NotBefore(wait)) => {
                    if !said_waiting {
                        eprintln!("vigie serve: feed {shown}: polled by another node now (its version is read from PostgreSQL)");
                        said_waiting = true;
                    }
                    let wait = wait.clamp(1, every.as_secs().max(1) as i64);
                    tokio::time::sleep(Duration::from_secs(wait as u64)).await;
                    continue;
                }
                Err(e) => {
                    eprintln!("vigie serve: feed {shown}: its lease in PostgreSQL: {e}; asked again in {} s", RETRY.min(every).as_secs());
                    tokio::time::sleep(RETRY.min(every)).await;
                    continue;
                }
            },
        };
        s.intel.feeds.polls.fetch_add(1, Ordering::Relaxed);
        let fetched = {
            let (agent, feed, known) = (agent.clone(), feed.clone(), memory.snapshot());
            tokio::task::spawn_blocking(move || fetch(&agent, &feed, &known))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
        };
        let outcome: Result<(), String> = match fetched {
            Ok(Fetched::Unchanged { fetched, pages }) => {
                s.intel.feeds.not_modified.fetch_add(1, Ordering::Relaxed);
                s.intel
                    .feeds
                    .last(&feed, "not_modified", fetched, pages, None);
                Ok(())
            }
            Ok(Fetched::Changed {
                body,
                fetched,
                pages,
                remember,
            }) if s
                .intel
                .holds(&name, &hex(&sha2::Sha256::digest(&body)))
                .await =>
            {
                // The same bytes again (a server without validators).
                memory = *remember;
                s.intel.feeds.not_modified.fetch_add(1, Ordering::Relaxed);
                s.intel
                    .feeds
                    .last(&feed, "not_modified", fetched, pages, None);
                Ok(())
            }
            Ok(Fetched::Changed {
                body,
                fetched,
                pages,
                remember,
            }) => {
                let incoming = Incoming {
                    name: name.clone(),
                    body: body.into(),
                    tlp: None,
                    format: None,
                    who: "feed".into(),
                    from: shown.clone(),
                    feed: Some(shown.clone()),
                };
                match keep(&s, incoming).await {
                    Ok((info, run)) => {
                        memory = *remember;
                        // The version this node wrote (it holds the
                        // lease); unknown after an error: read again.
                        if let Some(db) = &db {
                            held = db.src_version(&name).await.ok();
                        }
                        s.intel.feeds.updated.fetch_add(1, Ordering::Relaxed);
                        s.intel.feeds.last(&feed, "updated", fetched, pages, None);
                        eprintln!(
                            "vigie serve: feed {shown}: {} indicator(s) ({}){}",
                            info.imported,
                            name,
                            run.map_or(String::new(), |r| format!(
                                ", retro-hunt {} of {} new",
                                r.id, r.indicators
                            ))
                        );
                        Ok(())
                    }
                    Err(r) => Err(r.message()),
                }
            }
            Err(e) => Err(e),
        };
        let wait = match outcome {
            Ok(()) => {
                retry = RETRY;
                every
            }
            Err(e) => {
                let e = feed.hide(&e);
                s.intel.feeds.failures.fetch_add(1, Ordering::Relaxed);
                s.intel.feeds.last(&feed, "failed", 0, 0, Some(&e));
                let wait = retry.min(every);
                eprintln!(
                    "vigie serve: feed {shown}: {e}; the indicators held are kept; tried again in {} s",
                    wait.as_secs()
                );
                retry = (retry * 2).min(every);
                wait
            }
        };
        if let (true, Some(db)) = (leased, &db) {
            let polled = vigie_db::FeedPolled {
                etag: memory.validators.etag.clone(),
                last_modified: memory.validators.last_modified.clone(),
                taxii: serde_json::to_string(&memory.taxii).ok(),
            };
            if let Err(e) = db
                .polled_feed(&name, holder(), &polled, wait.as_secs() as i64)
                .await
            {
                // Its lease ends by itself; the next poll starts afresh.
                eprintln!("vigie serve: feed {shown}: its poll not kept in PostgreSQL: {e}");
            }
        }
        tokio::time::sleep(wait).await;
    }
}
