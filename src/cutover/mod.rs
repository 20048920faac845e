//! Staged, topic-by-topic cutovers: the pure engine, its journal, the hooks and checks it
//! drives, and the headless driver (`cutover plan`, `run`, `rollback`).

pub mod checks;
pub mod clusters;
pub mod commits;
pub mod driver;
#[cfg(test)]
mod driver_tests;
pub mod engine;
pub mod go;
pub mod handover;
pub mod hooks;
pub mod journal;
pub mod notify;
pub mod pause;
pub mod plan;
pub mod strays;
