//! An account action carried out in the directory: respond's LDAP
//! executor (`vigie_respond::ldap`), on a task of its own with a time
//! limit, so a directory that does not answer holds neither the request
//! threads nor the proposals (the step is recorded as failed, never as
//! done).

use std::time::Duration;

use vigie_respond::ldap::{self, Directory, LdapTarget, Secret};
use vigie_respond::Proposal;

use super::DirectoryConfig;

/// How long a connection, bind and change may take together.
const LIMIT: Duration = Duration::from_secs(60);

/// The bind password: from the file, else the environment variable the
/// configuration names — never from the command line, never logged.
fn password(d: &DirectoryConfig) -> Result<Secret, String> {
    match (&d.password_file, &d.password_env) {
        (Some(f), _) => Secret::from_file(f).map_err(|e| e.to_string()),
        (None, Some(v)) => Secret::from_env(v).map_err(|e| e.to_string()),
        (None, None) => Err(
            "[respond.directory] gives no password_file nor password_env: nothing to bind with"
                .into(),
        ),
    }
}

/// Executes `p` (or undoes it, `undo`) in the directory: the line for
/// the trail, or why it failed.
pub(crate) async fn run(d: DirectoryConfig, p: Proposal, undo: bool) -> Result<String, String> {
    let secret = password(&d)?;
    let target = LdapTarget {
        url: d.url.clone(),
        starttls: d.starttls,
        bind: d.bind.clone(),
        ca_file: d.ca_file.clone(),
        base_dn: d.base_dn.clone(),
    };
    let mut task = tokio::spawn(async move {
        let mut dir = Directory::connect(&target, &secret)
            .await
            .map_err(|e| e.to_string())?;
        let done = if undo {
            ldap::roll_back(&mut dir, &p).await
        } else {
            ldap::execute(&mut dir, &p).await
        };
        // The change stands whether or not the goodbye is heard.
        let _ = dir.close().await;
        done.map_err(|e| e.to_string())
    });
    match tokio::time::timeout(LIMIT, &mut task).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("the directory's task stopped: {e}")),
        Err(_) => {
            task.abort();
            Err(format!(
                "no answer from the directory within {} s (it may have been carried out: read the account, then execute again — disabling twice changes nothing)",
                LIMIT.as_secs()
            ))
        }
    }
}
