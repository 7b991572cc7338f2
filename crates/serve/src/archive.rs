//! The stream's archive on an api node (`--archive DIR`): opened, its
//! writer started, and put in front of the stream for the one-off readers
//! (retro-hunts and searches, [`crate::retrohunt::CONSUMER_PREFIX`]).

use std::sync::Arc;

use vigie_store::EventLog;

use crate::{retrohunt, Config, ServeError};

/// The stream with its archive in front (`--archive`), the archive kept
/// by a task of its own: retro-hunts and searches (one-off readers) read
/// the archive, then the stream.
pub(crate) async fn open(
    config: &Config,
    stream: Arc<dyn EventLog>,
) -> Result<
    (
        Arc<dyn EventLog>,
        Option<Arc<vigie_store::archive::Archive>>,
    ),
    ServeError,
> {
    let Some(dir) = &config.archive else {
        return Ok((stream, None));
    };
    let archive = vigie_store::archive::Archive::open(
        dir,
        config.archive_policy,
        vigie_store::embedded::SEGMENT_BYTES,
    )
    .await?;
    eprintln!(
        "vigie serve: archive of the stream in {} (consumer {}; {})",
        dir.display(),
        archive.consumer(),
        match config.archive_policy.max_age {
            Some(a) => format!(
                "{} days, {} GiB",
                a.as_secs() / 86_400,
                config.archive_policy.max_bytes >> 30
            ),
            None => format!("{} GiB", config.archive_policy.max_bytes >> 30),
        }
    );
    let archive = Arc::new(archive);
    tokio::spawn(vigie_store::archive::run(stream.clone(), archive.clone()));
    let log = vigie_store::archive::ArchivedLog::new(
        stream,
        archive.clone(),
        vec![retrohunt::CONSUMER_PREFIX.into()],
    );
    Ok((Arc::new(log), Some(archive)))
}
