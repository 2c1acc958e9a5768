//! The one integration test binary (STYLE.md §4): each module is a suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod browser;
mod cli;
mod fuzz;
mod golden;
mod instances;
mod props;
mod schema;
mod service;
mod support;
mod tidy;
mod world;
