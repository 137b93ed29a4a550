//! Identifiers. Ids are UUIDv7, so that sort keys built from them order items by creation
//! time.

use uuid::Uuid;

pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
