//! Results by filter: every filter alone and together, both orders, paging, counts, what the
//! counted lists say of each result, and where an address's jobs stand.

use time::Duration;

use super::{Stores, T0, address, answer, at, claim_list, fail, listed, record};
use crate::{
    Address, ChangeKey, FoundLookup, JobState, LookupFilter, LookupRecord, NOT_LOOKED_UP, NewJob,
    ORIGINAL_LIST, Outcome, Store, StoredAnswer, Target, WatchEntry,
};

const BARRACUDA: &str = "barracuda";

/// Asks `blocklist` about `text` and stores `result` as its answer at `at`.
async fn answered(
    store: &dyn Store,
    text: &str,
    blocklist: &str,
    result: Outcome,
    at: time::OffsetDateTime,
) {
    let job = NewJob {
        target: Target::Ip(address(text)),
        blocklist: blocklist.to_owned(),
    };
    store.enqueue(&[job], false, at).await.expect("enqueue");
    let claimed = claim_list(store, blocklist, 10, at).await;
    assert_eq!(claimed.len(), 1, "claimed {claimed:?}");
    record(store, &[answer(&claimed[0], result, at)]).await;
}

/// Asks `blocklist` about `text`, and the attempt fails for good at `at`.
async fn failed(store: &dyn Store, text: &str, blocklist: &str, at: time::OffsetDateTime) {
    let job = NewJob {
        target: Target::Ip(address(text)),
        blocklist: blocklist.to_owned(),
    };
    store.enqueue(&[job], false, at).await.expect("enqueue");
    let claimed = claim_list(store, blocklist, 10, at).await;
    assert_eq!(claimed.len(), 1, "claimed {claimed:?}");
    record(store, &[fail(&claimed[0], at, "SERVFAIL")]).await;
}

fn both_lists() -> LookupFilter {
    LookupFilter {
        lists: vec![BARRACUDA.to_owned(), ORIGINAL_LIST.to_owned()],
        ..LookupFilter::default()
    }
}

/// The addresses a filter finds, newest change first, read in pages of `page`, checked
/// against its count.
async fn found_by_change(store: &dyn Store, filter: &LookupFilter, page: u32) -> Vec<String> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let found = store
            .lookups_by_change(filter, after, page)
            .await
            .expect("a page of lookups");
        let last = found.last().map(|f| ChangeKey {
            updated_at: f.record.updated_at,
            address: f.record.address,
        });
        let full = found.len() == page as usize;
        all.extend(found.into_iter().map(|f| f.record.address.to_string()));
        match (full, last) {
            (true, Some(last)) => after = Some(last),
            _ => break,
        }
    }
    let count = store.count_lookups(filter).await.expect("a count");
    assert_eq!(count, all.len() as u64, "count of {filter:?}");
    all
}

async fn found(store: &dyn Store, filter: LookupFilter) -> Vec<String> {
    found_by_change(store, &filter, 100).await
}

fn within(text: &str) -> LookupFilter {
    LookupFilter {
        within: Some(text.parse().expect("a range")),
        ..both_lists()
    }
}

