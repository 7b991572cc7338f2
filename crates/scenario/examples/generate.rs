//! Generates the scenario and prints what was written and how long it took.
//!
//! `cargo run --release -p vigie-scenario --example generate -- OUT_DIR [small|week] [SEED]`

use std::path::PathBuf;
use std::time::Instant;

use vigie_scenario::{generate, Scale, ScenarioConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "vigie-scenario".into()));
    let scale: Scale = match args.next().as_deref().unwrap_or("small").parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut config = ScenarioConfig {
        scale,
        ..ScenarioConfig::default()
    };
    if let Some(seed) = args.next() {
        match seed.parse() {
            Ok(s) => config.seed = s,
            Err(e) => {
                eprintln!("bad seed {seed:?}: {e}");
                std::process::exit(2);
            }
        }
    }
    let start = Instant::now();
    match generate(&config, &out) {
        Ok(g) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{} scale, seed {}: {} events in {} files, {:.1} MB, {:.2} s ({:.0} events/s)",
                scale.name(),
                config.seed,
                g.events,
                g.files.len(),
                g.bytes as f64 / 1e6,
                secs,
                g.events as f64 / secs
            );
            let mut by_channel = std::collections::BTreeMap::new();
            for f in &g.files {
                *by_channel.entry(f.channel.clone()).or_insert(0u64) += f.events;
            }
            for (c, n) in by_channel {
                println!("  {n:>10}  {c}");
            }
            for s in &g.ground_truth.steps {
                println!(
                    "  step {:>2} {:<18} {:>5} events on {}",
                    s.number,
                    s.name,
                    s.events.len(),
                    s.hosts.join(", ")
                );
            }
        }
        Err(e) => {
            eprintln!("generation failed: {e}");
            std::process::exit(1);
        }
    }
}
