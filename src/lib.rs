//! Switchboard: a network service orchestrator for metro Ethernet VLAN channels.
//!
//! See ARCHITECTURE.md for the map. From the bottom up: `model` value types, `topology` the
//! metro network parsed and validated, `orchestrator` the pure core (planner, business
//! rules, diff), `store` the database and its repositories, `southbound` the switch drivers,
//! `engine` one transaction over many switches, `service` the orchestrator's rules and
//! composition (SPEC §2), `portal` HTTP (API and pages), `cli` the command line.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod agent;
pub mod cli;
pub mod engine;
pub mod mail;
pub mod model;
pub mod orchestrator;
pub mod pki;
pub mod portal;
pub mod service;
pub mod southbound;
pub mod store;
pub mod tls;
pub mod topology;
