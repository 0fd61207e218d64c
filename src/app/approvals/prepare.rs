//! What an action request is about, prepared for approvers before it is
//! recorded: the container (for restarts and recreates), the sessions (for
//! close-idle), the exact command, and the words that describe it.

use super::fleet_target::{fleet_target, Target};
use crate::app::actions::{close_idle_target, restart_target, RestartTarget};
use crate::app::App;
use crate::core::approval;
use crate::core::commands::{Invocation, Value};
use crate::core::runbook::fill_command;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The key of close-idle requests (one open at a time).
pub(super) const DATABASE_KEY: &str = "database";

/// What a request is about, as prepared for approvers.
pub(super) struct Prepared {
    pub container_id: String,
    pub container_name: String,
    pub summary: String,
    /// "restart web", "close 3 idle database sessions older than 10 min".
    pub title: String,
    pub params: serde_json::Value,
    /// The fleet node that runs the container.
    pub node: Option<String>,
}

pub(super) fn text_arg(inv: &Invocation, name: &str) -> String {
    match inv.args.get(name) {
        Some(Value::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The container a request is for, as approvers are shown it, and in a
/// fleet the node that runs it.
struct Found {
    id: String,
    name: String,
    summary: String,
    node: Option<String>,
}

/// The one running container of `service` in the watched project (in a
/// fleet: on the host `host:` names, or the one it runs on); `Err` is the
/// sentence for the requester.
async fn service_container(
    app: &App,
    inv: &Invocation,
    service: &str,
    now: OffsetDateTime,
) -> Result<Found, String> {
    let here = |t: RestartTarget, node: Option<String>| Found {
        id: t.container.id.clone(),
        name: t.container.name.clone(),
        summary: t.summary,
        node,
    };
    if let Some(own) = app.fleet_node() {
        let host = Some(text_arg(inv, "host"));
        return Ok(match fleet_target(app, host, service, now).await? {
            Target::Here(t) => here(t, Some(own.to_string())),
            Target::There { node, sample } => Found {
                summary: super::fleet_target::summary(&node, &sample),
                id: sample.id,
                name: sample.name,
                node: Some(node),
            },
        });
    }
    restart_target(&app.engine, &app.watcher, &app.scope, service, now)
        .await
        .map(|t| here(t, None))
        .map_err(|e| {
            tracing::warn!(service, error = %crate::cause_chain(&e), "no container to request an action for");
            format!("No request was made: {}.", e.for_chat())
        })
}

/// " on n2" in a fleet, for a request's title.
fn on(node: &Option<String>) -> String {
    node.as_deref()
        .map_or(String::new(), |n| format!(" on {n}"))
}

/// The container a restart is for, within the rate limit; `Err` is the
/// sentence for the requester.
pub(super) async fn prepare_restart(
    app: &App,
    inv: &Invocation,
    action_id: &str,
    service: &str,
    rate_limit_per_hour: u32,
    now: OffsetDateTime,
) -> Result<Prepared, String> {
    let recent = app
        .store
        .restarts_since(action_id, service, now - time::Duration::hours(1), None)
        .await
        .map_err(|e| format!("Nothing was requested: {e}."))?;
    approval::within_rate_limit(service, &recent, rate_limit_per_hour, now)?;
    let found = service_container(app, inv, service, now).await?;
    Ok(Prepared {
        title: format!("restart {service}{}", on(&found.node)),
        container_id: found.id,
        container_name: found.name,
        summary: found.summary,
        params: serde_json::json!({}),
        node: found.node,
    })
}

/// The container a recreate request is for, and the exact command it will
/// run (the runbook's, filled from typed values).
pub(super) async fn prepare_recreate(
    app: &App,
    inv: &Invocation,
    service: &str,
    command: &[String],
    params: &[crate::core::runbook::ActionParam],
    mut values: BTreeMap<String, i64>,
    now: OffsetDateTime,
) -> Result<Prepared, String> {
    for p in params {
        values.entry(p.name.clone()).or_insert(p.default);
    }
    let argv =
        fill_command(command, params, &values).map_err(|e| format!("No request was made: {e}."))?;
    let found = service_container(app, inv, service, now).await?;
    let shown = argv.join(" ");
    Ok(Prepared {
        summary: format!("{}; new command: {shown}", found.summary),
        title: crate::core::text::clip(
            &format!("recreate {service}{} with `{shown}`", on(&found.node)),
            200,
        ),
        container_id: found.id,
        container_name: found.name,
        params: serde_json::json!({ "command": argv, "values": values }),
        node: found.node,
    })
}

/// The sessions a close-idle request would close now.
pub(super) async fn prepare_close_idle(
    app: &App,
    minutes: u32,
    include_idle: bool,
) -> Result<Prepared, String> {
    let timeout = std::time::Duration::from_secs(app.settings.docker.timeout_secs);
    let plan = close_idle_target(
        app.probes().app_db,
        timeout,
        std::time::Duration::from_secs(u64::from(minutes) * 60),
        include_idle,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %crate::cause_chain(&e), "close-idle target not found");
        format!("No request was made: {e}.")
    })?;
    Ok(Prepared {
        container_id: String::new(),
        container_name: plan.location.clone(),
        summary: plan.summary,
        title: format!(
            "close {} idle database session{} older than {minutes} min",
            plan.count,
            if plan.count == 1 { "" } else { "s" }
        ),
        params: serde_json::json!({ "older_than_minutes": minutes, "include_idle": include_idle }),
        // The monitored database is reached from any node.
        node: None,
    })
}
