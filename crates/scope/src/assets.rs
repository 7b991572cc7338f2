//! Loading the assets file.

use std::path::{Path, PathBuf};

use crate::model::Assets;

/// Why an assets file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("cannot read assets file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid assets file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("assets file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Assets {
    /// Reads and validates a YAML assets file.
    pub fn load(path: &Path) -> Result<Assets, AssetsError> {
        let text = std::fs::read_to_string(path).map_err(|source| AssetsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses YAML text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Assets, AssetsError> {
        let assets: Assets = serde_yaml_ng::from_str(text).map_err(|e| AssetsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(assets)
    }

    /// Parses YAML text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Assets, AssetsError> {
        Self::parse(text, Path::new("<assets>"))
    }
}
