//! Harness for the integration tests: the local stack's clients, organizations with keys,
//! and requests sent through the functions' real routers.
//!
//! `make test` runs these tests under `leadgrid-local test`, which starts DynamoDB Local
//! and moto on free ports and exports their endpoints.

/// A client of `$sdk` from `$builder`, recording its calls as `$function`'s.
macro_rules! recorded {
    ($sdk:ident, $builder:expr, $function:expr) => {{
        let mut builder = $builder;
        if let Some(recorder) = $crate::aws_calls::Recorder::of($function) {
            builder = builder.interceptor(recorder);
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

pub mod aws_calls;
mod calls;
pub mod contact_listings;
mod counter;
#[cfg(test)]
mod doc_links;
pub mod gateway;
pub mod legacy_keys;
mod orgs;
mod pipeline;
mod receiver;
mod routers;
pub mod routes;
pub mod runtime_api;
mod stack;
pub mod verifiers;
mod webhook_functions;

pub use calls::{delete, patch, post, Call, Reply};
pub use counter::CallCounter;
pub use legacy_keys::{legacy_key, stored_key_hashes};
pub use orgs::{growth_org, org_with, outbox, TestOrg};
pub use pipeline::pipeline;
pub use receiver::{Received, Receiver};
pub use routers::{
    contacts_router, dossiers_router, events_router, flows_router, function_for, notes_router,
    serve_api, webhook_endpoints_router,
};
pub use stack::{one_window, stack, Stack};
pub use webhook_functions::{quick_schedule, OwnQueue};
