//! One integration-test crate (one binary to link on two cores): real peers on loopback.

mod check;
mod cli;
mod faults;
mod get;
mod interop;
mod naive;
mod robustness;
mod seed_cases;
mod seed_session;
mod sync;
mod tracker;
mod tui;
mod util;
mod web;
