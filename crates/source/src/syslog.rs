//! Syslog reader (in progress).
use std::sync::Arc;

use crate::{ReadOptions, Sink, SourceError};

pub(crate) fn looks_like_syslog(b: &[u8]) -> bool {
    b.first() == Some(&b'<') || b.starts_with(b"date=")
}

pub(crate) fn read_syslog(
    _b: &[u8],
    _src: &Arc<str>,
    _opts: &ReadOptions,
    _sink: &mut Sink<'_>,
    errors: &mut Vec<SourceError>,
) {
    errors.push(SourceError::new(
        crate::Place::File,
        "syslog reading not implemented yet",
    ));
}
