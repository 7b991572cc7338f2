//! Helpers shared by the hunt integration tests.

use std::path::PathBuf;

/// The shared corpus: `$VIGIE_CORPUS`, else `../shared/corpus` beside the
/// workspace. `None` (with a "skipped" note) when absent outside CI; under
/// `CI=true` a missing corpus is a failure, never a silent pass.
pub fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["sigma"])
}
