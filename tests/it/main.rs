//! Integration tests: the real server on a free port with a fresh database per test —
//! SQLite always, PostgreSQL too when `WATERDESK_TEST_POSTGRES_URL` is set (skipped,
//! visibly, when it is not). One test binary, as crates.io does.

mod helpers;

mod imports;

mod access;
mod admin;
mod attachments;
mod audit;
mod auth;
mod authz;
mod bad_input;
mod billing;
mod blob_s3;
mod browser;
mod campaigns;
mod cli;
mod contacts;
mod customers;
mod dashboard;
mod dispatch;
mod duplicates;
mod escalation;
mod events;
mod field;
mod jobs;
mod order_pages;
mod order_query;
mod order_types;
mod orders;
mod plans;
mod reports;
mod seed_work;
mod stats;
mod storage;
mod webhooks;