/// Six addresses answered by ZEN, Barracuda or both, one imported with only ZEN's text, a
/// watchlist over part of them; every filter finds what it says.
pub async fn lookups_are_found_by_every_filter_newest_change_first(stores: Stores) {
    let s = stores.a.as_ref();
    let imported = LookupRecord {
        uuid: "5b0e1d9e-0000-4000-8000-000000000001".to_owned(),
        address: address("203.0.113.9"),
        answer: StoredAnswer::from(listed(&[2])),
        created_at: T0,
        updated_at: T0,
    };
    s.import(&[], &[imported], T0).await.expect("import");
    answered(s, "192.0.2.1", ORIGINAL_LIST, listed(&[2]), at(10)).await;
    answered(s, "192.0.2.2", ORIGINAL_LIST, listed(&[]), at(20)).await;
    answered(s, "192.0.2.2", BARRACUDA, listed(&[2]), at(30)).await;
    answered(s, "192.0.2.3", ORIGINAL_LIST, listed(&[]), at(40)).await;
    answered(s, "2001:db8::1", ORIGINAL_LIST, listed(&[4]), at(50)).await;
    answered(s, "198.51.100.7", BARRACUDA, listed(&[]), at(60)).await;
    let entries = WatchEntry::parse_all(&["192.0.2.0/30", "2001:db8::1"]).expect("entries");
    s.put_watchlist(
        &"mail".parse().expect("a name"),
        &entries,
        Duration::hours(6),
        1000,
        &[],
        T0,
    )
    .await
    .expect("a watchlist");

    let newest_first = [
        "198.51.100.7",
        "2001:db8::1",
        "192.0.2.3",
        "192.0.2.2",
        "192.0.2.1",
        "203.0.113.9",
    ];
    assert_eq!(found(s, both_lists()).await, newest_first);
    // Pages of one and of four give the same, each result once.
    for page in [1, 4] {
        assert_eq!(found_by_change(s, &both_lists(), page).await, newest_first);
    }
    let listed_true = LookupFilter {
        listed: Some(true),
        ..both_lists()
    };
    assert_eq!(
        found(s, listed_true.clone()).await,
        ["2001:db8::1", "192.0.2.2", "192.0.2.1", "203.0.113.9"]
    );
    let listed_false = LookupFilter {
        listed: Some(false),
        ..both_lists()
    };
    assert_eq!(
        found(s, listed_false.clone()).await,
        ["198.51.100.7", "192.0.2.3"]
    );
    let on = |list: &str, listed: Option<bool>| LookupFilter {
        blocklist: Some(list.to_owned()),
        listed,
        ..both_lists()
    };
    assert_eq!(
        found(s, on(BARRACUDA, None)).await,
        ["198.51.100.7", "192.0.2.2"]
    );
    assert_eq!(found(s, on(BARRACUDA, Some(true))).await, ["192.0.2.2"]);
    assert_eq!(found(s, on(BARRACUDA, Some(false))).await, ["198.51.100.7"]);
    assert_eq!(
        found(s, on(ORIGINAL_LIST, Some(false))).await,
        ["192.0.2.3", "192.0.2.2"]
    );
    assert_eq!(
        found(s, on(ORIGINAL_LIST, None)).await,
        [
            "2001:db8::1",
            "192.0.2.3",
            "192.0.2.2",
            "192.0.2.1",
            "203.0.113.9"
        ]
    );
    assert_eq!(
        found(s, within("192.0.2.0/24")).await,
        ["192.0.2.3", "192.0.2.2", "192.0.2.1"]
    );
    assert_eq!(
        found(s, within("192.0.2.2/31")).await,
        ["192.0.2.3", "192.0.2.2"]
    );
    assert_eq!(found(s, within("2001:db8::/64")).await, ["2001:db8::1"]);
    assert!(found(s, within("10.0.0.0/8")).await.is_empty());
    let watched = LookupFilter {
        watchlist: Some("mail".parse().expect("a name")),
        ..both_lists()
    };
    assert_eq!(
        found(s, watched.clone()).await,
        ["2001:db8::1", "192.0.2.3", "192.0.2.2", "192.0.2.1"]
    );
    let since = LookupFilter {
        changed_since: Some(at(30)),
        ..both_lists()
    };
    assert_eq!(
        found(s, since).await,
        ["198.51.100.7", "2001:db8::1", "192.0.2.3", "192.0.2.2"]
    );
    // Together: every filter holds.
    assert_eq!(
        found(
            s,
            LookupFilter {
                within: within("192.0.2.0/24").within,
                ..listed_true.clone()
            }
        )
        .await,
        ["192.0.2.2", "192.0.2.1"]
    );
    assert_eq!(
        found(
            s,
            LookupFilter {
                listed: Some(false),
                ..watched.clone()
            }
        )
        .await,
        ["192.0.2.3"]
    );
    assert_eq!(
        found(
            s,
            LookupFilter {
                changed_since: Some(at(25)),
                ..listed_true.clone()
            }
        )
        .await,
        ["2001:db8::1", "192.0.2.2"]
    );
    // Only the counted lists count: without ZEN, Barracuda's listing is the only one, and
    // what only ZEN answered is unknown (neither listed nor not).
    let barracuda_only = LookupFilter {
        lists: vec![BARRACUDA.to_owned()],
        ..LookupFilter::default()
    };
    assert_eq!(
        found(
            s,
            LookupFilter {
                listed: Some(true),
                ..barracuda_only.clone()
            }
        )
        .await,
        ["192.0.2.2"]
    );
    assert_eq!(
        found(
            s,
            LookupFilter {
                listed: Some(false),
                ..barracuda_only
            }
        )
        .await,
        ["198.51.100.7"]
    );

    // What the lists say of each result comes with it.
    let all = s
        .lookups_by_change(&both_lists(), None, 100)
        .await
        .expect("a page");
    let said: Vec<(String, Vec<String>, Option<bool>)> = all
        .iter()
        .map(|f: &FoundLookup| {
            (
                f.record.address.to_string(),
                f.listed_on.clone(),
                f.listed(),
            )
        })
        .collect();
    let lists = |ids: &[&str]| ids.iter().map(|id| (*id).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        said,
        [
            ("198.51.100.7".to_owned(), lists(&[]), Some(false)),
            (
                "2001:db8::1".to_owned(),
                lists(&[ORIGINAL_LIST]),
                Some(true)
            ),
            ("192.0.2.3".to_owned(), lists(&[]), Some(false)),
            ("192.0.2.2".to_owned(), lists(&[BARRACUDA]), Some(true)),
            ("192.0.2.1".to_owned(), lists(&[ORIGINAL_LIST]), Some(true)),
            (
                "203.0.113.9".to_owned(),
                lists(&[ORIGINAL_LIST]),
                Some(true)
            ),
        ]
    );
    assert_eq!(all[1].record.answer.text(), "127.0.0.4");
    assert_eq!(all[1].record.updated_at, at(50));
}

