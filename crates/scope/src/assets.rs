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
        if text.trim().is_empty() {
            return Ok(Assets::default());
        }
        let assets: Assets = serde_yaml_ng::from_str(text).map_err(|e| AssetsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let problems = assets.problems();
        if !problems.is_empty() {
            return Err(AssetsError::Invalid {
                path: path.to_path_buf(),
                message: problems.join("; "),
            });
        }
        Ok(assets)
    }

    /// Consistency problems: a wrong reference silently disables a
    /// "not reached" statement or a GDPR flag, so they are errors.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for h in &self.hosts {
            if h.name.trim().is_empty() {
                out.push("a host has an empty name".to_string());
            }
            if let Some(z) = &h.zone {
                if !self.zones.iter().any(|x| x.name.eq_ignore_ascii_case(z)) {
                    out.push(format!("host {}: zone '{z}' is not in zones", h.name));
                }
            }
            for a in &h.addresses {
                if a.trim().parse::<std::net::IpAddr>().is_err() {
                    out.push(format!("host {}: '{a}' is not an IP address", h.name));
                }
            }
        }
        for z in &self.zones {
            if z.name.trim().is_empty() {
                out.push("a zone has an empty name".to_string());
            }
        }
        for d in &self.data_stores {
            if d.name.trim().is_empty() || d.host.trim().is_empty() {
                out.push(format!(
                    "data store '{}': name and host are required",
                    d.name
                ));
            }
        }
        for (what, list) in [
            ("vpn_pools", &self.networks.vpn_pools),
            ("internal", &self.networks.internal),
        ] {
            for c in list {
                let t = c.trim();
                if t.parse::<ipnet::IpNet>().is_err() && t.parse::<std::net::IpAddr>().is_err() {
                    out.push(format!("networks.{what}: '{c}' is not a CIDR range"));
                }
            }
        }
        out
    }

    /// Parses YAML text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Assets, AssetsError> {
        Self::parse(text, Path::new("<assets>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountKind, Sensitivity};

    #[test]
    fn the_documented_example_loads() {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/assets.example.yml"
        ));
        let a = Assets::load(p).expect("example loads");
        assert_eq!(
            a.hosts
                .iter()
                .find(|h| h.name == "TES-01")
                .unwrap()
                .zone
                .as_deref(),
            Some("state-id")
        );
        assert!(a
            .zones
            .iter()
            .any(|z| z.name == "state-id" && z.isolated && z.critical));
        let cias = a.data_stores.iter().find(|d| d.name == "CIAS").unwrap();
        assert_eq!(cias.sensitivity, Sensitivity::SpecialCategory);
        assert!(cias.personal_data);
        assert_eq!(a.accounts[0].kind, AccountKind::Provider);
        assert_eq!(a.networks.vpn_pools, vec!["10.212.134.0/24"]);
        // Serialising and reading back gives the same assets (the scenario
        // generator writes its assets file this way).
        let y = serde_yaml_ng::to_string(&a).unwrap();
        assert_eq!(Assets::from_str(&y).unwrap(), a);
    }

    #[test]
    fn mistakes_are_clear_errors() {
        let e = Assets::from_str("hosts:\n  - name: A\n    zonne: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("zonne") && e.contains("line"), "{e}");
        let e = Assets::from_str("hosts: [{name: A, zone: nowhere}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("zone 'nowhere' is not in zones"), "{e}");
        let e = Assets::from_str("networks: {vpn_pools: [10.0.0.0/33]}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a CIDR"), "{e}");
        let e = Assets::from_str("data_stores: [{name: X, host: A, sensitivity: secret}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret"), "{e}");
        let e = Assets::load(Path::new("/nonexistent/assets.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
        assert_eq!(Assets::from_str("").unwrap(), Assets::default());
    }
}
