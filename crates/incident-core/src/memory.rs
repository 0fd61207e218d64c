//! Memory observations as plain values, and the docker CLI's arithmetic on
//! them, so the bot's numbers agree with `docker stats` to the byte.
//!
//! The docker module fills these types from the engine; the diagnosis judges
//! them. Nothing here knows where the numbers came from.

use serde::Serialize;
use std::collections::HashMap;

pub const MIB: f64 = 1024.0 * 1024.0;

/// What one container looked like when it was sampled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSample {
    pub name: String,
    /// Full container ID.
    pub id: String,
    /// `com.docker.compose.service`, when the container has one.
    pub service: Option<String>,
    /// `com.docker.compose.project`, when the container has one.
    pub project: Option<String>,
    #[serde(flatten)]
    pub reading: Reading,
    /// How old the reading was when the report was made, for readings
    /// from the live watcher; `None` when read for this report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
}

/// The outcome of reading one container's memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reading {
    /// Usage in bytes as `docker stats` shows it; `limit_bytes` is `None`
    /// when the container has no memory limit of its own.
    Sampled {
        usage_bytes: u64,
        limit_bytes: Option<u64>,
    },
    /// The container stopped or was removed between listing and sampling.
    Gone,
    /// The engine did not answer for this container (the reason, one line).
    Failed { reason: String },
}

/// All containers in scope, sampled together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorySnapshot {
    /// Host memory as the engine reports it (`docker info`'s Total Memory).
    pub host_memory_bytes: u64,
    pub containers: Vec<ContainerSample>,
}

/// Memory usage exactly as the docker CLI computes it
/// (`calculateMemUsageUnixNoCache`): usage minus inactive page cache, which
/// the kernel can reclaim, from `total_inactive_file` on cgroup v1 or
/// `inactive_file` on cgroup v2.
pub fn usage_without_cache(usage: u64, stats: &HashMap<String, u64>) -> u64 {
    if let Some(&v) = stats.get("total_inactive_file") {
        if v < usage {
            return usage - v;
        }
        // cgroup v1 with inactive >= usage: the CLI falls through to v2.
    }
    match stats.get("inactive_file") {
        Some(&v) if v < usage => usage - v,
        _ => usage,
    }
}

/// The engine reports the host's memory as the limit of a container that
/// has none; a limit at or above host memory therefore limits nothing.
pub fn own_limit(reported_limit: u64, host_memory_bytes: u64) -> Option<u64> {
    (reported_limit > 0 && reported_limit < host_memory_bytes).then_some(reported_limit)
}

/// Bytes as the docker CLI prints them (go-units' `BytesSize`: four
/// significant digits, binary units): `523.7MiB`, `128MiB`, `23.54GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // "%.4g": as many decimals as leave four significant digits, then
    // trailing zeros dropped.
    let int_digits = if value < 1.0 {
        1
    } else {
        value.log10().floor() as usize + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let mut text = format!("{value:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_matches_the_docker_cli() {
        let m = |pairs: &[(&str, u64)]| -> HashMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        // (usage, stats, expected)
        let cases = [
            (1000, m(&[("total_inactive_file", 300)]), 700), // cgroup v1
            (1000, m(&[("inactive_file", 250)]), 750),       // cgroup v2
            (1000, m(&[]), 1000),                            // neither
            // v1 value not below usage: fall through to v2's key, as the CLI does
            (
                1000,
                m(&[("total_inactive_file", 1000), ("inactive_file", 100)]),
                900,
            ),
            (1000, m(&[("total_inactive_file", 5000)]), 1000),
            (1000, m(&[("inactive_file", 1000)]), 1000),
        ];
        for (usage, stats, expected) in cases {
            assert_eq!(usage_without_cache(usage, &stats), expected, "{stats:?}");
        }
    }

    #[test]
    fn a_limit_at_host_memory_is_no_limit() {
        let host = 8 << 30;
        assert_eq!(own_limit(256 << 20, host), Some(256 << 20));
        assert_eq!(own_limit(host, host), None);
        assert_eq!(own_limit(9_223_372_036_854_771_712, host), None);
        assert_eq!(own_limit(0, host), None);
    }

    #[test]
    fn bytes_read_like_docker_stats() {
        for (bytes, text) in [
            (512, "512B"),
            (2048, "2KiB"),
            (101 << 20, "101MiB"),
            (15 * (1 << 20) / 2, "7.5MiB"),
            (3 << 30, "3GiB"),
            (116_867_072, "111.5MiB"),
            (549_101_568, "523.7MiB"),
            (25_276_514_304, "23.54GiB"),
            (1_023 << 20, "1023MiB"),
        ] {
            assert_eq!(human_bytes(bytes), text);
        }
    }
}