/// Address order: IPv4 before IPv6, each by number (not text: .10 after .9), in chunks.
pub async fn lookups_come_in_address_order_chunk_by_chunk(stores: Stores) {
    let s = stores.a.as_ref();
    for (i, text) in [
        "192.0.2.10",
        "2001:db8::2",
        "192.0.2.9",
        "10.0.0.1",
        "2001:db8::10",
    ]
    .iter()
    .enumerate()
    {
        answered(s, text, ORIGINAL_LIST, listed(&[]), at(i as i64)).await;
    }
    let filter = both_lists();
    let mut all = Vec::new();
    let mut after: Option<Address> = None;
    loop {
        let chunk = s
            .lookups_by_address(&filter, after, 2)
            .await
            .expect("a chunk");
        let Some(last) = chunk.last() else { break };
        after = Some(last.record.address);
        all.extend(chunk.iter().map(|f| f.record.address.to_string()));
    }
    assert_eq!(
        all,
        [
            "10.0.0.1",
            "192.0.2.9",
            "192.0.2.10",
            "2001:db8::2",
            "2001:db8::10"
        ]
    );
    let range = within("192.0.2.0/28");
    let chunk = s
        .lookups_by_address(&range, None, 10)
        .await
        .expect("a chunk");
    let in_range: Vec<String> = chunk.iter().map(|f| f.record.address.to_string()).collect();
    assert_eq!(in_range, ["192.0.2.9", "192.0.2.10"]);
}

/// The latest job of each list says where an address's lookups stand.
pub async fn job_states_follow_the_latest_job_of_each_list(stores: Stores) {
    let s = stores.a.as_ref();
    let target = address("192.0.2.7");
    assert!(s.job_states(&[target]).await.expect("states").is_empty());
    let jobs = |list: &str| {
        [NewJob {
            target: Target::Ip(target),
            blocklist: list.to_owned(),
        }]
    };
    s.enqueue(&jobs(ORIGINAL_LIST), false, T0)
        .await
        .expect("enqueue");
    s.enqueue(&jobs(BARRACUDA), false, T0)
        .await
        .expect("enqueue");
    let states = |pairs: &[(&str, JobState)]| {
        pairs
            .iter()
            .map(|(list, state)| (target, (*list).to_owned(), *state))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        s.job_states(&[target]).await.expect("states"),
        states(&[
            (BARRACUDA, JobState::Pending),
            (ORIGINAL_LIST, JobState::Pending)
        ])
    );
    let claimed = claim_list(s, ORIGINAL_LIST, 10, at(1)).await;
    assert_eq!(
        s.job_states(&[target]).await.expect("states"),
        states(&[
            (BARRACUDA, JobState::Pending),
            (ORIGINAL_LIST, JobState::Running)
        ])
    );
    record(s, &[answer(&claimed[0], listed(&[]), at(2))]).await;
    assert_eq!(
        s.job_states(&[target]).await.expect("states"),
        states(&[
            (BARRACUDA, JobState::Pending),
            (ORIGINAL_LIST, JobState::Done)
        ])
    );
    // Several addresses at once; one never queued has none.
    let other = address("192.0.2.8");
    s.enqueue(
        &[NewJob {
            target: Target::Ip(other),
            blocklist: BARRACUDA.to_owned(),
        }],
        false,
        at(3),
    )
    .await
    .expect("enqueue");
    let both = s
        .job_states(&[other, target, address("192.0.2.99")])
        .await
        .expect("states");
    assert_eq!(
        both,
        [
            (target, BARRACUDA.to_owned(), JobState::Pending),
            (target, ORIGINAL_LIST.to_owned(), JobState::Done),
            (other, BARRACUDA.to_owned(), JobState::Pending),
        ]
    );
    // Queued again: the new job is the latest.
    s.enqueue(&jobs(ORIGINAL_LIST), false, at(3))
        .await
        .expect("enqueue");
    assert_eq!(
        s.job_states(&[target]).await.expect("states"),
        states(&[
            (BARRACUDA, JobState::Pending),
            (ORIGINAL_LIST, JobState::Pending)
        ])
    );
}

