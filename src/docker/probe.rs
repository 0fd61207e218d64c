//! Read-only probes beyond memory: every container of a scope (stopped
//! ones too, for OOM kills), a container's recent logs, and running a
//! runbook-declared command inside a container with its output captured
//! (bounded in time and size).

use super::{classify, DockerError, Engine, Listed};
use crate::config::Scope;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use std::time::Duration;

/// What a command run inside a container printed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    /// stdout and stderr, interleaved as they came, cut at the cap.
    pub output: Vec<u8>,
    /// More was printed than the cap allowed.
    pub truncated: bool,
    /// It did not finish within the timeout (it was left to the engine).
    pub timed_out: bool,
    pub exit_code: Option<i64>,
}

impl Engine {
    /// Every container in `scope`, stopped ones included.
    pub async fn list_all(&self, scope: &Scope) -> Result<Vec<Listed>, DockerError> {
        self.list_where(scope, true).await
    }

    /// The container's log lines (stdout and stderr) since `since_unix`,
    /// at most the last `tail` lines.
    pub async fn logs_since(
        &self,
        id: &str,
        since_unix: i64,
        tail: usize,
    ) -> Result<Vec<String>, DockerError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            since: since_unix.clamp(0, i64::from(i32::MAX)) as i32,
            tail: tail.to_string(),
            ..Default::default()
        };
        let client = self.client().await?;
        let read = async {
            let mut lines = Vec::new();
            let mut stream = client.logs(id, Some(options));
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                lines.extend(chunk.to_string().lines().map(str::to_string));
            }
            Ok(lines)
        };
        self.bounded(read).await
    }

    /// Runs `argv` (from a runbook file, never from chat) inside container
    /// `id`, capturing at most `max_bytes` of output within `timeout`.
    pub async fn exec_capture(
        &self,
        id: &str,
        argv: &[String],
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<ExecOutput, DockerError> {
        let config = ExecConfig {
            cmd: Some(argv.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let client = self.client().await?;
        let created = self.bounded(client.create_exec(id, config)).await?;
        let started = self
            .bounded(client.start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            ))
            .await?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Ok(ExecOutput {
                output: Vec::new(),
                truncated: false,
                timed_out: false,
                exit_code: None,
            });
        };
        let mut out = ExecOutput {
            output: Vec::new(),
            truncated: false,
            timed_out: false,
            exit_code: None,
        };
        let read = async {
            while let Some(chunk) = output.next().await {
                let chunk = chunk.map_err(|e| classify(&self.endpoint, self.timeout, e))?;
                let bytes = chunk.as_ref();
                let room = max_bytes.saturating_sub(out.output.len());
                if bytes.len() > room {
                    out.output.extend_from_slice(&bytes[..room]);
                    out.truncated = true;
                    // Enough: stop reading (the command may go on).
                    break;
                }
                out.output.extend_from_slice(bytes);
            }
            Ok::<(), DockerError>(())
        };
        match tokio::time::timeout(timeout, read).await {
            Err(_) => out.timed_out = true,
            Ok(r) => r?,
        }
        if !out.timed_out && !out.truncated {
            let inspected = self.bounded(client.inspect_exec(&created.id)).await?;
            out.exit_code = inspected.exit_code;
        }
        Ok(out)
    }
}
