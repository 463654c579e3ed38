//! A short-lived copy of the addresses' current results, read before the store by
//! `getIpDetails` (the service's hottest query) when it reads nothing else: an address asked
//! for again within [`KEPT_FOR`] costs no store round trip.
//!
//! The copy is never older than the database for what this process writes: the lookup
//! engine's writer marks each batch it writes ([`RecentResults::writing`]), which drops the
//! batch's addresses before the write starts, and a read that overlaps any write is answered
//! but not kept (a generation count, compared under a lock, tells). What another process
//! writes (a replica's engine, `secworks import`) shows here once the copy it would replace is
//! [`KEPT_FOR`] old: the bound docs/scaling.md states. So that one answer never mixes a copy
//! with rows read now, a query that asks for more than the row (the job's state, the history,
//! the per-list results) reads the store.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use secworks_dnsbl::Address;

use super::{LookupRecord, Results, StoreError};

/// How long a kept result answers: how late a result written by another process can show.
pub const KEPT_FOR: Duration = Duration::from_millis(250);
/// The most addresses kept. Only addresses asked for within [`KEPT_FOR`] are worth keeping,
/// so a few thousand cover any request rate this service serves; each costs a few hundred
/// bytes.
const KEPT: u64 = 4096;
/// When the cache lets a copy go, past any use: so that stale copies do not hold places a
/// new address needs. Answering is decided by [`KEPT_FOR`], on the caller's clock.
const EVICTED_AFTER: Duration = Duration::from_secs(1);

/// The current results of recently read addresses, in front of the store (see the module).
pub struct RecentResults {
    store: Arc<dyn Results>,
    /// Each address's result (`None`: never looked up) and when it was read.
    kept: Cache<Address, (Instant, Option<LookupRecord>)>,
    writes: Mutex<Writes>,
}

/// The writes of this process under way, and a count moved at each one's start and end: a
/// read may keep what it read only if no write started or ended since before it read.
#[derive(Default)]
struct Writes {
    under_way: u32,
    generation: u64,
}

/// A write under way, until dropped (the write ended, failed or was abandoned).
#[must_use = "the write ends when this is dropped"]
pub struct Writing<'a> {
    recent: &'a RecentResults,
}

impl RecentResults {
    pub fn new(store: Arc<dyn Results>) -> Self {
        Self::evicting_after(store, EVICTED_AFTER)
    }

    /// With copies let go after `evicted_after` of real time (tests, whose clock is their
    /// own, keep them for good).
    fn evicting_after(store: Arc<dyn Results>, evicted_after: Duration) -> Self {
        Self {
            store,
            kept: Cache::builder()
                .max_capacity(KEPT)
                .time_to_live(evicted_after)
                .build(),
            writes: Mutex::default(),
        }
    }

