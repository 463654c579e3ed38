//! The code generated for a subscription compiles against async-graphql 7.2.1 and serves the
//! streams a resolver opens: `subscription/generated.rs` is the generator's output for
//! `subscription/schema.graphql`, kept current by `generated_code_is_current`
//! (`INSTA_UPDATE=always cargo test -p secworks-codegen` rewrites it, as it does the snapshots;
//! the next run compiles the new code).

use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use async_graphql::futures_util::stream::{self, BoxStream, Stream};
use async_graphql::{PathSegment, Response, Value, value};
use secworks_codegen::graphql::{Config, generate};

mod generated {
    include!("subscription/generated.rs");
}

use generated::{Event, EventResolvers, QueryResolvers, SubscriptionResolvers};

#[test]
fn generated_code_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/subscription");
    let sdl = std::fs::read_to_string(dir.join("schema.graphql")).unwrap();
    let code = generate("schema.graphql", &sdl, &Config::default()).unwrap();
    let path = dir.join("generated.rs");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if code == committed {
        return;
    }
    if std::env::var("INSTA_UPDATE").as_deref() == Ok("always") {
        std::fs::write(&path, code).unwrap();
        eprintln!(
            "rewrote {}; run the tests again to compile it",
            path.display()
        );
        return;
    }
    panic!(
        "{} is stale: refresh it with `INSTA_UPDATE=always cargo test -p secworks-codegen`",
        path.display()
    );
}

struct Resolvers;

impl QueryResolvers for Resolvers {
    async fn ping(&self, _ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<i32>> {
        Ok(Some(1))
    }
}

fn event(n: i32) -> Event {
    Event { n }
}

impl SubscriptionResolvers for Resolvers {
    async fn count(
        &self,
        _ctx: &async_graphql::Context<'_>,
        from: i32,
        to: i32,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<i32>>> {
        if to < from {
            return Err(format!("nothing to count from {from} to {to}").into());
        }
        Ok(Box::pin(stream::iter((from..=to).map(Ok))))
    }

    async fn events(
        &self,
        _ctx: &async_graphql::Context<'_>,
        fail_at: Option<i32>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<Option<Event>>>> {
        Ok(Box::pin(stream::iter((1..=3).map(move |n| {
            match Some(n) == fail_at {
                true => Err(format!("event {n} failed").into()),
                false => Ok(Some(event(n))),
            }
        }))))
    }

    async fn strict(
        &self,
        _ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<Event>>> {
        Ok(Box::pin(stream::iter((1..=3).map(|n| match n {
            2 => Err("event 2 failed".into()),
            n => Ok(event(n)),
        }))))
    }
}

/// A field with arguments of an event's type, resolved through the schema data.
impl EventResolvers for Resolvers {
    async fn label(
        &self,
        _ctx: &async_graphql::Context<'_>,
        parent: &Event,
        prefix: Option<String>,
    ) -> async_graphql::Result<String> {
        Ok(format!("{}{}", prefix.unwrap_or_default(), parent.n))
    }
}

fn schema() -> generated::Schema<Resolvers> {
    generated::schema_builder(std::sync::Arc::new(Resolvers)).finish()
}

/// Every response of the subscription `query`. Nothing here waits on I/O, so polling with a
/// waker that does nothing finishes; a stream that stays pending fails the test.
fn responses(query: &str) -> Vec<Response> {
    let schema = schema();
    let mut stream = pin!(schema.execute_stream(query));
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    for _ in 0..1000 {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(response)) => out.push(response),
            Poll::Ready(None) => return out,
            Poll::Pending => {}
        }
    }
    panic!("the subscription stream did not finish: {out:?}");
}

/// `(data, [(message, path)])` of each response.
fn events(query: &str) -> Vec<(Value, Vec<(String, String)>)> {
    responses(query)
        .into_iter()
        .map(|r| {
            let errors = r.errors.iter().map(|e| {
                let path = e.path.iter().map(|segment| match segment {
                    PathSegment::Field(name) => name.clone(),
                    PathSegment::Index(i) => i.to_string(),
                });
                let path = path.collect::<Vec<_>>();
                (e.message.clone(), path.join("."))
            });
            (r.data, errors.collect())
        })
        .collect()
}

#[test]
fn the_sdl_has_the_subscription_root() {
    let sdl = schema().sdl();
    for line in [
        "\tsubscription: Subscription",
        "\tcount(from: Int! = 1, to: Int!): Int!",
        "\tevents(failAt: Int): Event",
        "\"\"\"\nWhat happens, as it happens.\n\"\"\"\ntype Subscription {",
    ] {
        assert!(sdl.contains(line), "no {line:?} in\n{sdl}");
    }
}

#[test]
fn each_item_of_the_stream_is_an_event() {
    assert_eq!(
        events("subscription { count(to: 3) }"),
        [
            (value!({"count": 1}), vec![]),
            (value!({"count": 2}), vec![]),
            (value!({"count": 3}), vec![]),
        ]
    );
    assert_eq!(
        events(r#"subscription { e: events { n label(prefix: "n=") } }"#),
        [
            (value!({"e": {"n": 1, "label": "n=1"}}), vec![]),
            (value!({"e": {"n": 2, "label": "n=2"}}), vec![]),
            (value!({"e": {"n": 3, "label": "n=3"}}), vec![]),
        ]
    );
}

#[test]
fn a_resolver_error_refuses_the_subscription() {
    assert_eq!(
        events("subscription { count(from: 5, to: 3) }"),
        [(
            Value::Null,
            vec![(
                "nothing to count from 5 to 3".to_owned(),
                "count".to_owned()
            )]
        )]
    );
}

#[test]
fn a_failing_nullable_event_is_null_with_its_error_and_the_stream_goes_on() {
    assert_eq!(
        events("subscription { events(failAt: 2) { n } }"),
        [
            (value!({"events": {"n": 1}}), vec![]),
            (
                value!({"events": null}),
                vec![("event 2 failed".to_owned(), "events".to_owned())]
            ),
            (value!({"events": {"n": 3}}), vec![]),
        ]
    );
    assert_eq!(
        events("subscription { e: events(failAt: 1) { n } }")[0],
        (
            value!({"e": null}),
            vec![("event 1 failed".to_owned(), "e".to_owned())]
        )
    );
}

#[test]
fn a_failing_non_null_event_has_no_data_and_the_stream_goes_on() {
    assert_eq!(
        events("subscription { strict { n } }"),
        [
            (value!({"strict": {"n": 1}}), vec![]),
            (
                Value::Null,
                vec![("event 2 failed".to_owned(), "strict".to_owned())]
            ),
            (value!({"strict": {"n": 3}}), vec![]),
        ]
    );
}
