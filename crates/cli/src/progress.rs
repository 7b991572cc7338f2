//! A progress bar on a terminal, silence otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use vigie_hunt::Progress;

/// Byte-based progress over the input files, drawn on stderr only when
/// stderr is a terminal (never in pipes, logs or CI).
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(enabled: bool) -> Bar {
        if enabled && std::io::stderr().is_terminal() {
            let pb = ProgressBar::new(0);
            pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Bar(pb)
        } else {
            Bar(ProgressBar::hidden())
        }
    }
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.0.set_length(bytes);
        self.0.set_message(format!("{files} files"));
    }
    fn file_done(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
