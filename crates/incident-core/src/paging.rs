//! Paging policy: who page `n` of an incident goes to and when the next is
//! due (climbing the roster while nobody acknowledges), what a silence
//! covers and how long it lasts, and when the bot must say it is blind.
//!
//! The caller keeps the count of pages sent and the time; this module only
//! decides.

use crate::runbook::{Paging, RosterRole, SeverityLevel};
use time::{Duration, OffsetDateTime};

/// One page to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// 0 for the first page of an incident.
    pub seq: u32,
    /// The roster role paged.
    pub role: String,
    /// When the next page is due if nobody acknowledges; `None`: this is
    /// the last one (`max_pages`).
    pub next_at: Option<OffsetDateTime>,
}

/// Page `seq` of an incident at severity `sev`, sent at `now`: the first
/// role is the severity's `page_first`, each role gets `pages_per_role`
/// pages, then the next role up; the top role keeps getting them until
/// `max_pages`. `None` once `max_pages` were sent.
pub fn page(
    ladder: &[RosterRole],
    paging: &Paging,
    sev: &SeverityLevel,
    seq: u32,
    now: OffsetDateTime,
) -> Option<Page> {
    if seq >= paging.max_pages || ladder.is_empty() {
        return None;
    }
    let start = ladder
        .iter()
        .position(|r| r.id == sev.page_first)
        .unwrap_or(0);
    let climbed = (seq / paging.pages_per_role.max(1)) as usize;
    let role = &ladder[(start + climbed).min(ladder.len() - 1)];
    let next_at = (seq + 1 < paging.max_pages)
        .then(|| now + Duration::minutes(i64::from(sev.repeat_minutes)));
    Some(Page {
        seq,
        role: role.id.clone(),
        next_at,
    })
}

/// When the page after one sent at `last` is due at severity `sev` (a
/// severity change re-plans the next page from the last one).
pub fn next_after(last: OffsetDateTime, sev: &SeverityLevel) -> OffsetDateTime {
    last + Duration::minutes(i64::from(sev.repeat_minutes))
}

/// Whether a silence of `silenced` (`None`: every service) covers an alert
/// about `service` (`None`: the project's total).
pub fn covers(silenced: Option<&str>, service: Option<&str>) -> bool {
    match silenced {
        None => true,
        Some(s) => service == Some(s),
    }
}

/// The length of a silence asked for with `minutes` (`None`: the
/// runbook's default); `Err` is the sentence.
pub fn silence_minutes(minutes: Option<i64>, paging: &Paging) -> Result<u32, String> {
    let max = paging.silence_max_minutes;
    match minutes {
        None => Ok(paging.silence_default_minutes),
        Some(m) if m >= 1 && m <= i64::from(max) => Ok(m as u32),
        Some(m) => Err(format!(
            "A silence lasts 1 to {max} minutes (the runbook's limit), not {m}."
        )),
    }
}

/// Something the bot cannot see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Blind {
    /// The Docker engine does not answer.
    Engine,
    /// The watcher has not completed a sampling round.
    Watcher,
    /// The bot's database does not answer.
    Database,
}

impl Blind {
    pub fn as_str(self) -> &'static str {
        match self {
            Blind::Engine => "engine",
            Blind::Watcher => "watcher",
            Blind::Database => "database",
        }
    }

    /// What the bot cannot do while this lasts, for the channel.
    pub fn sentence(self) -> &'static str {
        match self {
            Blind::Engine => "the Docker engine does not answer: no memory readings, no OOM events, no alerts from me",
            Blind::Watcher => "my memory watcher has stalled: readings are getting old and alerts may be missed",
            Blind::Database => "my database does not answer: nothing can be recorded, so no incidents, pages or approvals",
        }
    }
}

/// What the bot can see now: since when each part has been failing
/// (`None`: it works).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sight {
    pub engine_down_since: Option<OffsetDateTime>,
    /// The watcher's latest completed round (`None`: none yet).
    pub last_round: Option<OffsetDateTime>,
    pub database_down_since: Option<OffsetDateTime>,
}

/// The parts that have been failing for `after` or longer at `now`. A
/// watcher with no round yet is judged from `started`; a stalled watcher is
/// not counted while the engine is down (that is the engine's fault, said
/// once).
pub fn blind(
    sight: &Sight,
    started: OffsetDateTime,
    now: OffsetDateTime,
    after: Duration,
) -> Vec<Blind> {
    let long = |since: Option<OffsetDateTime>| since.is_some_and(|s| now - s >= after);
    let mut out = Vec::new();
    let engine = long(sight.engine_down_since);
    if engine {
        out.push(Blind::Engine);
    }
    if !engine && now - sight.last_round.unwrap_or(started) >= after {
        out.push(Blind::Watcher);
    }
    if long(sight.database_down_since) {
        out.push(Blind::Database);
    }
    out
}

#[cfg(test)]
mod tests;