/// More candidates than [`crate::FEW_CANDIDATES`], by the general statements (which walk every
/// result in order and test each) and by the kept verdict: each finds what the filter says,
/// in pages and in its count.
pub async fn many_candidates_are_found_by_walking_the_results_in_order(stores: Stores) {
    let s = stores.a.as_ref();
    let many = u32::try_from(crate::FEW_CANDIDATES).expect("a small number") + 100;
    let records: Vec<LookupRecord> = (0..many)
        .map(|i| LookupRecord {
            uuid: format!("00000000-0000-4000-8000-{i:012}"),
            address: Address::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                0x0a00_0000 + i,
            ))),
            answer: StoredAnswer::from(if i % 10 == 0 {
                listed(&[2])
            } else {
                listed(&[])
            }),
            created_at: at(i64::from(i)),
            updated_at: at(i64::from(i)),
        })
        .collect();
    s.import(&[], &records, T0).await.expect("import");
    // Newest first: the highest addresses (written last).
    let expect = |keep: &dyn Fn(u32) -> bool| -> Vec<String> {
        (0..many)
            .rev()
            .filter(|i| keep(*i))
            .map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string())
            .collect()
    };
    let zen = LookupFilter {
        lists: vec![ORIGINAL_LIST.to_owned()],
        ..LookupFilter::default()
    };
    // Barracuda answers about the oldest address (not listed; its updated_at stays). Counting
    // ZEN alone, Barracuda's answer does not count: each result is tested (SQLite's general
    // statements, walking more than FEW_CANDIDATES in order); counting both, SQLite reads the
    // verdict it keeps. The same results either way.
    answered(s, "10.0.0.0", BARRACUDA, listed(&[]), at(0)).await;
    for counted in [zen.clone(), both_lists()] {
        let whole = LookupFilter {
            within: "10.0.0.0/16".parse().ok(),
            ..counted.clone()
        };
        assert_eq!(found_by_change(s, &whole, 500).await, expect(&|_| true));
        let listed_true = LookupFilter {
            listed: Some(true),
            ..counted.clone()
        };
        assert_eq!(
            found_by_change(s, &listed_true, 50).await,
            expect(&|i| i % 10 == 0)
        );
        let both = LookupFilter {
            listed: Some(false),
            ..whole.clone()
        };
        assert_eq!(
            found_by_change(s, &both, 700).await,
            expect(&|i| i % 10 != 0)
        );
        let since = LookupFilter {
            changed_since: Some(at(100)),
            ..counted.clone()
        };
        assert_eq!(
            found_by_change(s, &since, 1000).await,
            expect(&|i| i >= 100)
        );
    }
    let whole = LookupFilter {
        within: "10.0.0.0/16".parse().ok(),
        ..zen
    };
    // The export's order walks them too.
    let mut exported = Vec::new();
    let mut after = None;
    loop {
        let chunk = s
            .lookups_by_address(&whole, after, 999)
            .await
            .expect("a chunk");
        let Some(last) = chunk.last() else { break };
        after = Some(last.record.address);
        exported.extend(chunk.iter().map(|f| f.record.address));
    }
    assert_eq!(exported.len() as u32, many);
    assert!(exported.windows(2).all(|w| w[0] < w[1]));
}

