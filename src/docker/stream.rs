//! The engine's long-lived streams: container events (start, die, oom,
//! destroy), as the live watcher follows them.
//!
//! These requests are meant to stay open, so they carry no request timeout;
//! the watcher notices a dead stream when it ends and reconnects.

use super::{classify, DockerError, Engine, PROJECT_LABEL, SERVICE_LABEL};
use crate::config::Scope;
use bollard::query_parameters::EventsOptions;
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::time::Duration;

/// A container event the watcher acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineEvent {
    /// "start", "die", "oom" or "destroy".
    pub action: String,
    pub id: String,
    pub name: String,
    pub service: Option<String>,
    pub project: Option<String>,
}

/// The actions the watcher follows.
const ACTIONS: [&str; 4] = ["start", "die", "oom", "destroy"];

impl Engine {
    /// A client for a stream that stays open: no request timeout.
    async fn streaming_client(&self) -> Result<Docker, DockerError> {
        Ok(self
            .client()
            .await?
            .with_timeout(Duration::from_secs(u64::MAX / 4)))
    }

    /// Container events in `scope` as they happen. The stream ends when the
    /// connection does; the caller reconnects (and re-lists, since events
    /// may have been missed in between).
    pub fn container_events(
        &self,
        scope: &Scope,
    ) -> impl Stream<Item = Result<EngineEvent, DockerError>> + 'static {
        let mut filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                ACTIONS.iter().map(|a| a.to_string()).collect(),
            ),
        ]);
        if let Scope::Project(p) = scope {
            filters.insert("label".into(), vec![format!("{PROJECT_LABEL}={p}")]);
        }
        let options = EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let engine = self.clone();
        let endpoint = self.endpoint.clone();
        let timeout = self.timeout;
        // The stream owns its client, so it outlives the borrow of `self`.
        futures_util::stream::once(async move {
            match engine.streaming_client().await {
                Ok(client) => client
                    .events(Some(options))
                    .map(move |e| e.map_err(|e| classify(&endpoint, timeout, e)))
                    .boxed(),
                Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
            }
        })
        .flatten()
        .map(move |event| {
            let event = event?;
            let actor = event.actor.unwrap_or_default();
            let attributes = actor.attributes.unwrap_or_default();
            Ok(EngineEvent {
                // "exec_start: …" and the like carry a suffix.
                action: event
                    .action
                    .unwrap_or_default()
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                id: actor.id.unwrap_or_default(),
                name: attributes.get("name").cloned().unwrap_or_default(),
                service: attributes.get(SERVICE_LABEL).cloned(),
                project: attributes.get(PROJECT_LABEL).cloned(),
            })
        })
    }
}
