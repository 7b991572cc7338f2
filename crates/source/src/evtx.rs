//! EVTX reader (in progress).
use std::sync::Arc;

use crate::{Batch, FileReport, Place, ReadOptions, SourceError};

pub(crate) fn read_evtx(
    _src: &Arc<str>,
    _bytes: &[u8],
    _opts: &ReadOptions,
    _on_batch: &(dyn Fn(Batch) + Sync),
    report: &mut FileReport,
) {
    report.errors.push(SourceError::new(
        Place::File,
        "EVTX reading not implemented yet",
    ));
}