/// Every combination of filters finds what the lists' answers say, in pages and in its count:
/// with ZEN and Barracuda counted (SQLite reads the verdict it keeps over every list that
/// answered), and with ZEN alone while Barracuda's answers remain (each result is tested);
/// a watchlist's overlapping and adjacent entries find each address once.
pub async fn every_filter_combination_finds_what_the_answers_say(stores: Stores) {
    let s = stores.a.as_ref();
    let imported = LookupRecord {
        uuid: "5b0e1d9e-0000-4000-8000-000000000002".to_owned(),
        address: address("203.0.113.9"),
        answer: StoredAnswer::from(listed(&[2])),
        created_at: T0,
        updated_at: T0,
    };
    // Two imported without ZEN's answer (the original's "No records found."); ZEN's lookup of
    // one then fails: a result of only failed attempts, which `blocklist` finds.
    let never_answered = |i: u8, text: &str| LookupRecord {
        uuid: format!("5b0e1d9e-0000-4000-8000-00000000001{i}"),
        address: address(text),
        answer: StoredAnswer::Other(NOT_LOOKED_UP.to_owned()),
        created_at: T0,
        updated_at: T0,
    };
    s.import(
        &[],
        &[
            imported,
            never_answered(1, "198.18.0.1"),
            never_answered(2, "198.18.0.2"),
        ],
        T0,
    )
    .await
    .expect("import");
    failed(s, "198.18.0.1", ORIGINAL_LIST, at(1)).await;
    answered(s, "192.0.2.1", ORIGINAL_LIST, listed(&[2]), at(10)).await;
    answered(s, "192.0.2.2", ORIGINAL_LIST, listed(&[]), at(20)).await;
    answered(s, "192.0.2.2", BARRACUDA, listed(&[2]), at(30)).await;
    answered(s, "192.0.2.3", ORIGINAL_LIST, listed(&[]), at(40)).await;
    answered(s, "192.0.2.3", BARRACUDA, listed(&[]), at(42)).await;
    answered(s, "192.0.2.5", ORIGINAL_LIST, listed(&[3]), at(45)).await;
    answered(s, "2001:db8::1", ORIGINAL_LIST, listed(&[4]), at(50)).await;
    answered(s, "198.51.100.7", BARRACUDA, listed(&[]), at(60)).await;
    answered(s, "192.0.2.9", ORIGINAL_LIST, listed(&[]), at(70)).await;
    answered(s, "192.0.2.9", BARRACUDA, listed(&[2]), at(72)).await;
    // Another list first, then ZEN; and another list listing, then delisting, while ZEN's
    // answer stays: the verdict follows each.
    answered(s, "192.0.2.6", BARRACUDA, listed(&[2]), at(46)).await;
    answered(s, "192.0.2.6", ORIGINAL_LIST, listed(&[]), at(47)).await;
    answered(s, "192.0.2.7", ORIGINAL_LIST, listed(&[]), at(5)).await;
    answered(s, "192.0.2.7", BARRACUDA, listed(&[2]), at(6)).await;
    answered(s, "192.0.2.7", BARRACUDA, listed(&[]), at(48)).await;
    let entries = WatchEntry::parse_all(&[
        "192.0.2.0/31",
        "192.0.2.2/31",
        "192.0.2.1",
        "192.0.2.4/30",
        "2001:db8::1",
        "example.com",
    ])
    .expect("entries");
    s.put_watchlist(
        &"mail".parse().expect("a name"),
        &entries,
        Duration::hours(6),
        1000,
        &[],
        T0,
    )
    .await
    .expect("a watchlist");

    // Each address: ZEN's verdict, Barracuda's, when it last changed, whether "mail" has it.
    type Row = (&'static str, Option<bool>, Option<bool>, i64, bool);
    let model: [Row; 12] = [
        ("203.0.113.9", Some(true), None, 0, false),
        ("198.18.0.1", None, None, 0, false),
        ("198.18.0.2", None, None, 0, false),
        ("192.0.2.6", Some(false), Some(true), 47, true),
        ("192.0.2.7", Some(false), Some(false), 48, true),
        ("192.0.2.1", Some(true), None, 10, true),
        ("192.0.2.2", Some(false), Some(true), 30, true),
        ("192.0.2.3", Some(false), Some(false), 42, true),
        ("192.0.2.5", Some(true), None, 45, true),
        ("2001:db8::1", Some(true), None, 50, true),
        ("198.51.100.7", None, Some(false), 60, false),
        ("192.0.2.9", Some(false), Some(true), 72, false),
    ];
    // Results of ZEN's with only failed attempts.
    let zen_failed = ["198.18.0.1"];
    let either = |zen: Option<bool>, other: Option<bool>| match (zen, other) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (None, None) => None,
        _ => Some(false),
    };
    // The verdicts each backend keeps (which only SQLite reads yet) are the answers'.
    let mut kept = stores.raw.verdicts().await;
    kept.sort();
    let mut want_kept: Vec<(String, Option<i64>, Option<i64>)> = model
        .iter()
        .map(|(text, zen, other, _, _)| {
            (
                (*text).to_owned(),
                zen.map(i64::from),
                either(*zen, *other).map(i64::from),
            )
        })
        .collect();
    want_kept.sort();
    assert_eq!(kept, want_kept, "kept verdicts");
    let ranges = [
        None,
        Some("192.0.2.0/29"),
        Some("192.0.2.2/31"),
        Some("2001:db8::/64"),
    ];
    for with_barracuda in [true, false] {
        let counted = LookupFilter {
            lists: if with_barracuda {
                vec![BARRACUDA.to_owned(), ORIGINAL_LIST.to_owned()]
            } else {
                vec![ORIGINAL_LIST.to_owned()]
            },
            ..LookupFilter::default()
        };
        // What each result's lists say comes with it.
        let page = s
            .lookups_by_change(&counted, None, 100)
            .await
            .expect("a page");
        let said: Vec<(String, Option<bool>)> = page
            .iter()
            .map(|f| (f.record.address.to_string(), f.listed()))
            .collect();
        let mut newest_first = model.to_vec();
        newest_first.sort_by_key(|m| std::cmp::Reverse((m.3, m.0)));
        let expected: Vec<(String, Option<bool>)> = newest_first
            .iter()
            .map(|(text, zen, other, _, _)| {
                let other = other.filter(|_| with_barracuda);
                ((*text).to_owned(), either(*zen, other))
            })
            .collect();
        assert_eq!(said, expected, "counted {:?}", counted.lists);

        let lists: &[Option<&str>] = if with_barracuda {
            &[None, Some(ORIGINAL_LIST), Some(BARRACUDA)]
        } else {
            &[None, Some(ORIGINAL_LIST)]
        };
        for listed_filter in [None, Some(true), Some(false)] {
            for blocklist in lists {
                for watchlist in [None, Some("mail"), Some("missing")] {
                    for range in ranges {
                        for since in [None, Some(25)] {
                            let filter = LookupFilter {
                                listed: listed_filter,
                                blocklist: blocklist.map(str::to_owned),
                                watchlist: watchlist.map(|name| name.parse().expect("a name")),
                                within: range.map(|text| text.parse().expect("a range")),
                                changed_since: since.map(at),
                                ..counted.clone()
                            };
                            let mut want: Vec<(i64, &str)> = model
                                .iter()
                                .filter(|(text, zen, other, changed, watched)| {
                                    // The verdict the filter asks about: the named list's, or
                                    // the counted lists' together.
                                    let verdict = match blocklist {
                                        Some(id) if *id == ORIGINAL_LIST => *zen,
                                        Some(_) => *other,
                                        None => either(*zen, other.filter(|_| with_barracuda)),
                                    };
                                    // A result of that list: an answer, or (ZEN's here)
                                    // only failed attempts.
                                    let has_result = verdict.is_some()
                                        || (*blocklist == Some(ORIGINAL_LIST)
                                            && zen_failed.contains(text));
                                    let ip: std::net::IpAddr = text.parse().expect("an address");
                                    listed_filter.is_none_or(|l| verdict == Some(l))
                                        && (blocklist.is_none() || has_result)
                                        && watchlist.is_none_or(|w| w == "mail" && *watched)
                                        && range.is_none_or(|r| {
                                            r.parse::<ipnet::IpNet>().expect("a net").contains(&ip)
                                        })
                                        && since.is_none_or(|t| *changed >= t)
                                })
                                .map(|(text, _, _, changed, _)| (*changed, *text))
                                .collect();
                            want.sort_by(|a, b| b.cmp(a));
                            let want: Vec<&str> = want.into_iter().map(|(_, text)| text).collect();
                            assert_eq!(found_by_change(s, &filter, 2).await, want, "{filter:?}");
                        }
                    }
                }
            }
        }
    }
}
