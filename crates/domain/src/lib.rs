//! Pure domain core of waterdesk: types, rules and formulas with no I/O and no async.
//!
//! Everything here is a plain function over plain data so it can be unit- and
//! property-tested exhaustively. The store, services and web crates depend on this
//! crate; it depends on none of them.

pub mod audit;
pub mod dispatch;
pub mod duplicates;
pub mod grams;
pub mod kpi;
pub mod money;
pub mod numbering;
pub mod password;
pub mod permissions;
pub mod phone;
pub mod query;
pub mod schedule;
pub mod sla;
pub mod tariff;
pub mod time;
pub mod username;
pub mod workflow;

pub use permissions::{BuiltinRole, Permission};
