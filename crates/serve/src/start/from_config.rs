//! What the configuration names that is read and checked at start rather
//! than used as given: the assets files (one per commune, never
//! another's) and the alert destinations (a mistyped address is an error
//! now, not a silent 2 a.m.).

use super::*;

/// `--assets FILE`: every tenant's; `--assets DIR`: one file per commune,
/// `DIR/<tenant>.yml` (or `.yaml`), `default.yml` for the tenant
/// `default` (a commune without a file of its own has none: never
/// another's). Every file is read at start: one that cannot be read
/// stops `serve` with its name and the reason.
#[allow(clippy::type_complexity)]
pub(crate) fn load_assets(
    path: Option<&std::path::Path>,
) -> Result<
    (
        Arc<vigie_scope::Assets>,
        Option<std::collections::BTreeMap<String, Arc<vigie_scope::Assets>>>,
    ),
    ServeError,
> {
    let load = |p: &std::path::Path| {
        vigie_scope::Assets::load(p)
            .map(Arc::new)
            .map_err(|e| ServeError::Io {
                what: format!("--assets {}", p.display()),
                source: std::io::Error::other(e.to_string()),
            })
    };
    let Some(path) = path else {
        return Ok((Arc::new(vigie_scope::Assets::default()), None));
    };
    if !path.is_dir() {
        // One file is the tenant `default`'s (a commune's own server):
        // never every commune's — another commune's hosts and services
        // shown as its own on its board and public page.
        let one = load(path)?;
        eprintln!(
            "vigie serve: assets from {}: the tenant default's only (other communes: none; give a directory of <tenant>.yml files for each commune's own)",
            path.display()
        );
        return Ok((one, Some(std::collections::BTreeMap::new())));
    }
    let io = |source| ServeError::Io {
        what: format!("--assets {}", path.display()),
        source,
    };
    let mut by_tenant = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        let is_yaml = p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
        let Some(tenant) = p.file_stem().and_then(|s| s.to_str()).filter(|_| is_yaml) else {
            continue;
        };
        if !vigie_console::users::valid_tenant(tenant) {
            eprintln!(
                "vigie serve: --assets {}: no tenant can be named {tenant:?} ({}): its file is read but no commune gets it",
                p.display(),
                vigie_console::users::TENANT_RULE
            );
        }
        if by_tenant.insert(tenant.to_string(), load(&p)?).is_some() {
            return Err(ServeError::Config(format!(
                "--assets {}: two files for the tenant {tenant:?} (.yml and .yaml)",
                path.display()
            )));
        }
    }
    let default = by_tenant
        .remove("default")
        .unwrap_or_else(|| Arc::new(vigie_scope::Assets::default()));
    eprintln!(
        "vigie serve: assets per commune from {}: {}",
        path.display(),
        std::iter::once("default")
            .chain(by_tenant.keys().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((default, Some(by_tenant)))
}

/// Where alerts go, from the configuration (each checked at start: a
/// mistyped address is an error now, not a silent 2 a.m.).
pub(crate) fn alert_sinks(config: &Config) -> Result<Vec<Box<dyn alerts::Sink>>, ServeError> {
    let mut sinks: Vec<Box<dyn alerts::Sink>> = Vec::new();
    if let Some(url) = &config.alert_webhook {
        sinks.push(Box::new(alerts::sinks::Webhook { url: url.clone() }));
    }
    if let Some(relay) = &config.alert_smtp {
        let from = config
            .alert_email_from
            .as_deref()
            .unwrap_or("vigie@localhost");
        let mail = alerts::sinks::Email::new(relay, from, &config.alert_email_to, config.hunt.lang)
            .map_err(ServeError::Config)?;
        sinks.push(Box::new(mail));
    } else if !config.alert_email_to.is_empty() {
        return Err(ServeError::Config(
            "alert_email_to without alert_smtp (in the --config file or VIGIE_ALERT_SMTP): no relay to send through".into(),
        ));
    }
    if let Some(url) = &config.alert_syslog {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        sinks.push(Box::new(
            alerts::sinks::Syslog::parse(url, host).map_err(ServeError::Config)?,
        ));
    }
    Ok(sinks)
}
