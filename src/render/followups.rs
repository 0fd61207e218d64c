//! Follow-ups as chat text and as the postmortem's section.

use crate::store::Followup;
use time::Date;

/// One follow-up: `#3 · text · owner <@u> · due 2026-12-21 (overdue) · open`.
pub fn line(f: &Followup, today: Date, with_incident: bool) -> String {
    let state = if f.done { "done" } else { "open" };
    let overdue = if !f.done && f.due_on < today {
        " (overdue)"
    } else {
        ""
    };
    let incident = if with_incident {
        format!(" · incident #{}", f.incident_id)
    } else {
        String::new()
    };
    format!(
        "#{} · {} · owner <@{}> · due {}{overdue} · {state}{incident}",
        f.id, f.text, f.owner_id, f.due_on
    )
}

/// A list, or what it means when empty.
pub fn list(title: &str, all: &[Followup], today: Date, with_incident: bool) -> String {
    if all.is_empty() {
        return format!("{title}: none.");
    }
    let lines: Vec<String> = all.iter().map(|f| line(f, today, with_incident)).collect();
    crate::core::text::clip(&format!("{title}:\n{}", lines.join("\n")), 1900)
}

/// What resolving offers: the runbook's prevention items.
pub fn offer(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = items.iter().map(|i| format!("• {i}")).collect();
    format!(
        "\nFollow-ups from the runbook's prevention list (add one with `/incident followup add item:…`):\n{}",
        lines.join("\n")
    )
}

/// The postmortem's section.
pub fn postmortem(all: &[Followup], today: Date) -> String {
    let mut md = String::from("\n## Follow-ups\n\n");
    if all.is_empty() {
        md.push_str("None recorded.\n");
    }
    for f in all {
        md.push_str(&format!(
            "- [{}] {}\n",
            if f.done { "x" } else { " " },
            line(f, today, false)
        ));
    }
    md
}
