// @generated from schema.graphql by secworks-codegen. DO NOT EDIT: change schema.graphql instead.

/// Resolvers for the root type `Query`.
pub trait QueryResolvers: Send + Sync + 'static {
    fn ping(
        &self,
        ctx: &::async_graphql::Context<'_>,
    ) -> impl ::std::future::Future<
        Output = ::async_graphql::Result<Option<i32>>,
    > + Send;
}
/// The root type `Query`, resolved by `R`'s [`QueryResolvers`].
pub struct Query<R>(pub ::std::sync::Arc<R>);
#[::async_graphql::Object(name = "Query")]
impl<R: QueryResolvers> Query<R> {
    #[graphql(name = "ping")]
    async fn ping(
        &self,
        ctx: &::async_graphql::Context<'_>,
    ) -> ::async_graphql::Result<Option<i32>> {
        let result: ::async_graphql::Result<Option<i32>> = async move {
            QueryResolvers::ping(&*self.0, ctx).await
        }
            .await;
        result
            .or_else(|error| {
                ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
                Ok(None)
            })
    }
}
/// Resolvers for the root type `Subscription`: each method opens the stream of its field's
/// values. An error from the method refuses the subscription; an error in the stream
/// is that event's error, and the stream goes on.
pub trait SubscriptionResolvers: Send + Sync + 'static {
    /// Counts from `from` to `to`.
    fn count(
        &self,
        ctx: &::async_graphql::Context<'_>,
        from: i32,
        to: i32,
    ) -> impl ::std::future::Future<
        Output = ::async_graphql::Result<
            ::async_graphql::futures_util::stream::BoxStream<
                'static,
                ::async_graphql::Result<i32>,
            >,
        >,
    > + Send;
    /// Events 1 to 3; `failAt` makes that one fail.
    fn events(
        &self,
        ctx: &::async_graphql::Context<'_>,
        fail_at: Option<i32>,
    ) -> impl ::std::future::Future<
        Output = ::async_graphql::Result<
            ::async_graphql::futures_util::stream::BoxStream<
                'static,
                ::async_graphql::Result<Option<Event>>,
            >,
        >,
    > + Send;
    /// Events 1 to 3, of which the second fails.
    fn strict(
        &self,
        ctx: &::async_graphql::Context<'_>,
    ) -> impl ::std::future::Future<
        Output = ::async_graphql::Result<
            ::async_graphql::futures_util::stream::BoxStream<
                'static,
                ::async_graphql::Result<Event>,
            >,
        >,
    > + Send;
}
/// The root type `Subscription`, resolved by `R`'s [`SubscriptionResolvers`].
pub struct Subscription<R>(pub ::std::sync::Arc<R>);
/// What happens, as it happens.
#[::async_graphql::Subscription(name = "Subscription")]
impl<R: SubscriptionResolvers> Subscription<R> {
    /// Counts from `from` to `to`.
    #[graphql(name = "count")]
    async fn count(
        &self,
        ctx: &::async_graphql::Context<'_>,
        #[graphql(name = "from", default_with = "1")]
        from: i32,
        #[graphql(name = "to")]
        to: i32,
    ) -> ::async_graphql::Result<
        impl ::async_graphql::futures_util::Stream<Item = ::async_graphql::Result<i32>>,
    > {
        SubscriptionResolvers::count(&*self.0, ctx, from, to).await
    }
    /// Events 1 to 3; `failAt` makes that one fail.
    #[graphql(name = "events")]
    async fn events(
        &self,
        ctx: &::async_graphql::Context<'_>,
        #[graphql(name = "failAt")]
        fail_at: Option<i32>,
    ) -> ::async_graphql::Result<
        impl ::async_graphql::futures_util::Stream<
            Item = ::async_graphql::Result<Option<Event>>,
        >,
    > {
        let stream = SubscriptionResolvers::events(&*self.0, ctx, fail_at).await?;
        Ok(
            ::async_graphql::futures_util::StreamExt::map(
                stream,
                move |item| {
                    item.or_else(|error| {
                        ctx.add_error(
                            ctx.set_error_path(error.into_server_error(ctx.item.pos)),
                        );
                        Ok(None)
                    })
                },
            ),
        )
    }
    /// Events 1 to 3, of which the second fails.
    #[graphql(name = "strict")]
    async fn strict(
        &self,
        ctx: &::async_graphql::Context<'_>,
    ) -> ::async_graphql::Result<
        impl ::async_graphql::futures_util::Stream<Item = ::async_graphql::Result<Event>>,
    > {
        SubscriptionResolvers::strict(&*self.0, ctx).await
    }
}
#[derive(Clone, Debug)]
pub struct Event {
    pub n: i32,
}
/// Resolvers for the fields of `Event` that take arguments or are resolved by hand.
pub trait EventResolvers: Send + Sync + 'static {
    fn label(
        &self,
        ctx: &::async_graphql::Context<'_>,
        parent: &Event,
        prefix: Option<String>,
    ) -> impl ::std::future::Future<Output = ::async_graphql::Result<String>> + Send;
}
/// Object-safe [`EventResolvers`], kept in the schema data for `Event`'s fields.
trait ErasedEventResolvers: Send + Sync + 'static {
    fn label<'a>(
        &'a self,
        ctx: &'a ::async_graphql::Context<'_>,
        parent: &'a Event,
        prefix: Option<String>,
    ) -> ::std::pin::Pin<
        Box<
            dyn ::std::future::Future<
                Output = ::async_graphql::Result<String>,
            > + Send + 'a,
        >,
    >;
}
impl<R: EventResolvers> ErasedEventResolvers for R {
    fn label<'a>(
        &'a self,
        ctx: &'a ::async_graphql::Context<'_>,
        parent: &'a Event,
        prefix: Option<String>,
    ) -> ::std::pin::Pin<
        Box<
            dyn ::std::future::Future<
                Output = ::async_graphql::Result<String>,
            > + Send + 'a,
        >,
    > {
        Box::pin(EventResolvers::label(self, ctx, parent, prefix))
    }
}
#[::async_graphql::Object(name = "Event")]
impl Event {
    #[graphql(name = "n")]
    async fn n(&self) -> &i32 {
        &self.n
    }
    #[graphql(name = "label")]
    async fn label(
        &self,
        ctx: &::async_graphql::Context<'_>,
        #[graphql(name = "prefix", default_with = "Some(String::from(\"#\"))")]
        prefix: Option<String>,
    ) -> ::async_graphql::Result<String> {
        ctx.data::<::std::sync::Arc<dyn ErasedEventResolvers>>()?
            .label(ctx, self, prefix)
            .await
    }
}
/// The schema: the root types with resolvers `R`.
pub type Schema<R> = ::async_graphql::Schema<
    Query<R>,
    ::async_graphql::EmptyMutation,
    Subscription<R>,
>;
/// Starts a schema whose resolvers are `resolvers` (the caller adds limits and data, then
/// calls `.finish()`). Every type of the SDL is registered, used by a root field or not.
pub fn schema_builder<R>(
    resolvers: ::std::sync::Arc<R>,
) -> ::async_graphql::SchemaBuilder<
    Query<R>,
    ::async_graphql::EmptyMutation,
    Subscription<R>,
>
where
    R: QueryResolvers + SubscriptionResolvers + EventResolvers,
{
    ::async_graphql::Schema::build(
            Query(::std::sync::Arc::clone(&resolvers)),
            ::async_graphql::EmptyMutation,
            Subscription(::std::sync::Arc::clone(&resolvers)),
        )
        .data(
            ::std::sync::Arc::clone(&resolvers)
                as ::std::sync::Arc<dyn ErasedEventResolvers>,
        )
        .register_output_type::<Event>()
}
