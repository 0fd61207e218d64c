//! `incident-bot health [URL]`: asks a running bot's HTTP endpoint whether
//! it is healthy (its own `/healthz` at `http.listen` by default). It is
//! the container image's health check, so the image needs no HTTP client
//! of its own; with `--print` it shows the body (say, of `/metrics`).
//!
//! Plain HTTP/1.0 over one TCP connection, bounded in time: a health check
//! that hangs is worse than one that fails.

use crate::config::Settings;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The whole exchange must fit in this.
const BOUND: Duration = Duration::from_secs(3);
/// Bodies larger than this are cut (a health check needs the status line).
const MAX_BODY: usize = 4 << 20;

/// Runs the check; 0 when the endpoint answered 2xx.
pub(super) fn run(settings: &Settings, url: Option<String>, print: bool) -> ExitCode {
    let url = url.unwrap_or_else(|| own_healthz(&settings.http.listen));
    let answer = super::admin::runtime().block_on(async {
        tokio::time::timeout(BOUND, get(&url))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", BOUND.as_secs())))
    });
    match answer {
        Ok((status, body)) => {
            if print {
                {
                    use std::io::Write as _;
                    let _ = write!(std::io::stdout(), "{body}");
                }
            }
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                eprintln!("{url} answered {status}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `/healthz` of the listen address, reached over loopback when the bot
/// listens on every address.
fn own_healthz(listen: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "9187"));
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "[::]" => "[::1]",
        h => h,
    };
    format!("http://{host}:{port}/healthz")
}

/// `http://host:port/path` → (`host:port`, `host`, `/path`).
fn split(url: &str) -> Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are checked, not {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_string();
    let addr = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, host, path.to_string()))
}

async fn get(url: &str) -> Result<(u16, String), String> {
    let (addr, host, path) = split(url)?;
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut raw = Vec::new();
    conn.take(MAX_BODY as u64)
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "not an HTTP answer".to_string())?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_own_healthz_over_loopback() {
        assert_eq!(own_healthz("0.0.0.0:9187"), "http://127.0.0.1:9187/healthz");
        assert_eq!(own_healthz("127.0.0.1:80"), "http://127.0.0.1:80/healthz");
        assert_eq!(own_healthz("[::]:9"), "http://[::1]:9/healthz");
    }

    #[test]
    fn urls_split_into_address_host_and_path() {
        let s = |u: &str| split(u).unwrap();
        assert_eq!(
            s("http://bot:9187/metrics"),
            ("bot:9187".into(), "bot".into(), "/metrics".into())
        );
        assert_eq!(s("http://bot"), ("bot:80".into(), "bot".into(), "/".into()));
        assert!(split("https://bot/").is_err(), "only plain http");
    }
}
