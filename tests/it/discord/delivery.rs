//! Interactions delivered over HTTP, as Discord does for an application
//! with an Interactions Endpoint URL: each one POSTed to the bot, signed
//! with Ed25519 over timestamp and body (`X-Signature-Ed25519`,
//! `X-Signature-Timestamp`). The bot's answer in the response body counts
//! as the interaction's callback (recorded as one, so tests read both
//! modes alike); what else the bot does goes over REST as usual.

use super::rest::Parsed;
use super::{interactions, Emulator, Recorded};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use std::time::Instant;

/// Where interactions go, and the key they are signed with.
pub struct Delivery {
    pub url: String,
    pub key: SigningKey,
}

/// An interaction built, not yet POSTed.
pub struct Outgoing {
    pub id: u64,
    pub token: String,
    pub payload: Value,
}

/// What one POST came to, for tests that look at refusals.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub interaction_id: u64,
    pub status: u16,
    pub body: String,
    /// The request as sent: body, timestamp and signature (to replay it).
    pub request: (Vec<u8>, String, String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fixed test key: the application's "public key" is its verifying half.
fn test_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

impl Emulator {
    /// From now on, interactions are POSTed to `url` instead of dispatched
    /// over the gateway. Returns the public key (hex) the bot must verify
    /// them with (`DISCORD_PUBLIC_KEY`).
    pub fn deliver_over_http(&self, url: &str) -> String {
        let key = test_key();
        let public = hex(key.verifying_key().as_bytes());
        self.shared.write(|s| {
            s.http_delivery = Some(Delivery {
                url: url.to_string(),
                key,
            })
        });
        public
    }

    /// The signature headers' values for `body` at `timestamp`, as Discord
    /// would send them (for tests that forge or replay requests).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let message = [timestamp.as_bytes(), body].concat();
        hex(&test_key().sign(&message).to_bytes())
    }

    /// Every POST made so far, in order.
    pub fn deliveries(&self) -> Vec<Delivered> {
        self.shared.read(|s| s.delivered.clone())
    }

    /// POSTs what the last injection built; the answer in each response
    /// body is taken as that interaction's callback.
    pub(super) async fn deliver_outbox(&self) {
        let (url, out) = self.shared.write(|s| {
            let url = s.http_delivery.as_ref().map(|d| d.url.clone());
            (url, std::mem::take(&mut s.outbox))
        });
        let Some(url) = url else { return };
        for o in out {
            let body = serde_json::to_vec(&o.payload).unwrap();
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
            let signature = self.sign(&timestamp, &body);
            let request = (body.clone(), timestamp.clone(), signature.clone());
            let sent = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("x-signature-ed25519", signature)
                .header("x-signature-timestamp", timestamp)
                .body(body)
                .send()
                .await;
            let (status, text) = match sent {
                Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(e) => (0, e.to_string()),
            };
            self.shared.write(|s| {
                s.delivered.push(Delivered {
                    interaction_id: o.id,
                    status,
                    body: text.clone(),
                    request,
                });
                s.mark_delivered(Some(o.id));
                let Ok(json) = serde_json::from_str::<Value>(&text) else {
                    return;
                };
                let parsed = Parsed {
                    json: Some(json.clone()),
                    uploads: Vec::new(),
                };
                let reply = interactions::callback(s, &o.id.to_string(), &o.token, &parsed);
                s.requests.push(Recorded {
                    method: "POST".into(),
                    path: format!("/api/v10/interactions/{}/{}/callback", o.id, o.token),
                    query: String::new(),
                    json: Some(json),
                    files: Vec::new(),
                    status: reply.status(),
                    at: Instant::now(),
                });
            });
        }
    }
}
