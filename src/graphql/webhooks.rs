//! The resolvers of `webhooks`, `createWebhook` and `deleteWebhook`. Deliveries are the worker's
//! (`crate::webhooks`); here a URL is checked before it is stored, the secret made and shown
//! once, and the delivery state read back.

use std::sync::Arc;

use async_graphql::{ErrorExtensions, ID};

use super::generated::{NewWebhook, Webhook};
use super::resolvers::Resolvers;
use crate::store::{self, StoreError, WatchlistName, WebhookCreated, WebhookRecord, Webhooks};
use crate::timestamp::{self, Clock};
use crate::webhooks::{WebhookSettings, address, message};

/// What the webhook resolvers need besides the rest of [`Resolvers`].
pub struct WebhookApi {
    store: Arc<dyn Webhooks>,
    allow_private: bool,
    clock: Clock,
}

impl WebhookApi {
    /// With the default settings (only global addresses) and the system clock.
    pub fn new(store: Arc<dyn Webhooks>) -> Self {
        Self {
            store,
            allow_private: false,
            clock: Clock::system(),
        }
    }
}

impl Resolvers {
    /// The webhook resolvers on `store`, with `settings` (`SECWORKS_WEBHOOK_ALLOW_PRIVATE`)
    /// and the service's `clock`.
    pub fn with_webhooks(
        mut self,
        store: Arc<dyn Webhooks>,
        settings: &WebhookSettings,
        clock: Clock,
    ) -> Self {
        self.hooks = WebhookApi {
            store,
            allow_private: settings.allow_private,
            clock,
        };
        self
    }

    pub(super) async fn list_webhooks(&self) -> async_graphql::Result<Vec<Webhook>> {
        let records = self.hooks.store.webhooks().await.map_err(internal)?;
        Ok(records.into_iter().map(Webhook::from).collect())
    }

    pub(super) async fn new_webhook(
        &self,
        url: String,
        watchlist: Option<String>,
    ) -> async_graphql::Result<NewWebhook> {
        let checked = address::check(url.trim(), self.hooks.allow_private)
            .await
            .map_err(|problem| bad_input("url", format!("{:?} is refused: {problem}", url)))?;
        let watchlist = watchlist
            .map(|name| {
                name.parse::<WatchlistName>()
                    .map_err(|e| bad_input("watchlist", e.to_string()))
            })
            .transpose()?;
        let secret = message::new_secret().map_err(|e| {
            tracing::error!(error = %e, "cannot draw random bytes for a webhook secret");
            internal_error()
        })?;
        let url = checked.uri.to_string();
        let new = store::NewWebhook {
            url: &url,
            watchlist: watchlist.as_ref(),
            secret: &secret,
        };
        match self
            .hooks
            .store
            .create_webhook(new, self.hooks.clock.now())
            .await
            .map_err(internal)?
        {
            WebhookCreated::Created(record) => {
                tracing::info!(webhook = record.id, url = %record.url, "webhook created");
                Ok(NewWebhook {
                    webhook: Webhook::from(record),
                    secret,
                })
            }
            WebhookCreated::NoWatchlist => {
                let name = watchlist.map(|name| name.to_string()).unwrap_or_default();
                Err(bad_input(
                    "watchlist",
                    format!("there is no watchlist named {name:?}"),
                ))
            }
        }
    }

    pub(super) async fn remove_webhook(&self, id: ID) -> async_graphql::Result<bool> {
        // An id this service never gave out names no webhook.
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let deleted = self
            .hooks
            .store
            .delete_webhook(id)
            .await
            .map_err(internal)?;
        if deleted {
            tracing::info!(webhook = id, "webhook deleted");
        }
        Ok(deleted)
    }
}

impl From<WebhookRecord> for Webhook {
    fn from(record: WebhookRecord) -> Self {
        Self {
            id: ID(record.id.to_string()),
            url: record.url,
            watchlist: record.watchlist.map(|name| name.to_string()),
            created_at: timestamp::format(record.created_at),
            last_delivery_at: record.last_delivery_at.map(timestamp::format),
            last_status: record.last_status.map(i32::from),
            pending: i32::try_from(record.pending).unwrap_or(i32::MAX),
            failing: record.failing,
        }
    }
}

fn bad_input(argument: &str, message: String) -> async_graphql::Error {
    async_graphql::Error::new(format!("argument `{argument}`: {message}"))
        .extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT"))
}

fn internal_error() -> async_graphql::Error {
    async_graphql::Error::new("internal error").extend_with(|_, ext| ext.set("code", "INTERNAL"))
}

fn internal(error: StoreError) -> async_graphql::Error {
    tracing::error!(error = %error, "resolver failed on the store");
    internal_error()
}
