//! Secrets and other values `serve` takes from the environment, never from
//! files in the repository: the Discord token and the Alertmanager bearer
//! token. Both are [`Secret`]s, redacted in `Debug`.

use super::ConfigError;

/// A value that must never reach a log: `Debug` prints a placeholder.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`; from now on no log line can carry it.
    pub fn new(value: String) -> Secret {
        crate::logging::register_secret(&value);
        Secret(value)
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// What `serve` takes from the environment rather than from files.
#[derive(Debug, Clone)]
pub struct DiscordEnv {
    pub token: Secret,
    /// Base URL of a Discord-compatible API (a proxy or an emulator).
    pub api_base: Option<String>,
    /// The bearer token Alertmanager must send (ALERTMANAGER_TOKEN or
    /// ALERTMANAGER_TOKEN_FILE); without it the intake refuses everything.
    pub alertmanager_token: Option<Secret>,
    /// The monitored application's PostgreSQL (see
    /// [`monitored_database_url`]).
    pub app_db: Option<Secret>,
}

/// `NAME`, else the contents of the file named by `NAME_FILE`, trimmed;
/// `None` when neither is set or the value is empty.
fn secret_var(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let value = match (var(name), var(&file_var)) {
        (Some(t), _) if !t.trim().is_empty() => t.trim().to_string(),
        (_, Some(path)) if !path.trim().is_empty() => std::fs::read_to_string(path.trim())
            .map_err(|e| ConfigError::Invalid(format!("cannot read {file_var} {path}: {e}")))?
            .trim()
            .to_string(),
        _ => String::new(),
    };
    Ok((!value.is_empty()).then_some(value))
}

impl DiscordEnv {
    /// Reads DISCORD_TOKEN (or the file named by DISCORD_TOKEN_FILE),
    /// ALERTMANAGER_TOKEN (or ALERTMANAGER_TOKEN_FILE) and DISCORD_API_BASE through `var`, so tests need not touch the process
    /// environment.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<DiscordEnv, ConfigError> {
        let token = secret_var(&var, "DISCORD_TOKEN")?.unwrap_or_default();
        if token.is_empty() {
            return Err(ConfigError::Invalid(
                "DISCORD_TOKEN is missing or empty: set it to the bot token from the Discord developer portal (or DISCORD_TOKEN_FILE to a file holding it)".into(),
            ));
        }
        let api_base = var("DISCORD_API_BASE")
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .filter(|b| !b.is_empty());
        if let Some(base) = &api_base {
            // The token travels with every request: plain http only where
            // it cannot leave the machine.
            let loopback = ["http://127.", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| base.starts_with(p));
            if !(base.starts_with("https://") || loopback) {
                return Err(ConfigError::Invalid(format!(
                    "DISCORD_API_BASE must be an https:// URL (plain http only on loopback), not {base}"
                )));
            }
        }
        let alertmanager_token = secret_var(&var, "ALERTMANAGER_TOKEN")?.map(Secret::new);
        Ok(DiscordEnv {
            token: Secret::new(token),
            api_base,
            alertmanager_token,
            app_db: monitored_database_url(&var)?,
        })
    }
}

/// The monitored application's PostgreSQL URL (`MONITORED_DATABASE_URL`, or
/// the file named by `MONITORED_DATABASE_URL_FILE`), for step 4 and the
/// close-idle action; `None` when neither is set.
pub fn monitored_database_url(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    Ok(secret_var(&var, "MONITORED_DATABASE_URL")?.map(Secret::new))
}

/// The bot's own PostgreSQL URL (`DATABASE_URL`, or the file named by
/// `DATABASE_URL_FILE`); `None` when neither is set.
pub fn bot_database_url(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    Ok(secret_var(&var, "DATABASE_URL")?.map(Secret::new))
}
