//! Switchboard: a network service orchestrator for metro Ethernet VLAN channels.
//!
//! See ARCHITECTURE.md for the map. In short: `model` holds value types, `topology` parses
//! and validates the metro network, `orchestrator` is the pure planner (validation, path,
//! VLAN allocation, desired state, diff), `southbound` holds the switch drivers, and `cli`
//! is the command line on top.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod engine;
pub mod mail;
pub mod model;
pub mod orchestrator;
pub mod portal;
pub mod service;
pub mod southbound;
pub mod store;
pub mod tls;
pub mod topology;
