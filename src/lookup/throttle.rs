//! Slowing one list's lookups down: a lookups-per-second cap, and a pause after the list
//! says we query too much.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

pub struct Throttle {
    limiter: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
    pause: Duration,
}

impl Throttle {
    pub fn new(qps: Option<NonZeroU32>, pause: Duration) -> Self {
        Self {
            limiter: qps.map(|qps| RateLimiter::direct(Quota::per_second(qps))),
            paused_until: Mutex::new(None),
            pause,
        }
    }

    /// Stops every lookup from starting for the pause period.
    pub fn pause(&self) {
        let until = Instant::now() + self.pause;
        if let Ok(mut paused) = self.paused_until.lock() {
            *paused = Some(paused.map_or(until, |p| p.max(until)));
        }
    }

    /// Waits for the next slot under the lookups-per-second cap and takes it.
    pub async fn take_slot(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    /// Takes a slot if one is free now.
    pub fn try_take_slot(&self) -> bool {
        self.limiter
            .as_ref()
            .is_none_or(|limiter| limiter.check().is_ok())
    }

    pub fn is_paused(&self) -> bool {
        self.paused_until().is_some()
    }

    fn paused_until(&self) -> Option<Instant> {
        let until = self.paused_until.lock().ok().and_then(|p| *p)?;
        (until > Instant::now()).then_some(until)
    }
}
