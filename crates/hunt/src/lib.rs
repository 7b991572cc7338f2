//! The offline triage pipeline behind `vigie hunt`.
//!
//! ```text
//! inputs ──► vigie-source ──► Event batches ──► vigie-detect ──► Match
//!                                   │                               │
//!                                   └────────► vigie-scope ◄────────┘
//!                                                   │
//!     timeline (CSV / JSONL) · run manifest · terminal summary · Scope
//! ```
//!
//! Files are read in parallel and large EVTX files chunk by chunk in
//! parallel; every batch is matched on the thread that read it. Results are
//! gathered per (file, batch) and put back in a deterministic order at the
//! end, so the same inputs always give byte-identical outputs whatever the
//! scheduling. Correlation rules run after, over the matches in time order.
//!
//! This crate is the single code path shared by the CLI, the conformance
//! tests (SigmaHQ regression data) and the benchmarks: what is tested is
//! what users run.

pub mod evidence;
pub mod indicators;
pub mod locate;
pub mod manifest;
pub mod pipeline;
pub mod safe;
pub mod search;
pub mod summary;
pub mod timeline;

pub use manifest::Manifest;
pub use pipeline::{
    compile_engine, compile_engine_with_snapshot, run, Detectors, HuntConfig, HuntError,
    HuntOutcome, Progress, Quiet, ReadProblems, RuleSource,
};
pub use timeline::{Detection, DetectionKind, TimelineFormat};
