//! The single table and the only code that talks to DynamoDB about it: its shape
//! ([`schema`]), every key and index ([`keys`]), typed reads and writes ([`store`]), the
//! queries they page through ([`query`]) and transactions ([`txn`]).

pub mod keys;
pub mod query;
pub mod schema;
pub mod store;
pub mod txn;