    /// Marks a write of `addresses`' results that is about to start; drop the guard once it
    /// ended. What was kept of them is dropped now, and nothing read until the guard is dropped
    /// is kept: so no read from before the write answers after it.
    pub fn writing(&self, addresses: impl IntoIterator<Item = Address>) -> Writing<'_> {
        {
            let mut writes = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
            writes.under_way += 1;
            writes.generation += 1;
        }
        // After the count moved: what a read keeps from now on is kept under the same lock, so
        // it either was kept before (and goes now) or sees the write under way.
        for address in addresses {
            self.kept.invalidate(&address);
        }
        Writing { recent: self }
    }

    /// The current result for `address`, as [`Results::lookup`] gives it but up to
    /// [`KEPT_FOR`] old (see the module).
    pub async fn lookup(&self, address: &Address) -> Result<Option<LookupRecord>, StoreError> {
        self.lookup_at(address, Instant::now()).await
    }

    /// The current result for `address` as of `now`: the kept one if it was read less than
    /// [`KEPT_FOR`] before, else the store's (kept, unless a write overlapped the read).
    pub async fn lookup_at(
        &self,
        address: &Address,
        now: Instant,
    ) -> Result<Option<LookupRecord>, StoreError> {
        if let Some((read_at, record)) = self.kept.get(address)
            && now.saturating_duration_since(read_at) < KEPT_FOR
        {
            return Ok(record);
        }
        let before = self.generation();
        let record = self.store.lookup(address).await?;
        self.keep(*address, &record, before, now);
        Ok(record)
    }

    /// Keeps `record`, read at `now` after the write count was `before`, unless a write was
    /// under way or ran since.
    fn keep(&self, address: Address, record: &Option<LookupRecord>, before: u64, now: Instant) {
        let writes = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        if writes.under_way == 0 && writes.generation == before {
            self.kept.insert(address, (now, record.clone()));
        }
    }

    fn generation(&self) -> u64 {
        self.writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut writes = self
            .recent
            .writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        writes.under_way -= 1;
        // A read that began while the write was under way may have read the rows before it.
        writes.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use secworks_dnsbl::{Outcome, Target};
    use secworks_store_api::{
        Evidence, JobOutcome, JobResult, ListAnswer, NewJob, ORIGINAL_LIST, Store, StoredAnswer,
        Verdict,
    };

    use super::*;

    fn address() -> Address {
        Address::from(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
    }

    /// ZEN's answer for [`address`] stored as the engine stores it, but not through `recent`:
    /// as another process writes it.
    async fn answer(store: &dyn Store, codes: &[Ipv4Addr]) {
        let at = crate::timestamp::now();
        let job = NewJob {
            target: Target::Ip(address()),
            blocklist: ORIGINAL_LIST.to_owned(),
        };
        store.enqueue(&[job], false, at).await.unwrap();
        let [claimed] = &store
            .claim_jobs(ORIGINAL_LIST, 1, at, at + time::Duration::MINUTE)
            .await
            .unwrap()[..]
        else {
            panic!("one job to claim");
        };
        let outcome = JobOutcome {
            job_id: claimed.id,
            lease_token: claimed.lease_token.clone(),
            target: claimed.target.clone(),
            blocklist: claimed.blocklist.clone(),
            at,
            result: JobResult::Answer(ListAnswer {
                verdict: if codes.is_empty() {
                    Verdict::NotListed
                } else {
                    Verdict::Listed
                },
                return_codes: codes.to_vec(),
                reason: None,
                expires_at: at + time::Duration::HOUR,
                evidence: Evidence {
                    resolver: "192.0.2.53:53".parse().unwrap(),
                    query_name: "7.2.0.192.zen.spamhaus.org".into(),
                    rcode: "NOERROR".into(),
                    ttl: Some(300),
                    test_points_passed: true,
                    answered_at: at,
                },
            }),
            queries: 1,
        };
        store.record_outcomes(&[outcome], at).await.unwrap();
    }

    fn answer_of(record: Option<LookupRecord>) -> Option<StoredAnswer> {
        record.map(|record| record.answer)
    }

    /// A store in `dir`, and a copy in front of it whose cache never lets a copy go on its
    /// own (the tests' instants are not the cache's clock).
    async fn kept_for_good(dir: &tempfile::TempDir) -> (Arc<dyn Store>, RecentResults) {
        let url = format!("sqlite://{}", dir.path().join("recent.db").display());
        let store = crate::store::connect(&url).await.unwrap();
        let recent = RecentResults::evicting_after(store.clone(), Duration::from_secs(3600));
        (store, recent)
    }

    const LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

    fn listed() -> Option<StoredAnswer> {
        Some(StoredAnswer::Blocklist(Outcome::Listed(vec![LISTED])))
    }

    fn not_listed() -> Option<StoredAnswer> {
        Some(StoredAnswer::Blocklist(Outcome::NotListed))
    }

    #[tokio::test]
    async fn another_process_s_write_shows_once_the_kept_result_is_kept_for_old() {
        let dir = tempfile::tempdir().unwrap();
        let (store, recent) = kept_for_good(&dir).await;
        let t0 = Instant::now();
        assert_eq!(recent.lookup_at(&address(), t0).await.unwrap(), None);

        answer(store.as_ref(), &[LISTED]).await;
        // Still the kept "never looked up": the store was not read.
        let almost = t0 + KEPT_FOR - Duration::from_millis(1);
        assert_eq!(recent.lookup_at(&address(), almost).await.unwrap(), None);
        let record = recent.lookup_at(&address(), t0 + KEPT_FOR).await.unwrap();
        assert_eq!(answer_of(record), listed());
    }

    #[tokio::test]
    async fn this_process_s_write_shows_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, recent) = kept_for_good(&dir).await;
        let t0 = Instant::now();
        answer(store.as_ref(), &[]).await;
        let record = recent.lookup_at(&address(), t0).await.unwrap();
        assert_eq!(answer_of(record), not_listed());

        {
            let _writing = recent.writing([address()]);
            // Read while the write is under way: answered from the store, not kept.
            let record = recent.lookup_at(&address(), t0).await.unwrap();
            assert_eq!(answer_of(record), not_listed());
            answer(store.as_ref(), &[LISTED]).await;
        }
        let record = recent.lookup_at(&address(), t0).await.unwrap();
        assert_eq!(answer_of(record), listed());
    }

    #[tokio::test]
    async fn a_read_that_began_before_a_write_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (store, recent) = kept_for_good(&dir).await;
        let t0 = Instant::now();

        // Read, then a write of this process runs and ends before the read is kept.
        let before = recent.generation();
        let read = store.lookup(&address()).await.unwrap();
        {
            let _writing = recent.writing([address()]);
            answer(store.as_ref(), &[LISTED]).await;
        }
        recent.keep(address(), &read, before, t0);
        let record = recent.lookup_at(&address(), t0).await.unwrap();
        assert_eq!(answer_of(record), listed());

        // Kept while no write ran, as a read that saw the store unchanged.
        let before = recent.generation();
        recent.keep(address(), &None, before, t0);
        assert_eq!(recent.lookup_at(&address(), t0).await.unwrap(), None);
    }
}
