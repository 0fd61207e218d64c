//! Secrets and the other values the environment gives, read once when the
//! settings load: the Discord token and API base, the Alertmanager bearer
//! token, the bot's database URL and the monitored application's, the
//! paging webhook (its URL and routing key) and the heartbeat URL. Each
//! comes from `NAME` or from the file named by `NAME_FILE`, never from files
//! in the repository, and is a [`Secret`]: redacted in `Debug`, and
//! registered with the log's redactor the moment it is read.
//!
//! A secret that cannot be read (a `_FILE` that does not exist) is an error
//! only for the command that needs it: `mem status` does not fail because
//! the Discord token file is missing.

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

/// One secret as read: absent, present, or unreadable (the sentence).
type Read = Result<Option<Secret>, String>;

/// What the environment holds for the bot, read once.
#[derive(Debug, Clone)]
pub struct Secrets {
    discord_token: Read,
    discord_api_base: Option<String>,
    discord_public_key: Read,
    alertmanager_token: Read,
    database_url: Read,
    monitored_database_url: Read,
    paging_webhook_url: Read,
    paging_routing_key: Read,
    heartbeat_url: Read,
}

impl Default for Secrets {
    /// Nothing set: what the settings hold before the environment is read.
    fn default() -> Secrets {
        Secrets {
            discord_token: Ok(None),
            discord_api_base: None,
            discord_public_key: Ok(None),
            alertmanager_token: Ok(None),
            database_url: Ok(None),
            monitored_database_url: Ok(None),
            paging_webhook_url: Ok(None),
            paging_routing_key: Ok(None),
            heartbeat_url: Ok(None),
        }
    }
}

/// `NAME`, else the contents of the file named by `NAME_FILE`, trimmed;
/// `None` when neither is set or the value is empty.
fn secret_var(var: &impl Fn(&str) -> Option<String>, name: &str) -> Read {
    let file_var = format!("{name}_FILE");
    let value = match (var(name), var(&file_var)) {
        (Some(t), _) if !t.trim().is_empty() => t.trim().to_string(),
        (_, Some(path)) if !path.trim().is_empty() => std::fs::read_to_string(path.trim())
            .map_err(|e| format!("cannot read {file_var} {path}: {e}"))?
            .trim()
            .to_string(),
        _ => String::new(),
    };
    Ok((!value.is_empty()).then(|| Secret::new(value)))
}

fn invalid<T>(sentence: &str) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(sentence.to_string()))
}

impl Secrets {
    /// Reads every secret through `var`, so tests need not touch the
    /// process environment.
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Secrets {
        Secrets {
            discord_token: secret_var(&var, "DISCORD_TOKEN"),
            discord_api_base: var("DISCORD_API_BASE")
                .map(|b| b.trim().trim_end_matches('/').to_string())
                .filter(|b| !b.is_empty()),
            discord_public_key: secret_var(&var, "DISCORD_PUBLIC_KEY"),
            alertmanager_token: secret_var(&var, "ALERTMANAGER_TOKEN"),
            database_url: secret_var(&var, "DATABASE_URL"),
            monitored_database_url: secret_var(&var, "MONITORED_DATABASE_URL"),
            paging_webhook_url: secret_var(&var, "PAGING_WEBHOOK_URL"),
            paging_routing_key: secret_var(&var, "PAGING_ROUTING_KEY"),
            heartbeat_url: secret_var(&var, "HEARTBEAT_URL"),
        }
    }

    /// DISCORD_TOKEN (or DISCORD_TOKEN_FILE): `serve` cannot start without it.
    pub fn discord_token(&self) -> Result<&Secret, ConfigError> {
        match &self.discord_token {
            Ok(Some(token)) => Ok(token),
            Ok(None) => invalid("DISCORD_TOKEN is missing or empty: set it to the bot token from the Discord developer portal (or DISCORD_TOKEN_FILE to a file holding it)"),
            Err(sentence) => invalid(sentence),
        }
    }

    /// Base URL of a Discord-compatible API (a proxy or an emulator), if
    /// set. The token travels with every request: plain http only where it
    /// cannot leave the machine.
    pub fn discord_api_base(&self) -> Result<Option<&str>, ConfigError> {
        let Some(base) = &self.discord_api_base else {
            return Ok(None);
        };
        let loopback = ["http://127.", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| base.starts_with(p));
        if !(base.starts_with("https://") || loopback) {
            return Err(ConfigError::Invalid(format!(
                "DISCORD_API_BASE must be an https:// URL (plain http only on loopback), not {base}"
            )));
        }
        Ok(Some(base))
    }

