//! The single table, defined once. The local stack creates it from [`definition`], and a
//! test proves `template.yaml` carries exactly [`cloudformation_yaml`].
//!
//! Every item is keyed by organization (`PK = ORG#<org_id>`). The access patterns are
//! listed in the README's "Single-table layout" section.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// Epoch seconds after which DynamoDB may delete the item.
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";

const STRING_ATTRIBUTES: [&str; 6] = [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK];
const INDEXES: [(&str, &str, &str); 2] = [(GSI1, GSI1PK, GSI1SK), (GSI2, GSI2PK, GSI2SK)];

/// The parts of CreateTable that describe the table's shape.
pub struct Definition {
    pub attributes: Vec<AttributeDefinition>,
    pub keys: Vec<KeySchemaElement>,
    pub indexes: Vec<GlobalSecondaryIndex>,
    pub stream: StreamSpecification,
    pub billing: BillingMode,
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema element has all required fields")
}

pub fn definition() -> Definition {
    Definition {
        attributes: STRING_ATTRIBUTES
            .iter()
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition has all required fields")
            })
            .collect(),
        keys: vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)],
        indexes: INDEXES
            .iter()
            .map(|(name, pk, sk)| {
                GlobalSecondaryIndex::builder()
                    .index_name(*name)
                    .key_schema(key(pk, KeyType::Hash))
                    .key_schema(key(sk, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("index has all required fields")
            })
            .collect(),
        stream: StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .expect("stream specification has all required fields"),
        billing: BillingMode::PayPerRequest,
    }
}

/// The table's shape as CloudFormation properties, indented for `template.yaml`'s table
/// resource. Rendered from the same constants as [`definition`].
pub fn cloudformation_yaml() -> String {
    let mut out = String::new();
    out.push_str("      BillingMode: PAY_PER_REQUEST\n");
    out.push_str("      AttributeDefinitions:\n");
    for name in STRING_ATTRIBUTES {
        out.push_str(&format!(
            "        - AttributeName: {name}\n          AttributeType: S\n"
        ));
    }
    out.push_str("      KeySchema:\n");
    out.push_str(&format!(
        "        - AttributeName: {PK}\n          KeyType: HASH\n        - AttributeName: {SK}\n          KeyType: RANGE\n"
    ));
    out.push_str("      GlobalSecondaryIndexes:\n");
    for (name, pk, sk) in INDEXES {
        out.push_str(&format!(
            "        - IndexName: {name}\n          KeySchema:\n            - AttributeName: {pk}\n              KeyType: HASH\n            - AttributeName: {sk}\n              KeyType: RANGE\n          Projection:\n            ProjectionType: ALL\n"
        ));
    }
    out.push_str("      StreamSpecification:\n        StreamViewType: NEW_AND_OLD_IMAGES\n");
    out.push_str(&format!(
        "      TimeToLiveSpecification:\n        AttributeName: {TTL_ATTRIBUTE}\n        Enabled: true\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_yaml_declares_exactly_this_table() {
        let template = include_str!("../../template.yaml");
        let expected = cloudformation_yaml();
        assert!(
            template.contains(&expected),
            "template.yaml's LeadGridTable properties differ from shared::table; expected:\n{expected}"
        );
    }

    #[test]
    fn every_index_key_is_declared() {
        let def = definition();
        assert_eq!(def.attributes.len(), 6);
        assert_eq!(def.indexes.len(), 2);
        assert_eq!(def.keys.len(), 2);
    }
}
