//! The single table and the only code that talks to DynamoDB about it: its shape
//! ([`schema`]), every key and index ([`keys`]), typed reads and writes ([`store`]) and
//! transactions ([`txn`]).

pub mod keys;
pub mod schema;
pub mod store;
pub mod txn;
