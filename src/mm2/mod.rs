//! MirrorMaker 2: its internal records (pure codecs) and where they live.

pub mod codec;
pub mod state;
pub mod syncs;
pub mod topics;
