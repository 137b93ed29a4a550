//! The operator tools, never linked into a Lambda: `leadgrid-admin` (organizations, keys,
//! flows and webhook endpoints) and `leadgrid-local` (the local AWS stack behind `make dev`
//! and `make test`). Tests use the same functions for their fixtures and event pipeline.

pub mod admin;
pub mod local;
