//! waterdesk as a library: configuration and the start-up sequence shared by the
//! `waterdesk` binary and the integration tests.

pub mod config;
pub mod start;
