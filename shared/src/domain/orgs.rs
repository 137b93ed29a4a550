//! Organizations, their plans and members.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::table::keys::{member_sk, org_pk, ORG_SK};
use crate::table::store::Db;
use crate::ApiError;

crate::wire_enum! {
    pub enum Plan {
        Free = "free",
        Pro = "pro",
        Growth = "growth",
    }
}

impl Plan {
    pub fn has_api_access(self) -> bool {
        self == Self::Growth
    }
}

pub const DEFAULT_POOL_DAYS: u32 = 365;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub plan: Plan,
    #[serde(default = "default_pool_days")]
    pub pool_days: u32,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn default_pool_days() -> u32 {
    DEFAULT_POOL_DAYS
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub async fn get_org(db: &Db, org: Uuid) -> Result<Option<Org>, ApiError> {
    db.get(&org_pk(org), ORG_SK).await
}

pub async fn get_member(db: &Db, org: Uuid, user: Uuid) -> Result<Option<Member>, ApiError> {
    db.get(&org_pk(org), &member_sk(user)).await
}

/// Plans change rarely; each container remembers an organization's plan for at most
/// [`PLAN_CACHE_TTL`], which bounds how long a plan change takes to apply.
pub const PLAN_CACHE_TTL: Duration = Duration::from_secs(60);

pub struct PlanCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Plan, Instant)>>,
}

impl Default for PlanCache {
    fn default() -> Self {
        Self::with_ttl(PLAN_CACHE_TTL)
    }
}

impl PlanCache {
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
        }
    }

    pub fn get(&self, org: Uuid) -> Option<Plan> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&org)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(plan, _)| *plan)
    }

    pub fn put(&self, org: Uuid, plan: Plan) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
        entries.insert(org, (plan, Instant::now()));
    }

    pub async fn plan(&self, db: &Db, org: Uuid) -> Result<Option<Plan>, ApiError> {
        if let Some(plan) = self.get(org) {
            return Ok(Some(plan));
        }
        let Some(found) = get_org(db, org).await? else {
            return Ok(None);
        };
        self.put(org, found.plan);
        Ok(Some(found.plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_growth_has_api_access() {
        assert!(Plan::Growth.has_api_access());
        assert!(!Plan::Pro.has_api_access());
        assert!(!Plan::Free.has_api_access());
        assert_eq!(Plan::parse("growth"), Some(Plan::Growth));
        assert_eq!(Plan::parse("enterprise"), None);
    }

    #[test]
    fn cache_serves_what_it_was_given() {
        let cache = PlanCache::default();
        let org = Uuid::now_v7();
        assert_eq!(cache.get(org), None);
        cache.put(org, Plan::Pro);
        assert_eq!(cache.get(org), Some(Plan::Pro));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = PlanCache::with_ttl(Duration::from_millis(20));
        let org = Uuid::now_v7();
        cache.put(org, Plan::Growth);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(org), None);
    }
}
