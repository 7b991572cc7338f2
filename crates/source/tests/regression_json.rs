//! Every JSON rendering in SigmaHQ's regression_data reads cleanly.

use std::path::PathBuf;

use vigie_source::{collect_inputs, read_all};

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma/regression_data"])
}

#[test]
fn regression_data_json_reads_without_errors() {
    let Some(corpus) = corpus() else { return };
    let (files, errs) = collect_inputs(&[corpus.join("sigma/regression_data")]);
    assert!(errs.is_empty(), "{errs:?}");
    let jsons: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(jsons.len() > 100, "only {} json files", jsons.len());
    let mut total = 0;
    for f in jsons {
        let (events, report) = read_all(f);
        assert!(
            report.errors.is_empty(),
            "{}: {:?}",
            f.display(),
            report.errors
        );
        assert!(!events.is_empty(), "{}: no events", f.display());
        for e in &events {
            assert!(e.event_id.is_some(), "{}: no EventID", f.display());
            assert!(e.channel.is_some(), "{}: no Channel", f.display());
            assert!(e.computer.is_some(), "{}: no Computer", f.display());
            assert!(e.timestamp.is_some(), "{}: no timestamp", f.display());
            assert!(e.get("Provider_Name").is_some(), "{}", f.display());
        }
        total += events.len();
    }
    println!("regression_data: {total} events from JSON");
}

/// The streaming path used for evtx_dump documents gives the same events
/// as the generic `serde_json::Value` path.
#[test]
fn streaming_and_value_paths_agree_on_regression_data() {
    let Some(corpus) = corpus() else { return };
    let (files, _) = collect_inputs(&[corpus.join("sigma/regression_data")]);
    let mut compared = 0;
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let (events, _) = read_all(f);
        let text = std::fs::read(f).unwrap();
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&text)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(docs.len(), events.len(), "{}", f.display());
        for (doc, e) in docs.iter().zip(&events) {
            let mut generic = vigie_event::Event::new(e.origin.clone());
            vigie_source::flatten::json_to_event(doc.as_object().unwrap(), &mut generic);
            assert_eq!(&generic, e, "{}", f.display());
            compared += 1;
        }
    }
    assert!(compared > 150);
}