    /// The application's public key (DISCORD_PUBLIC_KEY or
    /// DISCORD_PUBLIC_KEY_FILE, 64 hex digits from the developer portal):
    /// what interactions POSTed to the bot are verified against.
    pub fn discord_public_key(&self) -> Result<&Secret, ConfigError> {
        match &self.discord_public_key {
            Ok(Some(key)) => Ok(key),
            Ok(None) => invalid("DISCORD_PUBLIC_KEY is missing: fleet.interactions = \"http\" verifies every interaction against the application's public key (General Information in the developer portal)"),
            Err(sentence) => invalid(sentence),
        }
    }

    /// The bearer token Alertmanager must send (ALERTMANAGER_TOKEN or
    /// ALERTMANAGER_TOKEN_FILE); without it the intake refuses everything.
    pub fn alertmanager_token(&self) -> Result<Option<&Secret>, ConfigError> {
        self.alertmanager_token
            .as_ref()
            .map(Option::as_ref)
            .map_err(|s| ConfigError::Invalid(s.clone()))
    }

    /// The bot's own PostgreSQL (DATABASE_URL or DATABASE_URL_FILE).
    pub fn database_url(&self) -> Result<&Secret, ConfigError> {
        match &self.database_url {
            Ok(Some(url)) => Ok(url),
            Ok(None) => invalid("DATABASE_URL is missing: incidents, approvals and the audit log are kept in PostgreSQL (e.g. postgres://incident_bot@db/incident_bot); or set DATABASE_URL_FILE to a file holding it"),
            Err(sentence) => invalid(sentence),
        }
    }

    /// The monitored application's PostgreSQL (MONITORED_DATABASE_URL or
    /// MONITORED_DATABASE_URL_FILE), for step 4 and the close-idle action.
    pub fn monitored_database_url(&self) -> Result<Option<&Secret>, ConfigError> {
        self.monitored_database_url
            .as_ref()
            .map(Option::as_ref)
            .map_err(|s| ConfigError::Invalid(s.clone()))
    }

    /// Where pages also go, in PagerDuty Events API v2 form
    /// (PAGING_WEBHOOK_URL, e.g. https://events.pagerduty.com/v2/enqueue),
    /// with its routing key (PAGING_ROUTING_KEY); both or neither.
    pub fn paging_webhook(&self) -> Result<Option<(&Secret, &Secret)>, ConfigError> {
        let url = self
            .paging_webhook_url
            .as_ref()
            .map_err(|s| ConfigError::Invalid(s.clone()))?;
        let key = self
            .paging_routing_key
            .as_ref()
            .map_err(|s| ConfigError::Invalid(s.clone()))?;
        match (url, key) {
            (None, None) => Ok(None),
            (Some(url), Some(key)) => {
                web_url("PAGING_WEBHOOK_URL", url.expose())?;
                Ok(Some((url, key)))
            }
            (Some(_), None) => invalid("PAGING_WEBHOOK_URL is set but PAGING_ROUTING_KEY is not: the paging service needs the routing key of its integration"),
            (None, Some(_)) => invalid("PAGING_ROUTING_KEY is set but PAGING_WEBHOOK_URL is not: set the Events API URL (https://events.pagerduty.com/v2/enqueue for PagerDuty)"),
        }
    }

    /// The URL called every `paging.heartbeat_secs` while the bot can see
    /// (HEARTBEAT_URL or HEARTBEAT_URL_FILE): an external dead-man's switch.
    pub fn heartbeat_url(&self) -> Result<Option<&Secret>, ConfigError> {
        let url = self
            .heartbeat_url
            .as_ref()
            .map(Option::as_ref)
            .map_err(|s| ConfigError::Invalid(s.clone()))?;
        if let Some(u) = url {
            web_url("HEARTBEAT_URL", u.expose())?;
        }
        Ok(url)
    }
}

/// An outgoing URL: https, or plain http (for a receiver on the same
/// network, a proxy or a test).
fn web_url(name: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        invalid(&format!("{name} must be an http:// or https:// URL"))
    }
}
