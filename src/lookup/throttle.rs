//! Slowing the whole queue down: a queries-per-second cap, and a pause after the blocklist
//! says we query too much.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

pub struct Throttle {
    limiter: Option<DefaultDirectRateLimiter>,
    qps: Option<NonZeroU32>,
    paused_until: Mutex<Option<Instant>>,
    pause: Duration,
}

impl Throttle {
    pub fn new(qps: Option<NonZeroU32>, pause: Duration) -> Self {
        Self {
            limiter: qps.map(|qps| RateLimiter::direct(Quota::per_second(qps))),
            qps,
            paused_until: Mutex::new(None),
            pause,
        }
    }

    /// Stops every worker from querying for the pause period.
    pub fn pause(&self) {
        let until = Instant::now() + self.pause;
        if let Ok(mut paused) = self.paused_until.lock() {
            *paused = Some(paused.map_or(until, |p| p.max(until)));
        }
    }

    /// Waits out a pause, then for a slot under the queries-per-second cap.
    pub async fn ready(&self) {
        loop {
            let until = self.paused_until.lock().ok().and_then(|p| *p);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => break,
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    /// Whether workers are held back by a pause right now.
    pub fn is_paused(&self) -> bool {
        self.paused_until
            .lock()
            .ok()
            .and_then(|p| *p)
            .is_some_and(|until| until > Instant::now())
    }

    /// How many queries may be started within about a second; bounds a claim so that claimed
    /// jobs do not sit out their lease waiting for the cap.
    pub fn burst(&self) -> Option<u32> {
        self.qps.map(NonZeroU32::get)
    }
}
