//! A diagnosis as an embed with its PNG chart attached, kept within
//! Discord's size limits (an embed over them is rejected whole, and the
//! person would see nothing).

use super::message::{Attachment, Embed};
use crate::chart;
use crate::core::diagnosis::{Diagnosis, Finding, Verdict};
use crate::core::runbook::{Check, Runbook};
use crate::core::text::clip;
use crate::render;

/// The chart's file name; the embed shows it via `attachment://`.
pub const CHART_FILE: &str = "memory.png";
/// The whole memory table, attached when the embed cannot hold every row.
pub const TABLE_FILE: &str = "memory-table.txt";

/// Discord's limits for an embed (characters).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_MAX: usize = 1024;
const FOOTER_MAX: usize = 2048;
const EMBED_MAX: usize = 6000;

/// `embed` with `note` added to its footer (the silences in force),
/// within Discord's limits.
pub fn footer_note(mut embed: Embed, note: &str) -> Embed {
    let footer = match embed.footer.take() {
        Some(f) => format!("{f} · {note}"),
        None => note.to_string(),
    };
    let len = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
    let fields: usize = embed
        .fields
        .iter()
        .map(|f| f.name.chars().count() + f.value.chars().count())
        .sum();
    let room = EMBED_MAX.saturating_sub(len(&embed.title) + len(&embed.description) + fields);
    embed.footer = Some(clip(&footer, FOOTER_MAX.min(room)));
    embed
}

/// The embed, and its files: the chart when the finding has one, and the
/// whole table when the embed holds only part of it.
pub fn report(d: &Diagnosis, runbook: &Runbook) -> (Embed, Vec<Attachment>) {
    let v = d.verdict();
    let png = chart_of(d, runbook);
    let title = clip(&format!("{} · {}", d.runbook_title, v.title), TITLE_MAX);
    let verdict = match &v.conclusion {
        Some(c) => format!("**{}**: {c}", v.outcome.label()),
        None => format!("**{}**", v.outcome.label()),
    };
    let fields = verdict_fields(v, verdict);
    let footer = clip(
        &format!(
            "/{} {} · {} · {}",
            d.runbook,
            v.step,
            render::scope_label(&d.scope),
            d.source.describe()
        ),
        FOOTER_MAX,
    );

    // The table takes what the rest leaves: as many containers as fit.
    let used = title.chars().count()
        + footer.chars().count()
        + fields
            .iter()
            .map(|(n, v)| n.len() + v.chars().count())
            .sum::<usize>();
    let budget = DESCRIPTION_MAX.min(EMBED_MAX.saturating_sub(used + 16));
    let (description, whole_table) = table(d, budget);

    let mut embed = fields.into_iter().fold(
        Embed::titled(title)
            .colour(render::outcome_colour(v.outcome))
            .description(description)
            .footer(footer),
        |e, (name, value)| e.field(name, value, false),
    );
    if png.is_some() {
        embed = embed.image(format!("attachment://{CHART_FILE}"));
    }
    let mut files: Vec<Attachment> = match &d.finding {
        // The profiler's whole output, as a file people can download.
        Finding::Profile(r) => vec![Attachment::new(
            format!("profile-{}.txt", r.service),
            r.output.clone().into_bytes(),
        )],
        _ => png
            .map(|png| Attachment::new(CHART_FILE, png))
            .into_iter()
            .collect(),
    };
    if let Some(text) = whole_table {
        files.push(Attachment::new(TABLE_FILE, text.into_bytes()));
    }
    (embed, files)
}

/// The chart of a finding that has one, as PNG bytes.
fn chart_of(d: &Diagnosis, runbook: &Runbook) -> Option<Vec<u8>> {
    match &d.finding {
        Finding::ContainerMemory(r) => {
            let bar = match runbook.step(&d.verdict().step).map(|s| &s.check) {
                Some(Check::ContainerMemory(c)) => c.process_max_mib,
                _ => None,
            };
            Some(chart::render_png(&render::memory_chart(d, r, bar)))
        }
        Finding::MemoryTrend(r) => Some(chart::render_trend_png(&render::trend_chart(d, r))),
        Finding::Connections(_) | Finding::Profile(_) => None,
    }
}

