//! Integration tests against the local stack (DynamoDB Local and moto), run by `make test`.

mod admin_cli;
mod auth;
mod aws_rules;
mod contact_search;
mod contacts;
mod contract;
mod counters;
mod cvs;
mod dossiers;
mod entry_points;
mod errors;
mod etags;
mod flows;
mod idempotency;
mod links;
mod notes;
mod pollers;
mod rate_limit;
mod reference;
mod round_trips;
mod routes;
mod sample_events;
mod table;
mod tenancy;
mod webhook_endpoints;
mod webhooks;
