//! Incidents before the OOM kill: every `watch.history_step_secs` the
//! watcher fits each container's recent history (`core::forecast`); a
//! container whose line reaches its limit (or the per-container bar)
//! within the runbook's horizon, with a good fit, raises the runbook's
//! forecast alert ("web will reach its 1 GiB limit in about 47 min"),
//! which opens an incident like any alert. It resolves when the forecast no
//! longer holds (growth stopped, or the container is gone).

use super::Watcher;
use crate::core::alerting::{AlertEvent, AlertSource};
use crate::core::forecast::{about, forecast, Forecast, ForecastRule};
use crate::core::memory::human_bytes;
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// Keys (service, or container name) whose forecast alert fires, and when
/// the last evaluation ran.
#[derive(Default)]
pub(super) struct Forecasting {
    firing: BTreeSet<String>,
    last: Option<OffsetDateTime>,
}

/// The sentence of a forecast for `key`.
fn sentence(key: &str, f: &Forecast) -> String {
    let ceiling = if f.own_limit {
        format!("its {} limit", human_bytes(f.ceiling_bytes))
    } else {
        format!("the {} bar", human_bytes(f.ceiling_bytes))
    };
    // A container without a limit of its own gets one suggested from its
    // recorded peak; one with a limit is told what its limit is.
    let suggestion = if f.own_limit {
        String::new()
    } else {
        format!(
            " It has no memory limit: {} (its recorded peak plus the runbook's margin) would keep it from taking the host.",
            human_bytes(f.suggested_limit_bytes)
        )
    };
    format!(
        "{key} will reach {ceiling} in {} (+{:.0} MiB/h, R² {:.2}).{suggestion} Next: /mem leaks service:{key}, then /mem profile service:{key}.",
        about(f.eta_secs),
        f.growth_bytes_per_hour / (1024.0 * 1024.0),
        f.r2,
    )
}

/// One evaluation at `now` (skipped until a history step has passed):
/// the alert events to send.
pub(super) fn evaluate(
    w: &Watcher,
    state: &mut Forecasting,
    now: OffsetDateTime,
) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    let Some((name, rule)) = w.forecast.clone() else {
        return out;
    };
    let step = time::Duration::seconds(w.settings.watch.history_step_secs.max(1) as i64);
    if state.last.is_some_and(|last| now - last < step) {
        return out;
    }
    state.last = Some(now);
    let bar = w.high_memory.map_or(500.0, |h| h.process_max_mib).max(1.0) * 1024.0 * 1024.0;
    let since = now - time::Duration::seconds(rule.window_secs as i64);
    let mut seen = BTreeSet::new();
    for (id, h) in w.cache.histories(None, since) {
        let key = h.service.clone().unwrap_or_else(|| h.name.clone());
        let Some(f) = forecast(&h, &rule, bar as u64, now) else {
            continue;
        };
        seen.insert(key.clone());
        if !state.firing.insert(key.clone()) {
            continue;
        }
        tracing::warn!(container = %h.name, eta_secs = f.eta_secs, r2 = f.r2, "memory forecast");
        out.push(AlertEvent {
            name: name.clone(),
            firing: true,
            fingerprint: w.fingerprint(&name, &key),
            service: h.service.clone(),
            container: Some((id, h.name.clone())),
            summary: sentence(&key, &f),
            source: AlertSource::Bot,
            at: now,
        });
    }
    let gone: Vec<String> = state.firing.difference(&seen).cloned().collect();
    for key in gone {
        state.firing.remove(&key);
        out.push(AlertEvent {
            name: name.clone(),
            firing: false,
            fingerprint: w.fingerprint(&name, &key),
            service: Some(key.clone()),
            container: None,
            summary: format!("{key} is no longer on course for its ceiling"),
            source: AlertSource::Bot,
            at: now,
        });
    }
    out
}

/// The forecast rule of the runbooks' forecast alert, with its name.
pub(super) fn rule_of(
    runbooks: &[crate::core::runbook::Runbook],
) -> Option<(String, ForecastRule)> {
    runbooks
        .iter()
        .flat_map(|rb| rb.alerts.iter())
        .find_map(|a| match a.get_ref().condition {
            crate::core::runbook::AlertCondition::Forecast {
                horizon_minutes,
                window_minutes,
                min_samples,
                min_r2,
                limit_margin_percent,
            } => Some((
                a.get_ref().name.clone(),
                ForecastRule {
                    horizon_secs: f64::from(horizon_minutes) * 60.0,
                    window_secs: u64::from(window_minutes) * 60,
                    min_samples,
                    min_r2,
                    limit_margin_percent,
                },
            )),
            _ => None,
        })
}
