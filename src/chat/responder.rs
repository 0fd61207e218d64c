//! Where an interaction's first answer goes: Discord's callback endpoint
//! (interactions that came over a gateway session), or the body of the
//! HTTP request Discord POSTed the interaction in (the interactions
//! endpoint, `fleet.interactions = "http"`). Edits of the reply and
//! follow-ups go over the REST API either way.

use serenity::all::{Builder as _, CreateInteractionResponse, Http, InteractionId};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// How one interaction is answered.
pub(super) struct Responder {
    /// The REST client: callbacks (gateway), edits and follow-ups (both).
    pub http: Arc<Http>,
    /// The waiting HTTP request's answer, until it is given.
    body: Option<Mutex<Option<oneshot::Sender<Vec<u8>>>>>,
}

impl Responder {
    /// Answers through Discord's callback endpoint.
    pub fn rest(http: Arc<Http>) -> Responder {
        Responder { http, body: None }
    }

    /// Answers in the body of the HTTP request that delivered the
    /// interaction: the receiver gets the JSON once.
    pub fn body(http: Arc<Http>) -> (Responder, oneshot::Receiver<Vec<u8>>) {
        let (tx, rx) = oneshot::channel();
        (
            Responder {
                http,
                body: Some(Mutex::new(Some(tx))),
            },
            rx,
        )
    }

    /// The interaction's first answer. In the HTTP body it can carry no
    /// file (Discord takes files only as multipart, over REST).
    pub async fn first(
        &self,
        id: InteractionId,
        token: &str,
        response: CreateInteractionResponse,
    ) -> Result<(), serenity::Error> {
        let Some(slot) = &self.body else {
            return response.execute(&self.http, (id, token)).await;
        };
        let tx = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(serenity::Error::Other(
                "the interaction was answered already",
            ))?;
        let json = serde_json::to_vec(&response)?;
        tx.send(json)
            .map_err(|_| serenity::Error::Other("the interaction's HTTP request was gone"))
    }
}
