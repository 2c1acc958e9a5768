//! The one integration test binary (STYLE.md §4): each module is a suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Runs the scenario `$name(backend)` as two tests, `$name::sqlite` and `$name::postgres`.
macro_rules! on_both {
    ($name:ident) => {
        on_both!($name, worker_threads = 2);
    };
    ($name:ident, worker_threads = $threads:literal) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn postgres() {
                super::$name(Backend::Postgres).await
            }
        }
    };
}

mod agent;
mod agent_view;
mod api;
mod browser;
mod channel_page;
mod claims;
mod cli;
mod confirm;
mod forms;
mod forwarding;
mod fuzz;
mod gate;
mod golden;
mod in_doubt;
mod instances;
mod invitations;
mod journey;
mod lists;
mod member_bandwidth;
mod membership;
mod operator;
mod origin;
mod people;
mod policy;
mod privacy;
mod props;
mod schema;
mod serve;
mod service;
mod store;
mod support;
mod tidy;
mod visibility;
mod worker;
mod world;
mod writes;
