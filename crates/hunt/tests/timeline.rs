//! The timeline writer formats rows in parallel chunks without building a
//! `Row` per detection; its bytes must be exactly those of serialising
//! `Detection::row()` one row after the other (the public row layout).

mod common;

use std::sync::Arc;

use vigie_event::{Event, Locator, Origin, Value};
use vigie_hunt::evidence::EventDetail;
use vigie_hunt::safe::{csv_cell, CsvValues};
use vigie_hunt::timeline::{self, CsvOptions, CSV_COLUMNS};
use vigie_hunt::{Detection, DetectionKind, HuntConfig, Quiet, RuleSource, TimelineFormat};

/// The reference JSONL: `serde_json` over `Detection::row()`.
fn jsonl_reference(detections: &[Detection]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in detections {
        serde_json::to_writer(&mut out, &d.row()).unwrap();
        out.push(b'\n');
    }
    out
}

/// The reference CSV: one `csv` record per `Detection::row()`, each text
/// cell through `safe::csv_cell`, `other_fields` in place of `event`.
fn csv_reference(detections: &[Detection], opts: &CsvOptions) -> Vec<u8> {
    let mut out = Vec::new();
    if opts.bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(opts.delimiter)
        .from_writer(out);
    w.write_record(CSV_COLUMNS).unwrap();
    for d in detections {
        let r = d.row();
        let opt = |v: Option<String>| v.unwrap_or_default();
        let cell = |s: &str| csv_cell(s, opts.values).into_owned();
        w.write_record([
            opt(r.timestamp.map(|t| t.to_string())),
            r.datetime,
            r.timestamp_desc.to_string(),
            cell(&r.message),
            cell(r.computer),
            cell(r.channel),
            opt(r.event_id.map(|t| t.to_string())),
            opt(r.record_id.map(|t| t.to_string())),
            cell(r.rule_id),
            cell(r.rule_title),
            r.level.to_string(),
            cell(&r.tags.join(" | ")),
            cell(r.source_file),
            r.source_locator,
            match r.kind {
                DetectionKind::Detection => "detection".into(),
                DetectionKind::Correlation => "correlation".into(),
                DetectionKind::Ioc => "ioc".into(),
            },
            cell(&r.details),
            cell(r.user),
            cell(r.target_user),
            cell(r.process),
            cell(r.command_line),
            cell(r.parent_process),
            cell(r.source_address),
            cell(r.target),
            cell(&d.other_fields()),
        ])
        .unwrap();
    }
    w.into_inner().unwrap()
}

/// Detections of SigmaHQ's Windows rules over the EVTX attack samples,
/// plus altered copies covering what real rows rarely have: no time, no
/// computer, no matched field, other locators, a correlation row, and
/// text that JSON and CSV must escape or quote.
fn detections() -> Option<Vec<Detection>> {
    let corpus = common::corpus()?;
    let config = HuntConfig {
        inputs: vec![corpus.join("evtx-attack-samples")],
        rules: vec![RuleSource::Path(corpus.join("sigma/rules/windows"))],
        scope: false,
        ..Default::default()
    };
    let found = vigie_hunt::run(&config, &Quiet).unwrap().detections;
    assert!(found.len() > 1000, "{} detections", found.len());
    // Repeated, so that rows cross the writer's chunk boundaries and the
    // boundaries of its windows of chunks too.
    let mut detections: Vec<Detection> = (0..10).flat_map(|_| found.iter().cloned()).collect();
    let base = detections[0].clone();
    let mut odd = base.clone();
    odd.time = None;
    odd.computer = None;
    odd.channel = None;
    odd.event_id = None;
    odd.record_id = None;
    odd.matched.clear();
    odd.origin.locator = Locator::None;
    detections.push(odd);
    for (i, locator) in [Locator::Line(7), Locator::Index(0)]
        .into_iter()
        .enumerate()
    {
        let mut d = base.clone();
        d.origin.locator = locator;
        d.kind = DetectionKind::Correlation;
        d.computer = Some(format!("PC\"{i}\"; \\ é\t\u{1}").into_boxed_str());
        d.origin.source = Arc::from("dir with, comma/\"quoted\".evtx");
        if let Some(m) = d.matched.first_mut() {
            m.value = "line one\nline two\r\n \u{7f} \u{2028} ¦ | \"x\"".to_string();
            m.field = None;
        }
        detections.push(d);
    }
    // A hostile event: control characters, a formula, bidi overrides.
    let mut hostile = base.clone();
    let mut e = Event::new(Origin {
        source: Arc::from("h.evtx"),
        locator: Locator::Record(9),
    });
    e.push("Computer", "=HYPERLINK(\"http://x\",\"y\")");
    e.push("User", "\u{1b}]52;c;ZXZpbA==\u{7}");
    e.push("CommandLine", "-enc\tAAAA\r\nnext \u{202e}gpj.exe");
    e.push("Count", Value::Int(-3));
    e.push("Channel", "Security");
    e.push("Channel", "System");
    hostile.computer = Some("=HYPERLINK(\"http://x\",\"y\")".into());
    hostile.event = Some(Arc::new(EventDetail::of(&e)));
    detections.push(hostile);
    assert!(
        detections.iter().filter(|d| d.event.is_some()).count() > 1000,
        "the hunt keeps the events behind its detections"
    );
    Some(detections)
}

#[test]
fn timeline_bytes_equal_row_by_row_serialisation() {
    let Some(detections) = detections() else {
        return;
    };
    let raw_fr = CsvOptions {
        values: CsvValues::Raw,
        ..CsvOptions::excel_fr()
    };
    for (format, opts, reference) in [
        (
            TimelineFormat::Jsonl,
            CsvOptions::default(),
            jsonl_reference(&detections),
        ),
        (
            TimelineFormat::Csv,
            CsvOptions::default(),
            csv_reference(&detections, &CsvOptions::default()),
        ),
        (
            TimelineFormat::Csv,
            CsvOptions::excel_fr(),
            csv_reference(&detections, &CsvOptions::excel_fr()),
        ),
        (
            TimelineFormat::Csv,
            raw_fr,
            csv_reference(&detections, &raw_fr),
        ),
    ] {
        let mut out = Vec::new();
        timeline::write_with(&mut out, format, &opts, &detections).unwrap();
        if out != reference {
            let at = out
                .iter()
                .zip(&reference)
                .position(|(a, b)| a != b)
                .unwrap_or(out.len().min(reference.len()));
            let from = at.saturating_sub(200);
            panic!(
                "{format:?} {opts:?} differs at byte {at}:\n  written:   {}\n  reference: {}",
                String::from_utf8_lossy(&out[from..(at + 200).min(out.len())]),
                String::from_utf8_lossy(&reference[from..(at + 200).min(reference.len())]),
            );
        }
    }
    // Empty input: nothing for JSONL, the header alone for CSV.
    let mut out = Vec::new();
    timeline::write(&mut out, TimelineFormat::Jsonl, &[]).unwrap();
    assert!(out.is_empty());
    timeline::write(&mut out, TimelineFormat::Csv, &[]).unwrap();
    assert_eq!(out, csv_reference(&[], &CsvOptions::default()));
}
