//! One integration-test crate (one binary to link on two cores): real peers on loopback.

mod check;
mod classroom_servers;
mod cli;
mod demo_scripts;
mod design_claims;
mod disk_faults;
mod docs;
mod faults;
mod get;
mod hostile;
mod interop;
mod line_editing;
mod messages;
mod naive;
mod robustness;
mod seed_cases;
mod seed_session;
mod signals;
mod sync;
mod tracker;
mod tracker_traffic;
mod tui;
mod upload_policy;
mod util;
mod versions;
mod web;
