//! Recreating a container with a new command and otherwise the same
//! configuration: what `docker compose up -d` does after the command in
//! the compose file changed. Called only for approved requests, after the
//! caller checked the container is the service's and in the project.
//!
//! The new container is created first under a temporary name, so a
//! configuration the engine refuses leaves the old one untouched; if the
//! new one will not start, the old one is put back and started again.

use super::{classify, ContainerDetails, DockerError, Engine};
use bollard::models::{ContainerCreateBody, EndpointSettings, NetworkingConfig};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, RenameContainerOptions, StopContainerOptions,
};
use std::collections::HashMap;
use std::time::Duration;

impl Engine {
    /// Replaces container `id` by one with the same configuration and
    /// `command` (the image's entrypoint is kept); returns the new one.
    pub async fn recreate_with_command(
        &self,
        id: &str,
        command: Vec<String>,
        stop_timeout: Duration,
    ) -> Result<ContainerDetails, DockerError> {
        let client = self.client().await?;
        let old = self.bounded(client.inspect_container(id, None)).await?;
        let old_id = old.id.clone().unwrap_or_else(|| id.to_string());
        let short: String = old_id.chars().take(12).collect();
        let name = old
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        let body = same_but_command(&old, &old_id, command);
        let temp = format!("{name}-ib-new-{short}");
        let created = self
            .bounded(client.create_container(
                Some(CreateContainerOptions {
                    name: Some(temp.clone()),
                    ..Default::default()
                }),
                body,
            ))
            .await?;
        // From here on the old container is changed; each step is bounded.
        let slow = client.clone().with_timeout(stop_timeout + self.timeout);
        let stop = StopContainerOptions {
            t: Some(stop_timeout.as_secs().min(i32::MAX as u64) as i32),
            signal: None,
        };
        let rename = |to: String| RenameContainerOptions { name: to };
        let parked = format!("{name}-ib-old-{short}");
        let swap = async {
            slow.stop_container(&old_id, Some(stop)).await?;
            client
                .rename_container(&old_id, rename(parked.clone()))
                .await?;
            client
                .rename_container(&created.id, rename(name.clone()))
                .await?;
            client.start_container(&created.id, None).await
        };
        if let Err(e) = swap.await {
            tracing::error!(container = %name, error = %e, "the recreated container did not start; putting the old one back");
            put_back(&client, &created.id, &temp, &old_id, &name).await;
            return Err(classify(&self.endpoint, self.timeout, e));
        }
        if let Err(e) = client
            .remove_container(
                &old_id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
        {
            tracing::warn!(container = %parked, error = %e, "the replaced container could not be removed");
        }
        self.inspect(&created.id)
            .await?
            .ok_or_else(|| DockerError::Api {
                endpoint: self.endpoint.clone(),
                source: bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    message: format!("the new container {} vanished", created.id),
                },
            })
    }
}

/// The creation body of a container configured like `old` (only what the
/// user chose; the engine assigns the rest) but running `command`.
fn same_but_command(
    old: &bollard::models::ContainerInspectResponse,
    old_id: &str,
    command: Vec<String>,
) -> ContainerCreateBody {
    let config = old.config.clone().unwrap_or_default();
    // Only settings the user chose; the engine assigns the rest (the
    // default hostname is the old container's id).
    let hostname = config
        .hostname
        .clone()
        .filter(|h| !old_id.starts_with(h.as_str()));
    let endpoints: HashMap<String, EndpointSettings> = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(net, e)| {
            let aliases = e.aliases.map(|a| {
                a.into_iter()
                    .filter(|alias| !old_id.starts_with(alias.as_str()))
                    .collect()
            });
            (
                net,
                EndpointSettings {
                    ipam_config: e.ipam_config,
                    links: e.links,
                    aliases,
                    driver_opts: e.driver_opts,
                    ..Default::default()
                },
            )
        })
        .collect();
    ContainerCreateBody {
        hostname,
        domainname: config.domainname,
        user: config.user,
        exposed_ports: config.exposed_ports,
        tty: config.tty,
        open_stdin: config.open_stdin,
        stdin_once: config.stdin_once,
        env: config.env,
        cmd: Some(command),
        healthcheck: config.healthcheck,
        image: config.image,
        volumes: config.volumes,
        working_dir: config.working_dir,
        entrypoint: config.entrypoint,
        labels: config.labels,
        stop_signal: config.stop_signal,
        stop_timeout: config.stop_timeout,
        shell: config.shell,
        host_config: old.host_config.clone(),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
        ..Default::default()
    }
}

/// Undoes a swap that failed half-way: the new container gets its
/// temporary name back and is removed, the old one its name and is
/// started again. Best effort: each step is tried whatever the last did.
async fn put_back(client: &bollard::Docker, new_id: &str, temp: &str, old_id: &str, name: &str) {
    let rename = |to: &str| RenameContainerOptions {
        name: to.to_string(),
    };
    let _ = client.rename_container(new_id, rename(temp)).await;
    let _ = client.rename_container(old_id, rename(name)).await;
    let _ = client.start_container(old_id, None).await;
    let _ = client
        .remove_container(
            new_id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
}
