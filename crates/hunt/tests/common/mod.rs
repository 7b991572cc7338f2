//! Helpers shared by the hunt integration tests.

use std::path::PathBuf;

/// The shared corpus: `$VIGIE_CORPUS`, else `../shared/corpus` beside the
/// workspace. `None` (with a "skipped" note) when absent outside CI; under
/// `CI=true` a missing corpus is a failure, never a silent pass.
pub fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("VIGIE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus"
            ))
        });
    if path.join("sigma").is_dir() {
        return Some(path);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "corpus not found at {} (CI=true): set VIGIE_CORPUS",
            path.display()
        );
    }
    eprintln!("skipped: corpus not found at {}", path.display());
    None
}
