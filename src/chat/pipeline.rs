//! The one way a slash command goes, whatever it is:
//!
//! 1. **admit**: the command exists here, the member may run it (roles
//!    before input: someone who may not run a command learns nothing from
//!    its options), the input matches the spec. A refusal is a private
//!    sentence and nothing runs.
//! 2. **wait** briefly for the database when the command must be recorded
//!    (it may still be connecting); acting unrecorded is worse than not
//!    acting.
//! 3. **acknowledge** at once (Discord drops interactions not answered
//!    within 3 s, and a probe can take longer), privately or not.
//! 4. **run** the command's use case and render its typed outcome.
//! 5. **reply**, then **record**: the timeline entry, the metrics, the
//!    audit row (which carries when the command came in, so the log reads
//!    in the order people acted).

use super::commands::{self, Done, Outcome, Reply};
use super::input::{command_caller, raw_label, subcommand_options};
use super::reply::{defer, edit, respond, TAKEN};
use super::responder::Responder;
use crate::app::{App, Caller};
use crate::core::access::may_invoke;
use crate::core::commands::{parse, CommandSpec, Invocation};
use crate::render::Message;
use crate::store::AuditEntry;
use serenity::all::{CommandInteraction, GuildId};
use std::time::Duration;
use time::OffsetDateTime;

/// How long a command that must be recorded waits for the database before
/// it is refused: well inside Discord's 3 s acknowledgement deadline.
const DB_WAIT: Duration = Duration::from_millis(2000);

/// Checks everything that needs no I/O. `Err` is the sentence to show.
pub(super) fn admit(
    app: &App,
    specs: &[CommandSpec],
    c: &CommandInteraction,
    caller: &Caller,
) -> Result<Invocation, String> {
    let spec = specs
        .iter()
        .find(|s| s.name == c.data.name)
        .ok_or_else(|| format!("/{} is not a command of this bot.", c.data.name))?;
    if c.guild_id.map(GuildId::get) != Some(app.settings.discord.guild_id) {
        return Err("Use this command in the incident team's server.".into());
    }
    let (sub, given) = subcommand_options(&c.data.options())?;
    let target = spec
        .subcommands
        .iter()
        .find(|s| s.name == sub)
        .map(|s| s.target.clone())
        .ok_or_else(|| format!("/{} has no subcommand '{sub}'.", spec.name))?;
    may_invoke(
        app.roles(),
        &caller.roles,
        &target,
        &format!("/{} {sub}", spec.name),
    )?;
    parse(spec, &sub, &given).map_err(|e| format!("That input was not accepted: {e}."))
}

/// Runs one slash command through every step above.
pub(super) async fn command(
    app: &App,
    specs: &[CommandSpec],
    ctx: &Responder,
    c: CommandInteraction,
) {
    let label = raw_label(&c);
    let received = OffsetDateTime::now_utc();
    let caller = command_caller(&c);
    let inv = match admit(app, specs, &c, &caller) {
        Ok(inv) => inv,
        Err(sentence) => {
            tracing::info!(user = %c.user.id, command = %label, refusal = %sentence, "refused");
            let result =
                match respond(ctx, &c, &Message::text(sentence.clone()).private(), &label).await {
                    Err(taken) if taken == TAKEN => taken,
                    _ => format!("refused: {sentence}"),
                };
            return audit(app, &c, &caller, received, &label, None, result).await;
        }
    };
    tracing::info!(user = %c.user.id, command = %label, "command");
    if inv.target.must_be_recorded() && !app.health.db_ready() && !app.health.wait_db(DB_WAIT).await
    {
        let sentence = format!(
            "{label} was not run: it must be recorded, and the database at {} is not reachable right now. Diagnosis commands still work.",
            app.store.location()
        );
        // Not audited: the audit log is in that database.
        let _ = respond(ctx, &c, &Message::text(sentence).private(), &label).await;
        return;
    }
    let mode = commands::reply_mode(app, &caller, &inv);
    if let Reply::Deferred { private } = mode {
        if let Err(result) = defer(ctx, &c, private, &label).await {
            return audit(app, &c, &caller, received, &label, None, result).await;
        }
    }
    let done = commands::run(app, &caller, &inv, &label).await;
    let (link, result) = reply(ctx, &c, mode, &done, &label).await;
    if let Some((incident, mut entry)) = done.timeline {
        entry.link = entry.link.or(link);
        app.timeline(incident, &entry).await;
    }
    let result = result.map_or_else(|failed| failed, |o| o.to_string());
    // "refused: …" → refused; "fail" → fail: a closed set of labels.
    let outcome = result.split(':').next().unwrap_or_default();
    let elapsed = (OffsetDateTime::now_utc() - received).unsigned_abs();
    crate::metrics::global().command(&label, outcome, elapsed);
    audit(app, &c, &caller, received, &label, done.target, result).await;
}

/// Shows `done`'s reply (or its fallback); returns the reply's link and
/// the result to record (`Err`: the reply itself failed, with its result).
async fn reply(
    ctx: &Responder,
    c: &CommandInteraction,
    mode: Reply,
    done: &Done,
    label: &str,
) -> (Option<String>, Result<Outcome, String>) {
    match mode {
        Reply::Direct => match respond(ctx, c, &done.reply, label).await {
            Ok(()) => (None, Ok(done.result.clone())),
            Err(result) => (None, Err(result)),
        },
        Reply::Deferred { .. } => {
            let mut link = edit(ctx, c, &done.reply, label).await;
            if let (None, Some(fallback)) = (&link, &done.fallback) {
                link = edit(ctx, c, fallback, label).await;
            }
            (link, Ok(done.result.clone()))
        }
    }
}

/// Appends a row to the audit log. A failure is logged, never shown: the
/// user's command already ran (or was refused) either way.
async fn audit(
    app: &App,
    c: &CommandInteraction,
    caller: &Caller,
    at: OffsetDateTime,
    action: &str,
    target: Option<String>,
    result: String,
) {
    app.audit(AuditEntry {
        at,
        actor: caller.label(),
        action: action.to_string(),
        target,
        result,
        detail: Some(serde_json::json!({
            "channel_id": c.channel_id.get().to_string(),
            "interaction_id": c.id.get().to_string(),
        })),
    })
    .await;
}
