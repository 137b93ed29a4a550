//! The domain: what LeadGrid's resources are and how they change. Every change is one
//! transaction that also writes its outbox event. Nothing here knows about HTTP: a
//! precondition arrives as [`crate::table::txn::Precondition`], page parameters as
//! [`pagination::PageParams`].

pub mod contacts;
pub mod dossiers;
pub mod events;
pub mod fields;
pub mod flows;
pub mod links;
pub mod notes;
pub mod orgs;
pub mod outbox;
pub mod pagination;
