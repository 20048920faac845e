//! cutover: a terminal cockpit for live Apache Kafka cluster migrations.
//!
//! Data flows one way: Kafka -> `kafka` -> `monitor` -> `model::Snapshot` -> `tui` / `status`.
//! The README's "Architecture" section draws the modules and the direction of their imports.

pub mod cli;
pub mod config;
pub mod cutover;
pub mod demo;
pub mod error;
pub mod jobs;
pub mod kafka;
pub mod lag_clock;
pub mod metrics;
pub mod mm2;
pub mod model;
pub mod monitor;
pub mod serve;
pub mod status;
pub mod translate;
pub mod tui;
pub mod validate;
