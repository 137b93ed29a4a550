//! Flows: the ordered stages a dossier moves through. Stages live inside their flow's item,
//! so one read returns a flow with its stages in position order.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::new_id;
use crate::table::keys::{flow_sk, org_pk, FLOW_PREFIX};
use crate::table::store::{to_item, Db, Item};
use crate::ApiError;

crate::wire_enum! {
    pub enum DossierType {
        Candidate = "candidate",
        Sales = "sales",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: Uuid,
    pub name: String,
    pub position: u32,
    pub deadline_days: Option<u32>,
    pub win_probability: Option<u32>,
    pub color: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flow {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: DossierType,
    pub is_default: bool,
    pub stages: Vec<Stage>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A stage as an operator describes it; ids and positions are assigned on creation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub name: String,
    pub deadline_days: Option<u32>,
    pub win_probability: Option<u32>,
    pub color: Option<String>,
}

impl Flow {
    pub fn new(
        name: &str,
        kind: DossierType,
        is_default: bool,
        stages: Vec<StageSpec>,
        now: OffsetDateTime,
    ) -> Result<Self, String> {
        if name.trim().is_empty() {
            return Err("a flow needs a name".into());
        }
        if stages.is_empty() {
            return Err("a flow needs at least one stage".into());
        }
        let stages = stages
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                if spec.name.trim().is_empty() {
                    return Err(format!("stage {} needs a name", index + 1));
                }
                if spec.win_probability.is_some_and(|p| p > 100) {
                    return Err(format!(
                        "stage {}: win_probability must be 0 to 100",
                        index + 1
                    ));
                }
                if let Some(color) = &spec.color {
                    if !is_hex_color(color) {
                        return Err(format!("stage {}: color must look like #RRGGBB", index + 1));
                    }
                }
                Ok(Stage {
                    id: new_id(),
                    name: spec.name,
                    position: index as u32 + 1,
                    deadline_days: spec.deadline_days,
                    win_probability: spec.win_probability,
                    color: spec.color,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id: new_id(),
            name: name.trim().to_string(),
            kind,
            is_default,
            stages,
            created_at: now,
        })
    }

    pub fn first_stage(&self) -> &Stage {
        &self.stages[0]
    }

    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        to_item(self, &org_pk(org), &flow_sk(self.id), "flow")
    }
}

fn is_hex_color(raw: &str) -> bool {
    raw.len() == 7 && raw.starts_with('#') && raw[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn specs(stages: [(&str, u32, u32, &str); 6]) -> Vec<StageSpec> {
    stages
        .into_iter()
        .map(|(name, deadline, win, color)| StageSpec {
            name: name.into(),
            deadline_days: Some(deadline),
            win_probability: Some(win),
            color: Some(color.into()),
        })
        .collect()
}

/// The two flows every new organization starts with.
pub fn default_flows(now: OffsetDateTime) -> [Flow; 2] {
    let candidate = specs([
        ("Applied", 3, 10, "#94A3B8"),
        ("Screening", 5, 25, "#3B82F6"),
        ("Interview", 7, 45, "#A855F7"),
        ("Assessment", 7, 60, "#F59E0B"),
        ("Offer", 5, 80, "#22C55E"),
        ("Hired", 14, 100, "#16A34A"),
    ]);
    let sales = specs([
        ("Lead", 3, 14, "#FF5C35"),
        ("Discovery", 5, 29, "#22C55E"),
        ("Proposal", 7, 43, "#3B82F6"),
        ("Negotiation", 10, 57, "#A855F7"),
        ("Contract", 7, 71, "#F59E0B"),
        ("Won", 14, 86, "#16A34A"),
    ]);
    [
        Flow::new(
            "Candidate Flow",
            DossierType::Candidate,
            true,
            candidate,
            now,
        )
        .expect("default candidate flow is valid"),
        Flow::new("Sales Flow", DossierType::Sales, true, sales, now)
            .expect("default sales flow is valid"),
    ]
}

/// The organization's flows, oldest first.
pub async fn list(db: &Db, org: Uuid) -> Result<Vec<Flow>, ApiError> {
    db.query_prefix(&org_pk(org), FLOW_PREFIX).await
}

pub async fn get(db: &Db, org: Uuid, flow: Uuid) -> Result<Option<Flow>, ApiError> {
    db.get(&org_pk(org), &flow_sk(flow)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_flows_have_six_ordered_stages() {
        let [candidate, sales] = default_flows(crate::clock::now());
        assert_eq!(candidate.kind, DossierType::Candidate);
        assert_eq!(sales.name, "Sales Flow");
        for flow in [&candidate, &sales] {
            assert!(flow.is_default);
            let positions: Vec<u32> = flow.stages.iter().map(|s| s.position).collect();
            assert_eq!(positions, vec![1, 2, 3, 4, 5, 6]);
            assert!(flow
                .stages
                .iter()
                .all(|s| s.color.as_deref().is_some_and(is_hex_color)));
        }
        let wins: Vec<u32> = sales
            .stages
            .iter()
            .filter_map(|s| s.win_probability)
            .collect();
        assert_eq!(wins, vec![14, 29, 43, 57, 71, 86]);
    }

    #[test]
    fn rejects_bad_flows() {
        let now = crate::clock::now();
        assert!(Flow::new("x", DossierType::Sales, false, vec![], now).is_err());
        let bad = StageSpec {
            name: "A".into(),
            deadline_days: None,
            win_probability: Some(101),
            color: None,
        };
        assert!(Flow::new("x", DossierType::Sales, false, vec![bad], now).is_err());
        let bad = StageSpec {
            name: "A".into(),
            deadline_days: None,
            win_probability: None,
            color: Some("red".into()),
        };
        assert!(Flow::new("x", DossierType::Sales, false, vec![bad], now).is_err());
    }
}
