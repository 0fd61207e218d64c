//! Incidents before the OOM kill: a container's memory over the recent
//! window, fitted with a line (`trend::fit`); when the line reaches the
//! container's limit (or, without one, the per-container bar) within the
//! horizon, and fits well, that is a forecast. Pure: the watcher passes its
//! history and `now`.

use super::trend::{fit, History};
use time::OffsetDateTime;

/// A forecast condition (the runbook's `forecast` alert).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastRule {
    pub horizon_secs: f64,
    pub window_secs: u64,
    pub min_samples: u32,
    pub min_r2: f64,
    pub limit_margin_percent: u32,
}

/// What a forecast says.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The ceiling: the container's own limit (`true`) or the bar.
    pub own_limit: bool,
    pub ceiling_bytes: u64,
    /// Seconds from `now` until the line reaches the ceiling.
    pub eta_secs: f64,
    pub growth_bytes_per_hour: f64,
    pub r2: f64,
    /// The peak seen in the window plus the margin, rounded up to 64 MiB.
    pub suggested_limit_bytes: u64,
}

const MIB: f64 = 1024.0 * 1024.0;

/// The forecast for `h` at `now` (`bar_bytes`: the per-container bar for a
/// container without a limit), or `None`: too few samples, a poor fit, not
/// growing, or the ceiling further away than the horizon.
pub fn forecast(
    h: &History,
    rule: &ForecastRule,
    bar_bytes: u64,
    now: OffsetDateTime,
) -> Option<Forecast> {
    let since = now - time::Duration::seconds(rule.window_secs as i64);
    let points: Vec<(f64, f64)> = h
        .samples
        .iter()
        .filter(|(at, _)| *at >= since && *at <= now)
        .map(|(at, b)| ((*at - now).as_seconds_f64(), *b as f64))
        .collect();
    if points.len() < rule.min_samples as usize {
        return None;
    }
    let f = fit(&points)?;
    if f.slope <= 0.0 || f.r2 < rule.min_r2 {
        return None;
    }
    let (own_limit, ceiling) = match h.limit_bytes {
        Some(l) if l > 0 => (true, l),
        _ => (false, bar_bytes),
    };
    // The line at now is `intercept` (t is seconds relative to now).
    let eta = (ceiling as f64 - f.intercept) / f.slope;
    if !(eta > 0.0 && eta <= rule.horizon_secs) {
        return None;
    }
    let peak = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let wanted = peak * (1.0 + f64::from(rule.limit_margin_percent) / 100.0);
    let step = 64.0 * MIB;
    Some(Forecast {
        own_limit,
        ceiling_bytes: ceiling,
        eta_secs: eta,
        growth_bytes_per_hour: f.slope * 3600.0,
        r2: f.r2,
        suggested_limit_bytes: ((wanted / step).ceil() * step) as u64,
    })
}

/// "about 47 min", "about 2 h 5 min".
pub fn about(secs: f64) -> String {
    let m = (secs / 60.0).round() as i64;
    match m {
        _ if secs < 120.0 => format!("about {} s", secs.round() as i64),
        m if m < 60 => format!("about {m} min"),
        m => format!("about {} h {} min", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 14:00 UTC);

    fn rule() -> ForecastRule {
        ForecastRule {
            horizon_secs: 7200.0,
            window_secs: 1800,
            min_samples: 10,
            min_r2: 0.9,
            limit_margin_percent: 25,
        }
    }

    /// A sample every minute over the last 20 minutes: `f(minutes ago)`.
    fn history(limit: Option<u64>, f: impl Fn(i64) -> f64) -> History {
        History {
            name: "web".into(),
            service: Some("web".into()),
            limit_bytes: limit,
            samples: (0..20)
                .rev()
                .map(|ago| (NOW - time::Duration::minutes(ago), f(ago).max(0.0) as u64))
                .collect(),
        }
    }

    #[test]
    fn a_steady_climb_to_the_limit_is_forecast_with_its_eta() {
        // 600 MiB now, +5 MiB a minute (300 MiB/h): 1 GiB in 424/5 min.
        let h = history(Some(1024 * MIB as u64), |ago| {
            (600.0 - 5.0 * ago as f64) * MIB
        });
        let f = forecast(&h, &rule(), 500 * MIB as u64, NOW).expect("a forecast");
        assert!(f.own_limit);
        assert!((f.eta_secs / 60.0 - 424.0 / 5.0).abs() < 0.5, "{f:?}");
        assert!((f.growth_bytes_per_hour / MIB - 300.0).abs() < 0.5);
        assert!(f.r2 > 0.99);
        assert_eq!(
            f.suggested_limit_bytes,
            768 * MIB as u64,
            "600 MiB + 25%, rounded up to 64 MiB"
        );
        assert_eq!(about(f.eta_secs), "about 1 h 25 min");
    }

    #[test]
    fn flat_noisy_far_or_thin_series_are_not_forecast() {
        let bar = 500 * MIB as u64;
        let flat = history(None, |_| 200.0 * MIB);
        assert_eq!(forecast(&flat, &rule(), bar, NOW), None);
        let noisy = history(None, |ago| {
            (300.0 + if ago % 2 == 0 { 80.0 } else { -80.0 } - 0.5 * ago as f64) * MIB
        });
        assert_eq!(forecast(&noisy, &rule(), bar, NOW), None, "a poor fit");
        let slow = history(None, |ago| (100.0 - 0.01 * ago as f64) * MIB);
        assert_eq!(
            forecast(&slow, &rule(), bar, NOW),
            None,
            "beyond the horizon"
        );
        let mut thin = history(None, |ago| (400.0 - 5.0 * ago as f64) * MIB);
        thin.samples.drain(..15);
        assert_eq!(forecast(&thin, &rule(), bar, NOW), None, "too few samples");
        let over = history(None, |ago| (600.0 - 5.0 * ago as f64) * MIB);
        assert_eq!(
            forecast(&over, &rule(), bar, NOW),
            None,
            "past the bar already: HighMemoryUsage's"
        );
    }

    #[test]
    fn without_a_limit_the_bar_is_the_ceiling() {
        let h = history(None, |ago| (400.0 - 5.0 * ago as f64) * MIB);
        let f = forecast(&h, &rule(), 500 * MIB as u64, NOW).unwrap();
        assert!(!f.own_limit);
        assert!((f.eta_secs / 60.0 - 20.0).abs() < 0.5, "{f:?}");
    }
}
