//! The runbook itself, for `/mem runbook`: each diagnosis step with the
//! command the document had people type and the bot command that runs it,
//! the root causes, the resolutions and the checklist, so people who know
//! the document find their way.

use crate::core::runbook::{ResolutionItem, Runbook};
use std::fmt::Write;

/// (title, text) sections in document order, each meant for one embed.
pub fn runbook_sections(rb: &Runbook) -> Vec<(String, String)> {
    let id = rb.id();
    let mut out = Vec::new();
    let mut diag = String::new();
    let _ = writeln!(
        diag,
        "Severity {:?} · owner {} · estimated time to resolve {} min\n",
        rb.runbook.severity, rb.runbook.owner, rb.runbook.estimated_ttr_minutes
    );
    for (i, s) in rb.steps.iter().map(|s| s.get_ref()).enumerate() {
        let _ = writeln!(diag, "**{}. {}** → `/{id} {}`", i + 1, s.title, s.id);
        for line in &s.shell {
            let _ = writeln!(diag, "`{line}`");
        }
        let _ = writeln!(
            diag,
            "Expected: {} · if different: {}\n",
            s.expected, s.if_different
        );
    }
    out.push((format!("Runbook: {}", rb.runbook.title), diag));

    let mut causes = String::from("(`/");
    causes.push_str(id);
    causes.push_str(" causes` ranks them by live evidence)\n");
    for c in rb.causes.iter().map(|c| c.get_ref()) {
        let _ = writeln!(
            causes,
            "• **{}** ({:?}): confirm: {}",
            c.cause, c.likelihood, c.confirm
        );
    }
    out.push(("Root causes".into(), causes));

    let mut fixes = String::new();
    for r in rb.resolutions.iter().map(|r| r.get_ref()) {
        let _ = writeln!(fixes, "**{}**", r.title);
        for item in &r.items {
            match item {
                ResolutionItem::Guidance { text, .. } => {
                    let _ = writeln!(fixes, "• {text}");
                }
                ResolutionItem::Action { text, action } => {
                    let _ = writeln!(fixes, "• {text} → `/{id} {action}` (needs approval)");
                }
                ResolutionItem::Verify { text, step } => {
                    let _ = writeln!(fixes, "• Verify: {text} → `/{id} {step}`");
                }
            }
        }
        fixes.push('\n');
    }
    out.push(("Resolutions".into(), fixes));

    let mut rest = format!("**Verification** (`/{id} verify`)\n");
    for v in rb.verification.iter().map(|v| v.get_ref()) {
        let _ = writeln!(rest, "- [ ] {}", v.text);
    }
    rest.push_str("\n**Escalation**\n");
    for e in rb.escalations.iter().map(|e| e.get_ref()) {
        let _ = writeln!(rest, "• {}", e.text);
    }
    let _ = writeln!(rest, "• By hand: `/{id} escalate`");
    out.push(("Verification and escalation".into(), rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The team's runbook fits one Discord message whole: four embeds of at
    /// most 1450 characters each (6000 in all), nothing cut.
    #[test]
    fn the_memory_runbook_fits_uncut() {
        let rb = Runbook::parse(include_str!("../../commands/mem.toml"), "mem.toml").unwrap();
        let sections = runbook_sections(&rb);
        assert_eq!(sections.len(), 4);
        for (title, text) in &sections {
            let n = text.chars().count();
            assert!(n <= 1450, "{title}: {n} characters");
        }
        let all: String = sections.iter().map(|(_, t)| t.as_str()).collect();
        for needle in [
            "`docker stats --no-stream`",
            "→ `/mem status`",
            "→ `/mem connections`",
            "`/mem close-idle` (needs approval)",
            "- [ ] No OOM errors in logs",
            "DevOps Lead",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
    }
}
