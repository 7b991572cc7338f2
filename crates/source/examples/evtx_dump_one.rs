//! Debug helper: prints the events and report of one file.
//! `cargo run -p vigie-source --example evtx_dump_one -- FILE [N]`
fn main() {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().expect("file"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let (events, report) = vigie_source::read_all(&path);
    for e in events.iter().take(n) {
        println!("{e:?}\n");
    }
    println!(
        "format={:?} read={} skipped={} first={:?} last={:?}",
        report.format, report.records_read, report.records_skipped, report.first, report.last
    );
    for e in &report.errors {
        println!("error: {e}");
    }
    for n in &report.notes {
        println!("note: {n}");
    }
}
