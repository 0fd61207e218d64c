//! A diagnosis as a Discord embed with its PNG chart attached.

use crate::chart;
use crate::core::runbook::{Check, Runbook};
use crate::diagnose::{Diagnosis, Finding, ScopeView};
use crate::render;
use serenity::all::{CreateAttachment, CreateEmbed, CreateEmbedFooter};

/// The chart's file name; the embed shows it via `attachment://`.
pub const CHART_FILE: &str = "memory.png";

/// Discord caps an embed description at 4096 characters; a row of the table
/// is well under 100, so 30 rows leave room for the code fence.
const MAX_ROWS: usize = 30;

pub fn report(d: &Diagnosis, runbook: &Runbook) -> (CreateEmbed, CreateAttachment) {
    let Finding::ContainerMemory(r) = &d.finding;
    let v = &r.verdict;
    let bar = match runbook.step(&v.step).map(|s| &s.check) {
        Some(Check::ContainerMemory(c)) => c.process_max_mib,
        _ => None,
    };
    let png = chart::render_png(&render::memory_chart(d, r, bar));
    let scope = match &d.scope {
        ScopeView::Project(p) => format!("Compose project {p}"),
        ScopeView::All(_) => "all containers".into(),
    };
    let verdict = match &v.conclusion {
        Some(c) => format!("**{}**: {c}", v.outcome.label()),
        None => format!("**{}**", v.outcome.label()),
    };
    let mut embed = CreateEmbed::new()
        .title(format!("{} · {}", d.runbook_title, v.title))
        .colour(render::outcome_colour(v.outcome))
        .description(format!("```\n{}```", render::memory_table(r, MAX_ROWS)))
        .field("Expected", v.expected.clone(), false)
        .field("Observed", v.observed.clone(), false)
        .field("Verdict", verdict, false)
        .image(format!("attachment://{CHART_FILE}"))
        .footer(CreateEmbedFooter::new(format!(
            "/{} {} · {scope} · engine {}",
            d.runbook, v.step, d.endpoint
        )));
    if !v.offenders.is_empty() {
        let lines: Vec<String> = v
            .offenders
            .iter()
            .take(10)
            .map(|o| format!("• {} ({}): {}", o.name, o.outcome.label(), o.reason))
            .collect();
        embed = embed.field("Offenders", clip(&lines.join("\n"), 1024), false);
    }
    if !v.notes.is_empty() {
        embed = embed.field("Notes", clip(&v.notes.join("\n"), 1024), false);
    }
    (embed, CreateAttachment::bytes(png, CHART_FILE))
}

/// Discord rejects field values over 1024 characters.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}
