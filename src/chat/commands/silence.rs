//! `/<runbook> silence service:<…|all> minutes:<…> reason:<…>`,
//! `silences` and `unsilence id:<…>`.

use super::{text, Done, Outcome};
use crate::app::silences::{self, Added};
use crate::app::{App, Caller};
use crate::core::commands::{Invocation, SilenceOp, Value};
use crate::render::{self, Message};

pub(super) async fn run(app: &App, caller: &Caller, inv: &Invocation, op: SilenceOp) -> Done {
    let result = match op {
        SilenceOp::Add => add(app, caller, inv).await,
        SilenceOp::List => silences::list(app).await.map(|list| {
            Done::new(
                Message::text(render::paging::silences(&list)),
                None,
                Outcome::Ok("ok".into()),
            )
        }),
        SilenceOp::End => end(app, caller, inv).await,
    };
    result.unwrap_or_else(|e| {
        tracing::warn!(error = %crate::cause_chain(&e), "silence command hit the database");
        Done::new(
            Message::text(format!(
                "Nothing was recorded: {e}. Diagnosis commands still work."
            )),
            None,
            Outcome::Failed(e.to_string()),
        )
    })
}

async fn add(
    app: &App,
    caller: &Caller,
    inv: &Invocation,
) -> Result<Done, crate::store::StoreError> {
    let minutes = match inv.args.get("minutes") {
        Some(Value::Integer(m)) => Some(*m),
        _ => None,
    };
    let service = text(inv, "service");
    Ok(
        match silences::add(app, caller, &inv.runbook, &service, minutes, &text(inv, "reason"))
            .await?
        {
            Added::Silenced(s) => Done::new(
                Message::text(format!(
                    "Silence #{} for {} until {}: their new alerts open no incident and page nobody. Incidents already open keep paging and escalating. End it early with /{} unsilence id:{}.{}",
                    s.id,
                    render::paging::silence_scope(&s),
                    render::paging::clock(s.ends_at),
                    inv.runbook,
                    s.id,
                    not_running(app, s.service.as_deref())
                )),
                Some(format!("silence #{}", s.id)),
                Outcome::Ok(format!(
                    "silenced {} until {}",
                    render::paging::silence_scope(&s),
                    s.ends_at
                )),
            ),
            Added::Refused(sentence) => Done::refused(sentence, None),
        },
    )
}

async fn end(
    app: &App,
    caller: &Caller,
    inv: &Invocation,
) -> Result<Done, crate::store::StoreError> {
    let Some(Value::Integer(id)) = inv.args.get("id") else {
        return Ok(Done::refused("Give the silence's id.".into(), None));
    };
    Ok(match silences::end(app, caller, *id).await? {
        Ok(s) => Done::new(
            Message::text(format!(
                "Silence #{} for {} ended: alerts open incidents and page again.",
                s.id,
                render::paging::silence_scope(&s)
            )),
            Some(format!("silence #{}", s.id)),
            Outcome::Ok("ended".into()),
        ),
        Err(sentence) => Done::refused(sentence, Some(format!("silence #{id}"))),
    })
}

/// A note when the silenced service runs no container here now (a typo
/// silences nothing that exists; planned work may start it later).
fn not_running(app: &App, service: Option<&str>) -> String {
    let Some(service) = service else {
        return String::new();
    };
    let Ok(current) = app.watcher.current(time::OffsetDateTime::now_utc()) else {
        return String::new();
    };
    let runs = current
        .live
        .snapshot
        .containers
        .iter()
        .any(|c| c.service.as_deref() == Some(service));
    if runs {
        String::new()
    } else {
        format!(" (No container of service {service} runs here now: check the name.)")
    }
}
