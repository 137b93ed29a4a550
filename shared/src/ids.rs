//! Identifiers and the single-table key layout. Ids are UUIDv7, so that sort keys built
//! from them order items by creation time.

use uuid::Uuid;

pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

pub fn org_pk(org: Uuid) -> String {
    format!("ORG#{org}")
}

pub const ORG_SK: &str = "ORG";

pub fn member_sk(user: Uuid) -> String {
    format!("MEMBER#{user}")
}

pub fn api_key_sk(key: Uuid) -> String {
    format!("KEY#{key}")
}

pub const API_KEY_PREFIX: &str = "KEY#";

pub fn flow_sk(flow: Uuid) -> String {
    format!("FLOW#{flow}")
}

pub const FLOW_PREFIX: &str = "FLOW#";