/// Expected, observed, the verdict, and the offenders and notes when any.
fn verdict_fields(v: &Verdict, verdict: String) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("Expected", clip(&v.expected, FIELD_MAX)),
        ("Observed", clip(&v.observed, FIELD_MAX)),
        ("Verdict", clip(&verdict, FIELD_MAX)),
    ];
    if !v.offenders.is_empty() {
        let lines: Vec<String> = v
            .offenders
            .iter()
            .take(10)
            .map(|o| format!("• {} ({}): {}", o.name, o.outcome.label(), o.reason))
            .collect();
        fields.push(("Offenders", clip(&lines.join("\n"), FIELD_MAX)));
    }
    if !v.notes.is_empty() {
        fields.push(("Notes", clip(&v.notes.join("\n"), FIELD_MAX)));
    }
    fields
}

/// The finding's table in a code block, within `budget` characters, and
/// for a memory table that does not fit whole, the whole table as text to
/// attach: every row is delivered, the embed says how many it shows.
fn table(d: &Diagnosis, budget: usize) -> (String, Option<String>) {
    if let Finding::ContainerMemory(r) = &d.finding {
        let whole = render::memory_table_of(r, &r.rows.iter().collect::<Vec<_>>());
        let text = format!("```\n{whole}```");
        if text.chars().count() <= budget {
            return (text, None);
        }
        let order = render::offenders_first(r);
        let total = r.rows.len();
        let cut = |n: usize| {
            format!(
                "```\n{}```showing {n} of {total} containers, problems first; full table attached ({TABLE_FILE})",
                render::memory_table_of(r, &order[..n])
            )
        };
        let heading = format!(
            "{} · {} · {}\n\n",
            d.runbook_title,
            render::scope_label(&d.scope),
            d.source.describe()
        );
        return (largest_fitting(total, budget, cut), Some(heading + &whole));
    }
    let (rows, table): (usize, &dyn Fn(usize) -> String) = match &d.finding {
        Finding::ContainerMemory(_) => unreachable!("handled above"),
        Finding::MemoryTrend(r) => (r.rows.len(), &|n| render::trend_table(r, n)),
        Finding::Profile(r) => (r.output.lines().count(), &|n| {
            let mut text = format!("$ {}\n", r.command);
            for line in r.output.lines().take(n) {
                text.push_str(line);
                text.push('\n');
            }
            text
        }),
        Finding::Connections(r) => (
            [&r.by_state, &r.by_application, &r.by_user_client]
                .iter()
                .map(|v| v.len())
                .chain([r.idle_in_transaction.len()])
                .max()
                .unwrap_or(0),
            &|n| render::connections_table(r, n),
        ),
    };
    let text = largest_fitting(rows, budget, |n| format!("```\n{}```", table(n)));
    (text, None)
}

