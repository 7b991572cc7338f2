//! The embedded triage store and crisis journal against the shared
//! conformance checks (the regional deployment's PostgreSQL ones run the
//! same in `vigie-db`), and what they hold after a reopen.

use vigie_store::conformance;
use vigie_store::crisis::{CrisisJournal, FileJournal};
use vigie_store::triage::{FileTriage, TriageStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_triage_meets_the_contract_and_keeps_it_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileTriage::open(dir.path()).unwrap();
    conformance::triage_store(&store).await;
    let before = (
        store.entries("mairie-a").await.unwrap(),
        store.filters().await.unwrap(),
        store.searches("mairie-a").await.unwrap(),
        store.rule_switches().await.unwrap(),
    );
    drop(store);
    let store = FileTriage::open(dir.path()).unwrap();
    let after = (
        store.entries("mairie-a").await.unwrap(),
        store.filters().await.unwrap(),
        store.searches("mairie-a").await.unwrap(),
        store.rule_switches().await.unwrap(),
    );
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_crisis_journal_meets_the_contract_and_keeps_it_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = FileJournal::open(dir.path()).unwrap();
    conformance::crisis_journal(&journal).await;
    let before = journal.records("default").await.unwrap();
    drop(journal);
    let (journal, torn) = FileJournal::open(dir.path()).unwrap();
    assert_eq!(torn, 0);
    assert_eq!(journal.records("default").await.unwrap(), before);
    assert_eq!(journal.tenants().await.unwrap(), vec!["default", "quimper"]);
}
