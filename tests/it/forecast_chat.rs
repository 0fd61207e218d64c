//! Incidents before the OOM kill, through the whole bot: a container that
//! grows fast towards its limit opens a forecast incident before the
//! kernel kills it, and the ETA it gives is within 20% of when it really
//! gets there; a flat and a noisy container get no forecast. The window
//! and the sampling step are shortened by configuration (thresholds
//! overrides), so the test takes seconds, not hours.

use crate::discord::INCIDENT_CHANNEL_ID;
use crate::harness::*;
use std::time::{Duration, Instant};

/// The seconds of "in about N s" in a forecast's sentence.
fn eta_secs(summary: &str) -> f64 {
    let rest = summary.split(" in about ").nth(1).expect("an ETA");
    let n: f64 = rest.split(' ').next().unwrap().parse().expect("seconds");
    assert!(rest.split(' ').nth(1) == Some("s"), "{summary}");
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_leak_is_forecast_before_the_kill_and_flat_or_noisy_ones_are_not() {
    let TestApp {
        project: mut p,
        emu,
        bot,
    } = spawn_app(
        "forecast",
        &[],
        &[
            ("INCIDENT_BOT_WATCH__HISTORY_STEP_SECS", "1"),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__MEMORYFORECAST__WINDOW_MINUTES",
                "1",
            ),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__MEMORYFORECAST__MIN_SAMPLES",
                "8",
            ),
        ],
    )
    .await;
    bot.wait_log("watcher following the engine").await;
    p.start("beat", 8, None);
    p.start_with(
        "jitter",
        20,
        None,
        &["--wobble-mb", "24", "--every-ms", "1000"],
    );
    // 4 MiB a second from 8 MiB towards a 160 MiB limit: killed after ~38 s.
    let web = p.start_with(
        "web",
        8,
        Some(160),
        &["--grow-mb", "4", "--every-ms", "1000"],
    );
    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let (service, summary, at): (Option<String>, String, time::OffsetDateTime) = loop {
        let row = db
            .query_opt(
                "SELECT service, summary, started_at FROM alerts WHERE name = 'MemoryForecast'",
                &[],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            break (r.get(0), r.get(1), r.get(2));
        }
        assert!(Instant::now() < deadline, "no forecast");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(service.as_deref(), Some("web"), "{summary}");
    assert!(
        summary.starts_with("web will reach its 160MiB limit in about "),
        "{summary}"
    );
    assert!(
        summary.contains("MiB/h, R² ") && summary.contains("/mem leaks service:web"),
        "{summary}"
    );
    let predicted = at + time::Duration::seconds_f64(eta_secs(&summary));
    // The incident opened before the kill, with the forecast's report.
    let report = emu
        .wait_until(WAIT, "the forecast's report", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("**MemoryForecast**")
            })
        })
        .await;
    assert!(!report["embeds"].as_array().unwrap().is_empty(), "{report}");
    // When it really got there: the kernel's kill.
    let killed_at = loop {
        let out = docker(&[
            "inspect",
            "--format",
            "{{.State.OOMKilled}} {{.State.FinishedAt}}",
            &web,
        ]);
        let out = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some(finished) = out.strip_prefix("true ") {
            break time::OffsetDateTime::parse(
                finished,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
        }
        assert!(Instant::now() < deadline, "web was never OOM-killed: {out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(at < killed_at, "the forecast came before the kill");
    let lead = (killed_at - at).as_seconds_f64();
    let error = (killed_at - predicted).as_seconds_f64().abs();
    println!("forecast {lead:.1} s before the kill; ETA off by {error:.1} s");
    assert!(
        error <= 0.2 * lead,
        "ETA off by {error:.1} s of {lead:.1} s: {summary}"
    );
    let others: i64 = db
        .query_one(
            "SELECT count(*) FROM alerts WHERE name = 'MemoryForecast' AND service <> 'web'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        others, 0,
        "no forecast for the flat and the noisy container"
    );
}