/// `render(n)` for the largest `n` up to `rows` that fits in `budget`
/// characters (clipped when not even none does). A binary search: a table
/// of hundreds of rows is rendered a handful of times, not hundreds.
fn largest_fitting(rows: usize, budget: usize, render: impl Fn(usize) -> String) -> String {
    let fits = |n: usize| {
        let text = render(n);
        (text.chars().count() <= budget).then_some(text)
    };
    if let Some(text) = fits(rows) {
        return text;
    }
    let (mut lo, mut hi) = (0usize, rows);
    // Invariant: rows > hi do not fit; lo is the best known to fit.
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    fits(lo).unwrap_or_else(|| clip(&render(0), budget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::diagnosis::{judge_memory, ScopeView};
    use crate::core::memory::{ContainerSample, MemorySnapshot, Reading};

    /// The shipped runbook, and `/mem status` judged over `containers` of
    /// `project` on a 64 GiB host.
    fn memory_diagnosis(project: &str, containers: Vec<ContainerSample>) -> (Runbook, Diagnosis) {
        let rb = Runbook::parse(include_str!("../../commands/mem.toml"), "mem.toml").unwrap();
        let step = rb.step("status").unwrap();
        let Check::ContainerMemory(check) = &step.check else {
            unreachable!()
        };
        let snapshot = MemorySnapshot {
            host_memory_bytes: 64 << 30,
            containers,
        };
        let d = Diagnosis {
            runbook: "mem".into(),
            runbook_title: rb.runbook.title.clone(),
            scope: ScopeView::Project(project.into()),
            endpoint: "unix:///var/run/docker.sock".into(),
            source: crate::core::diagnosis::Source::Engine,
            finding: Finding::ContainerMemory(judge_memory(step, check, &snapshot)),
        };
        (rb, d)
    }

    /// However many containers and however long their names, the embed
    /// stays within Discord's limits, which reject an embed whole.
    #[test]
    fn big_projects_fit_discords_embed_limits() {
        for n in [1, 30, 80] {
            let containers = (0..n)
                .map(|i| ContainerSample {
                    name: format!("a-rather-long-compose-project-name-service-number-{i:03}-1"),
                    id: format!("{i:064}"),
                    service: Some(format!("service-number-{i:03}-with-a-long-name")),
                    project: Some("a-rather-long-compose-project-name".into()),
                    reading: Reading::Sampled {
                        usage_bytes: 600 << 20,
                        limit_bytes: Some(640 << 20),
                    },
                    age_ms: None,
                })
                .collect();
            let (rb, d) = memory_diagnosis("a-rather-long-compose-project-name", containers);
            let (embed, _) = report(&d, &rb);
            let len = |v: &Option<String>| v.as_ref().map_or(0, |s| s.chars().count());
            let description = len(&embed.description);
            let fields: usize = embed
                .fields
                .iter()
                .map(|f| {
                    assert!(f.value.chars().count() <= FIELD_MAX);
                    f.name.chars().count() + f.value.chars().count()
                })
                .sum();
            let total = len(&embed.title) + description + fields + len(&embed.footer);
            assert!(
                description <= DESCRIPTION_MAX,
                "{n}: description {description}"
            );
            assert!(total <= EMBED_MAX, "{n} containers: {total} characters");
            assert!(
                embed.description.as_deref().unwrap().contains("TOTAL"),
                "{n}"
            );
        }
    }

    /// 200 rows: the embed shows the offender first (it sorts last by
    /// name), says how many rows it shows, and the attached table holds
    /// all 200, with each row's age (they were sampled at different times).
    #[test]
    fn a_table_too_big_for_the_embed_is_attached_whole() {
        let containers = (0..200u64)
            .map(|i| ContainerSample {
                name: format!("shop-svc{i:03}-1"),
                id: format!("{i:064}"),
                service: Some(format!("svc{i:03}")),
                project: Some("shop".into()),
                reading: Reading::Sampled {
                    usage_bytes: if i == 199 { 700 << 20 } else { 8 << 20 },
                    limit_bytes: None,
                },
                age_ms: Some(i * 10),
            })
            .collect();
        let (rb, d) = memory_diagnosis("shop", containers);
        let (embed, files) = report(&d, &rb);
        let description = embed.description.unwrap();
        let shown: Vec<&str> = description
            .lines()
            .filter(|l| l.starts_with("shop-svc"))
            .collect();
        assert!(shown[0].starts_with("shop-svc199-1"), "{description}");
        let says = format!("showing {} of 200 containers", shown.len());
        assert!(description.contains(&says), "{description}");
        let table = files
            .iter()
            .find(|f| f.name == TABLE_FILE)
            .expect("table attached");
        let text = String::from_utf8(table.bytes.clone()).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("shop-svc")).count(),
            200
        );
        assert!(text.contains("AGE") && text.contains("1.9s"), "{text}");
        assert!(files.iter().any(|f| f.name == CHART_FILE));
    }
}
