//! Operator commands behind `leadgrid-admin`: organizations, members, API keys, flows and
//! webhook endpoints. Tests use the same functions to set up their fixtures.

pub mod events;
pub mod secrets;
pub mod webhooks;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use shared::domain::fields::Email;
use shared::domain::flows::{default_flows, DossierType, Flow, StageSpec};
use shared::domain::orgs::{Member, Org, Plan, DEFAULT_POOL_DAYS};
use shared::ids::new_id;
use shared::secrets::{SecretSource, WebhookMasterKey};
use shared::table::keys::{
    api_key_sk, member_sk, org_directory_sk, org_pk, API_KEY_PREFIX, ORG_DIRECTORY,
    ORG_DIRECTORY_PK, ORG_SK,
};
use shared::table::store::{n, s, to_item, Db, Expression};
use shared::table::txn;
use shared::web::auth::{generate_key, ApiKeyRecord, Scope};
use shared::{clock, ApiError};

#[derive(Debug)]
pub struct AdminError(pub String);

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AdminError {}

impl From<ApiError> for AdminError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Internal(detail) => Self(detail),
            other => Self(other.to_string()),
        }
    }
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for AdminError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Self(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

fn fail<T>(message: impl Into<String>) -> AdminResult<T> {
    Err(AdminError(message.into()))
}

/// An API key as `key list` shows it: everything but the secret and its hash.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: Uuid,
    pub name: Option<String>,
    pub scopes: Vec<Scope>,
    #[serde(with = "shared::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "shared::clock::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "shared::clock::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRecord> for KeyView {
    fn from(record: ApiKeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            scopes: record.scopes,
            created_at: record.created_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub org: Uuid,
    pub id: Uuid,
    pub name: Option<String>,
    /// The full secret, shown this once.
    pub key: String,
    pub scopes: Vec<Scope>,
    #[serde(with = "shared::clock::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// The operator's view: it reads the webhook secret, to show endpoints' signing secrets.
pub struct Admin {
    pub db: Db,
    pub webhook_master_key: SecretSource<WebhookMasterKey>,
}

/// Fails a transaction unless the organization exists.
/// An organization's active keys, each of which carries its plan: a plan change updates the
/// organization and all of them in one transaction, which holds at most 100 items
/// (DynamoDB's `TransactWriteItems` limit).
pub const MAX_ACTIVE_KEYS: usize = 99;
/// A key's name is a label for people, not a description.
pub const MAX_KEY_NAME: usize = 100;
/// How many keys were ever made for the organization, on its item: a plan change holds
/// only if none was made since it read the keys.
const KEYS_MADE: &str = "keys_made";

fn org_exists(org: Uuid) -> txn::Write {
    txn::exists(&org_pk(org), ORG_SK)
}

impl Admin {
    /// Reads the table and the webhook secret as `config` names them.
    pub fn from_config(
        sdk: &aws_config::SdkConfig,
        config: &shared::config::Config,
    ) -> Result<Self, String> {
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        Ok(Self {
            db: Db::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
            webhook_master_key: SecretSource::new(secrets, config.require_webhook_secret_id()?),
        })
    }

    /// Runs `items` as one transaction, whose conditions say that the organization (or
    /// the item `what` names) exists.
    async fn transact(&self, items: Vec<txn::Write>, what: &str) -> AdminResult<()> {
        let missing = format!("{what}: the organization does not exist");
        let mut transaction = txn::Transaction::new();
        for write in items {
            transaction.push_refusing(write, missing.clone());
        }
        match txn::read_modify_write(&self.db, what, || async {
            Ok(txn::Step::Write((), transaction.clone()))
        })
        .await?
        {
            Ok(()) => Ok(()),
            Err(missing) => fail(missing),
        }
    }

    /// The organization with its two default flows, in one transaction.
    pub async fn create_org(&self, name: &str, plan: Plan) -> AdminResult<Org> {
        if name.trim().is_empty() {
            return fail("--name must not be empty");
        }
        let now = clock::now();
        let org = Org {
            id: new_id(),
            name: name.trim().to_string(),
            plan,
            pool_days: DEFAULT_POOL_DAYS,
            created_at: now,
        };
        let mut item = to_item(&org, &org_pk(org.id), ORG_SK, "org")?;
        item.extend(Self::in_directory(org.id));
        let mut items = vec![txn::put(item, Some("attribute_not_exists(PK)"))];
        for flow in default_flows(now) {
            items.push(txn::put(flow.item(org.id)?, None));
        }
        self.transact(items, "org create").await?;
        Ok(org)
    }

    /// The attributes that list an organization in `org list`.
    fn in_directory(org: Uuid) -> [(String, aws_sdk_dynamodb::types::AttributeValue); 2] {
        [
            (ORG_DIRECTORY.pk.to_string(), s(ORG_DIRECTORY_PK)),
            (ORG_DIRECTORY.sk.to_string(), s(org_directory_sk(org))),
        ]
    }

    /// Every organization, oldest first.
    pub async fn list_orgs(&self) -> AdminResult<Vec<Org>> {
        Ok(self.db.query_index(ORG_DIRECTORY, ORG_DIRECTORY_PK).await?)
    }

    /// Lists in `org list` the organizations made before it existed; how many it added.
    pub async fn index_orgs(&self) -> AdminResult<usize> {
        let missing = self.db.scan_for_missing(ORG_SK, ORG_DIRECTORY.pk).await?;
        let mut indexed = 0;
        for item in missing {
            let Some(org) = item
                .get("PK")
                .and_then(|pk| pk.as_s().ok())
                .and_then(|pk| shared::table::keys::parse_org_pk(pk))
            else {
                continue;
            };
            let [(pk_name, pk_value), (sk_name, sk_value)] = Self::in_directory(org);
            let names = [("#dpk", pk_name.as_str()), ("#dsk", sk_name.as_str())];
            let update = Expression {
                text: "SET #dpk = :value, #dsk = :sk",
                names: &names,
                values: vec![(":value", pk_value), (":sk", sk_value)],
            };
            if self
                .db
                .update_if(&org_pk(org), ORG_SK, &update, Some("attribute_exists(PK)"))
                .await?
                .is_ok()
            {
                indexed += 1;
            }
        }
        Ok(indexed)
    }

    pub async fn get_org(&self, org: Uuid) -> AdminResult<Org> {
        match shared::domain::orgs::get_org(&self.db, org).await? {
            Some(found) => Ok(found),
            None => fail(format!("organization {org} does not exist")),
        }
    }

    /// The organization's plan and the copy every key that is not revoked carries, in one
    /// transaction. It holds only if no key was made since the keys were read (the
    /// organization's `keys_made` is unchanged), so a key made meanwhile is never left with
    /// the old plan: the change reads the keys again and retries.
    pub async fn set_plan(&self, org: Uuid, plan: Plan) -> AdminResult<Org> {
        let refused = txn::until_written(&self.db, "org set-plan", || async {
            let found = self.db.get_item(&org_pk(org), ORG_SK).await?;
            let Some(found) = found else {
                return Err(ApiError::not_found(format!("organization {org} does not exist")));
            };
            let keys_made = shared::table::store::counter(&found, KEYS_MADE);
            let keys = self.active_keys(org).await?;
            if keys.len() > MAX_ACTIVE_KEYS {
                return Err(ApiError::LimitReached(format!(
                    "organization {org} has {} keys that are not revoked, more than one plan change can update ({MAX_ACTIVE_KEYS}); revoke some first",
                    keys.len()
                )));
            }
            let plan_value = || vec![(":plan".to_string(), s(plan.as_str()))];
            let plan_name = || ("#plan".to_string(), "plan".to_string());
            let unchanged = txn::update(txn::UpdateSpec {
                    pk: org_pk(org),
                    sk: ORG_SK.into(),
                    expression: "SET #plan = :plan".into(),
                    condition: Some(
                        "attribute_exists(PK) AND (attribute_not_exists(#made) OR #made = :made)"
                            .into(),
                    ),
                    names: vec![plan_name(), ("#made".into(), KEYS_MADE.into())],
                    values: [plan_value(), vec![(":made".into(), n(keys_made))]].concat(),
                },
            );
            // A key made (or revoked and gone) meanwhile fails a condition: read again.
            let mut items: txn::Transaction = std::iter::once(unchanged).collect();
            for key in keys {
                items.push(txn::update(txn::UpdateSpec {
                        pk: org_pk(org),
                        sk: api_key_sk(key.id),
                        expression: "SET #plan = :plan".into(),
                        condition: Some("attribute_exists(PK)".into()),
                        names: vec![plan_name()],
                        values: plan_value(),
                    },
                ));
            }
            Ok(txn::Step::Write((), items))
        })
        .await;
        refused.map_err(AdminError::from)?;
        self.get_org(org).await
    }

    /// The keys that are not revoked: those whose item must carry the plan. (An expired
    /// key is counted too: the API's clock, not this machine's, says when it expires.)
    async fn active_keys(&self, org: Uuid) -> Result<Vec<ApiKeyRecord>, ApiError> {
        let keys: Vec<ApiKeyRecord> = self.db.query_prefix(&org_pk(org), API_KEY_PREFIX).await?;
        Ok(keys
            .into_iter()
            .filter(|key| key.revoked_at.is_none())
            .collect())
    }

    async fn update_org(
        &self,
        org: Uuid,
        expression: &str,
        name: &str,
        value: aws_sdk_dynamodb::types::AttributeValue,
    ) -> AdminResult<Org> {
        let names = [(format!("#{name}"), name.to_string())];
        let names: Vec<(&str, &str)> = names
            .iter()
            .map(|(p, n)| (p.as_str(), n.as_str()))
            .collect();
        let update = Expression {
            text: expression,
            names: &names,
            values: vec![(":value", value)],
        };
        match self
            .db
            .update_if(&org_pk(org), ORG_SK, &update, Some("attribute_exists(PK)"))
            .await?
        {
            Ok(item) => Ok(shared::table::store::from_item(item)?),
            Err(_) => fail(format!("organization {org} does not exist")),
        }
    }

    pub async fn add_member(
        &self,
        org: Uuid,
        email: &str,
        name: Option<&str>,
    ) -> AdminResult<Member> {
        // The API's own rule for an email, so that a member's reads as a contact's does.
        let email = Email::parse(email)
            .map_err(|problem| AdminError(format!("--email {problem}")))?
            .into_string();
        let member = Member {
            id: new_id(),
            email,
            name: name.map(str::to_string),
            created_at: clock::now(),
        };
        let item = to_item(&member, &org_pk(org), &member_sk(member.id), "member")?;
        self.transact(vec![org_exists(org), txn::put(item, None)], "member add")
            .await?;
        Ok(member)
    }

    pub async fn create_key(
        &self,
        org: Uuid,
        scopes: Vec<Scope>,
        expires_at: Option<OffsetDateTime>,
        name: Option<&str>,
    ) -> AdminResult<CreatedKey> {
        if scopes.is_empty() {
            return fail("--scopes needs at least one scope");
        }
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        if name.is_some_and(|name| {
            name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control)
        }) {
            return fail(format!(
                "--name must be one line of at most {MAX_KEY_NAME} characters"
            ));
        }
        let plan = self.get_org(org).await?.plan;
        let active = self.active_keys(org).await?.len();
        if active >= MAX_ACTIVE_KEYS {
            return fail(format!(
                "organization {org} has {active} keys that are not revoked, the most it may have; revoke one first"
            ));
        }
        let new_key = generate_key(org);
        let record = ApiKeyRecord {
            id: new_key.id,
            org_id: org,
            key_hash: new_key.hash,
            key_sha256: None,
            scopes: scopes.clone(),
            created_at: clock::now(),
            expires_at,
            revoked_at: None,
            rl_window: 0,
            rl_count: 0,
            plan: Some(plan),
            name: name.map(str::to_string),
        };
        let item = to_item(&record, &org_pk(org), &api_key_sk(record.id), "api_key")?;
        // The plan copied must still be the organization's when the key is written, and a
        // plan change under way must see this key: it counts in `keys_made`.
        let counted = txn::update(txn::UpdateSpec {
            pk: org_pk(org),
            sk: ORG_SK.into(),
            expression: "ADD #made :one".into(),
            condition: Some("#plan = :plan".into()),
            names: vec![
                ("#plan".into(), "plan".into()),
                ("#made".into(), KEYS_MADE.into()),
            ],
            values: vec![(":plan".into(), s(plan.as_str())), (":one".into(), n(1))],
        });
        let transaction: txn::Transaction = [counted, txn::put(item, None)].into_iter().collect();
        if txn::commit(&self.db, &transaction).await?.is_err() {
            return fail(format!(
                "key create: organization {org} changed plan or does not exist; retry"
            ));
        }
        Ok(CreatedKey {
            org,
            id: record.id,
            name: record.name,
            key: new_key.plaintext,
            scopes,
            expires_at,
        })
    }

    pub async fn revoke_key(&self, org: Uuid, id: Uuid) -> AdminResult<()> {
        let items = vec![txn::update(txn::UpdateSpec {
            pk: org_pk(org),
            sk: api_key_sk(id),
            expression: "SET revoked_at = if_not_exists(revoked_at, :now)".into(),
            condition: Some("attribute_exists(PK)".into()),
            names: Vec::new(),
            values: vec![(":now".into(), s(clock::format(clock::now())))],
        })];
        self.transact(items, "key revoke")
            .await
            .map_err(|_| AdminError(format!("key {id} does not exist in organization {org}")))
    }

    pub async fn list_keys(&self, org: Uuid) -> AdminResult<Vec<KeyView>> {
        self.get_org(org).await?;
        let keys: Vec<ApiKeyRecord> = self.db.query_prefix(&org_pk(org), API_KEY_PREFIX).await?;
        Ok(keys.into_iter().map(KeyView::from).collect())
    }

    pub async fn create_flow(
        &self,
        org: Uuid,
        kind: DossierType,
        name: &str,
        stages: Vec<StageSpec>,
    ) -> AdminResult<Flow> {
        let flow = Flow::new(name, kind, false, stages, clock::now()).map_err(AdminError)?;
        self.transact(
            vec![org_exists(org), txn::put(flow.item(org)?, None)],
            "flow create",
        )
        .await?;
        Ok(flow)
    }

    pub async fn set_pool_days(&self, org: Uuid, days: u32) -> AdminResult<Org> {
        if days == 0 || days > 3650 {
            return fail("--days must be from 1 to 3650");
        }
        self.update_org(org, "SET #pool_days = :value", "pool_days", n(days))
            .await
    }
}

pub fn parse_scopes(raw: &str) -> AdminResult<Vec<Scope>> {
    let mut scopes = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let scope = Scope::parse(part).ok_or_else(|| {
            let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            AdminError(format!(
                "unknown scope {part:?}; known scopes: {}",
                known.join(",")
            ))
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_dedupe_and_reject_unknowns() {
        assert_eq!(
            parse_scopes("dossiers:read, dossiers:read,flows:read").unwrap(),
            vec![Scope::DossiersRead, Scope::FlowsRead]
        );
        assert!(parse_scopes("dossiers:admin")
            .unwrap_err()
            .0
            .contains("dossiers:admin"));
    }
}

/// What `contacts reindex` did.
#[derive(Debug, serde::Serialize)]
pub struct ErasedCv {
    pub dossier: Uuid,
    /// Versions deleted from the bucket: the CV's, its uploads' and their delete markers.
    pub versions_deleted: u64,
}

impl Admin {
    /// See `leadgrid-admin cv erase`: the dossier stops naming its CV first, so the API
    /// no longer serves it, then every version of it and of its uploads is deleted.
    pub async fn erase_cv(
        &self,
        cvs: &shared::cv::CvStore,
        org: Uuid,
        dossier: Uuid,
    ) -> AdminResult<ErasedCv> {
        self.get_org(org).await?;
        shared::domain::dossiers::detach_cv(&self.db, org, dossier, clock::now()).await?;
        let versions_deleted = cvs.erase(org, dossier).await?;
        Ok(ErasedCv {
            dossier,
            versions_deleted,
        })
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Reindexed {
    pub org: Uuid,
    pub contacts: u64,
    /// Changed while being reindexed: their own write indexed them.
    pub changed_meanwhile: u64,
    pub last: Option<Uuid>,
    /// The contacts the kinds totals now count.
    pub counted: u64,
}

impl Admin {
    /// See `leadgrid-admin contacts reindex`: the indexes contact by contact, then the
    /// kinds totals and pool counters from a full pass.
    pub async fn reindex_contacts(&self, org: Uuid, after: Option<Uuid>) -> AdminResult<Reindexed> {
        use shared::domain::contacts::{Contact, CONTACT_PREFIX};
        use shared::table::query::{Query, SortKey};
        self.get_org(org).await?;
        let from = after.map_or_else(
            || CONTACT_PREFIX.to_string(),
            |id| format!("{}~", shared::domain::contacts::contact_sk(id)),
        );
        let mut pages = self.db.pages(
            Query::table(&org_pk(org)).sort(SortKey::Between(from, format!("{CONTACT_PREFIX}~"))),
        );
        let mut done = Reindexed {
            org,
            contacts: 0,
            changed_meanwhile: 0,
            last: after,
            counted: 0,
        };
        while let Some(page) = pages.next(Some(100)).await? {
            for item in page {
                let contact: Contact = shared::table::store::from_item(item)?;
                if !shared::domain::contacts::reindex(&self.db, org, &contact).await? {
                    done.changed_meanwhile += 1;
                }
                done.contacts += 1;
                done.last = Some(contact.id);
            }
            if let Some(last) = done.last {
                eprintln!("contacts reindex: {} done, last {last}", done.contacts);
            }
        }
        done.counted = shared::domain::contacts::recount(&self.db, org).await?;
        eprintln!(
            "contacts reindex: the kinds totals and pool counters count {} contacts",
            done.counted
        );
        Ok(done)
    }
}
