//! What a delivery sends, per the Standard Webhooks specification: a JSON body
//! `{"type", "timestamp", "data"}`, and the headers `webhook-id` (one per webhook and event,
//! the same on every retry, so a receiver can drop duplicates), `webhook-timestamp` (the
//! attempt's, in Unix seconds) and `webhook-signature` (`v1,<base64 of HMAC-SHA256 over
//! "{id}.{timestamp}.{body}">`, signed by the `standardwebhooks` crate with the webhook's
//! `whsec_` secret).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::store::{ListingChange, ListingEventRecord};

/// Random bytes in a secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret, `whsec_` and the base64 of random bytes from the system's CSPRNG.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// One event for one webhook, ready to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `webhook-id`: stable across retries of this event to this webhook.
    pub id: String,
    pub body: Bytes,
}

/// The event type of a change.
pub fn event_type(change: ListingChange) -> &'static str {
    match change {
        ListingChange::Listed => "listing.listed",
        ListingChange::Delisted => "listing.delisted",
        ListingChange::Changed => "listing.changed",
    }
}

/// The message of `event` for webhook `webhook`. `data` holds the event's fields as the
/// GraphQL `ListingEvent` names them; `delist_url` (the list's lookup page) is given for a
/// listing (LISTED, CHANGED) only.
pub fn message(webhook: i64, event: &ListingEventRecord, delist_url: Option<&str>) -> Message {
    let (change, listed) = match event.change {
        ListingChange::Listed => ("LISTED", true),
        ListingChange::Delisted => ("DELISTED", false),
        ListingChange::Changed => ("CHANGED", true),
    };
    let at = crate::timestamp::format(event.at);
    let codes = |codes: &[std::net::Ipv4Addr]| -> Vec<String> {
        codes.iter().map(ToString::to_string).collect()
    };
    let body = json!({
        "type": event_type(event.change),
        "timestamp": at,
        "data": {
            "id": event.id.to_string(),
            "cursor": event.id.to_string(),
            "at": at,
            "target": event.target.to_string(),
            "blocklist": event.blocklist,
            "change": change,
            "return_codes": codes(&event.return_codes),
            "previous_return_codes": codes(&event.previous_return_codes),
            "reason": event.reason,
            "delist_url": delist_url.filter(|_| listed),
        },
    });
    Message {
        id: format!("msg_{webhook}_{}", event.id),
        body: Bytes::from(body.to_string()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the stored secret cannot be read: {0}")]
    Secret(standardwebhooks::WebhookError),
    #[error("cannot sign: {0}")]
    Sign(standardwebhooks::WebhookError),
    #[error("a header value is not valid: {0}")]
    Header(#[from] http::header::InvalidHeaderValue),
}

/// The three Standard Webhooks headers of `message`, sent at `timestamp` (Unix seconds).
pub fn headers(secret: &str, message: &Message, timestamp: i64) -> Result<HeaderMap, SignError> {
    let signer = standardwebhooks::Webhook::new(secret).map_err(SignError::Secret)?;
    let signature = signer
        .sign(&message.id, timestamp, &message.body)
        .map_err(SignError::Sign)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        standardwebhooks::HEADER_WEBHOOK_ID,
        HeaderValue::from_str(&message.id)?,
    );
    headers.insert(
        standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
        HeaderValue::from(timestamp),
    );
    headers.insert(
        standardwebhooks::HEADER_WEBHOOK_SIGNATURE,
        HeaderValue::from_str(&signature)?,
    );
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use hmac::{KeyInit, Mac};
    use time::macros::datetime;

    use super::*;
    use crate::store::Target;

    fn event() -> ListingEventRecord {
        ListingEventRecord {
            id: 42,
            at: datetime!(2024-05-01 12:00:00.5 UTC),
            target: Target::parse("192.0.2.1").unwrap(),
            blocklist: "spamhaus-zen".to_owned(),
            change: ListingChange::Changed,
            return_codes: vec!["127.0.0.4".parse().unwrap()],
            previous_return_codes: vec!["127.0.0.2".parse().unwrap()],
            reason: Some("see the list".to_owned()),
        }
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let (one, two) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(one, two);
        let raw = STANDARD
            .decode(one.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn the_body_holds_the_event_as_graphql_names_it() {
        let message = message(7, &event(), Some("https://check.example/"));
        assert_eq!(message.id, "msg_7_42");
        let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "listing.changed",
                "timestamp": "2024-05-01T12:00:00.500000Z",
                "data": {
                    "id": "42", "cursor": "42", "at": "2024-05-01T12:00:00.500000Z",
                    "target": "192.0.2.1", "blocklist": "spamhaus-zen", "change": "CHANGED",
                    "return_codes": ["127.0.0.4"], "previous_return_codes": ["127.0.0.2"],
                    "reason": "see the list", "delist_url": "https://check.example/",
                }
            })
        );
        let mut delisted = event();
        delisted.change = ListingChange::Delisted;
        let body: serde_json::Value =
            serde_json::from_slice(&super::message(7, &delisted, Some("x")).body).unwrap();
        assert_eq!(body["type"], "listing.delisted");
        assert_eq!(body["data"]["delist_url"], serde_json::Value::Null);
    }

    /// The signature is what the specification's reference algorithm computes, and what the
    /// crate's own verifier accepts.
    #[test]
    fn signatures_follow_the_specification() {
        let secret = new_secret().unwrap();
        let message = message(1, &event(), None);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let headers = headers(&secret, &message, now).unwrap();
        assert_eq!(headers["webhook-id"], "msg_1_42");
        assert_eq!(headers["webhook-timestamp"], now.to_string().as_str());

        let key = STANDARD.decode(&secret["whsec_".len()..]).unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("msg_1_42.{now}.").as_bytes());
        mac.update(&message.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(headers["webhook-signature"], expected.as_str());

        let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
        verifier.verify(&message.body, &headers).unwrap();
    }
}
