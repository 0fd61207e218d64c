//! `/mem causes`: the runbook's root-cause table ranked by live evidence,
//! each row with what was measured and how to confirm it, and the top
//! cause's resolution as the runbook gives it (advice with its code, the
//! action to request, the step that verifies).

use super::{Done, Outcome};
use crate::app::App;
use crate::core::causes::RankedCause;
use crate::core::commands::Invocation;
use crate::core::runbook::{ResolutionItem, Runbook};
use crate::core::text::clip;
use crate::render::{Embed, Message};

pub(super) async fn run(app: &App, inv: &Invocation) -> Done {
    let Some(rb) = app.runbooks.get(&inv.runbook) else {
        return Done::new(
            Message::text("Could not rank the causes: the runbook is not loaded."),
            None,
            Outcome::Failed("runbook not loaded".into()),
        );
    };
    let ranked = crate::app::diagnose::causes::ranked(&app.probes(), rb).await;
    let lines: Vec<String> = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "**{}. {}** ({} likelihood · evidence {:.0}%)\n{}\nConfirm: {}",
                i + 1,
                r.cause,
                r.likelihood,
                r.score * 100.0,
                clip(&r.evidence, 300),
                r.confirm
            )
        })
        .collect();
    let title = clip(
        &format!("{} · Root causes, by live evidence", rb.runbook.title),
        256,
    );
    let description = clip(&lines.join("\n\n"), 3000);
    // Discord rejects an embed over 6000 characters whole: fields go in
    // while they fit.
    let mut used = title.chars().count() + description.chars().count();
    let mut embed = Embed::titled(title)
        .colour(0x34_98_DB)
        .description(description);
    if let Some(top) = ranked.first() {
        for (name, value) in fix_fields(rb, top) {
            used += name.chars().count() + value.chars().count();
            if used > 5900 {
                break;
            }
            embed = embed.field(name, value, false);
        }
    }
    let top = ranked.first().map(|r| r.id.clone()).unwrap_or_default();
    Done::new(
        Message::embed(embed),
        None,
        Outcome::Ok(format!("ok: {top} first")),
    )
}

/// The top cause's resolution, item by item, as embed fields (each within
/// Discord's 1024 characters; at most 6 so the embed stays under 6000).
fn fix_fields(rb: &Runbook, top: &RankedCause) -> Vec<(String, String)> {
    let Some(res) = rb
        .resolutions
        .iter()
        .map(|r| r.get_ref())
        .find(|r| r.id == top.resolution)
    else {
        return vec![];
    };
    let id = rb.id();
    res.items
        .iter()
        .take(6)
        .enumerate()
        .map(|(i, item)| {
            let name = clip(&format!("{} · {}", res.title, i + 1), 256);
            let value = match item {
                ResolutionItem::Guidance {
                    text,
                    language,
                    code,
                } => match code {
                    Some(code) => format!(
                        "{text}\n```{}\n{}```",
                        language.clone().unwrap_or_default(),
                        clip(code.trim_start_matches('\n'), 700)
                    ),
                    None => text.clone(),
                },
                ResolutionItem::Action { text, action } => {
                    format!("{text}: `/{id} {action}` (needs a second person's approval)")
                }
                ResolutionItem::Verify { text, step } => {
                    format!("Verify: {text} with `/{id} {step}`")
                }
            };
            (name, clip(&value, 1024))
        })
        .collect()
}
