//! Resources: what outlives the stack, IAM, table encryption, one index change at a time.

use std::collections::BTreeSet;
use std::process::Command;

use serde_yaml_ng::Value;

use super::{list, of_type, template};

/// CloudFormation deletes a resource with its stack, or when an update replaces it, unless
/// its `DeletionPolicy` and `UpdateReplacePolicy` are `Retain`. The table and the bucket
/// are kept; the secrets every API key and endpoint secret derive from must be kept too.
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html>
#[test]
fn the_data_and_the_secrets_it_needs_outlive_the_stack() {
    let template = template();
    for kind in [
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
    ] {
        let found = of_type(&template, kind);
        assert!(!found.is_empty(), "{kind}");
        for (name, resource) in found {
            assert_eq!(resource["DeletionPolicy"], "Retain", "{name}");
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{name}");
        }
    }
}

/// `dynamodb:ListStreams` has no resource type: granted on a table or stream ARN, it is
/// never allowed.
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html>
#[test]
fn actions_without_a_resource_type_are_granted_on_every_resource() {
    let template = template();
    for (role, resource) in of_type(&template, "AWS::IAM::Role") {
        for policy in list(&resource["Properties"]["Policies"]) {
            for statement in list(&policy["PolicyDocument"]["Statement"]) {
                let actions: Vec<&str> = list(&statement["Action"])
                    .into_iter()
                    .filter_map(Value::as_str)
                    .collect();
                if actions.contains(&"dynamodb:ListStreams") {
                    assert_eq!(actions, ["dynamodb:ListStreams"], "{role}");
                    assert_eq!(statement["Resource"], "*", "{role}");
                }
            }
        }
    }
}

/// A table is encrypted at rest with an AWS owned key, free, unless `SSESpecification` asks
/// for KMS: `SSEEnabled: true` alone picks the AWS managed key, billed per request. Said as
/// `SSEEnabled: false`, so that a stack deployed with `true` is moved back.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html>
#[test]
fn the_table_uses_the_free_owned_key_unless_a_customer_key_is_named() {
    let template = template();
    for (name, table) in of_type(&template, "AWS::DynamoDB::Table") {
        let sse = &table["Properties"]["SSESpecification"];
        assert!(
            sse["SSEEnabled"] == false || !sse["KMSMasterKeyId"].is_null(),
            "{name}: SSEEnabled without a key of our own is billed for nothing"
        );
    }
}

/// The global secondary indexes `template.yaml` declares.
fn indexes_of(template: &Value) -> BTreeSet<String> {
    let (_, table) = of_type(template, "AWS::DynamoDB::Table")[0];
    list(&table["Properties"]["GlobalSecondaryIndexes"])
        .iter()
        .map(|index| serde_yaml_ng::to_string(index).unwrap())
        .collect()
}

/// One table update may create or delete one global secondary index, and CloudFormation
/// makes one update of a template's whole change: two at once (or changing an index's keys
/// or projection, which replaces it) fail the deploy. Held commit by commit: against the
/// last commit that changed the template, at most one index is created or deleted.
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html#cfn-dynamodb-table-globalsecondaryindexes>
#[test]
fn each_change_of_the_template_touches_at_most_one_index() {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).to_string())
    };
    // The commit before the last one that changed the template, or before the working
    // tree's change when the template has uncommitted edits.
    let edited = git(&["diff", "--quiet", "HEAD", "--", "template.yaml"]).is_none();
    let changes = git(&["log", "--format=%H", "-n", "2", "--", "template.yaml"])
        .expect("git history (a clone of the repository)");
    let changes: Vec<&str> = changes.lines().collect();
    let before = if edited {
        changes.first()
    } else {
        changes.get(1)
    };
    let Some(before) = before else {
        return; // the template's first commit: nothing deployed to compare with
    };
    let old = git(&["show", &format!("{before}:template.yaml")]).unwrap();
    let old = indexes_of(&serde_yaml_ng::from_str(&old).unwrap());
    let new = indexes_of(&template());
    // Changing an index's keys or projection replaces it: a deletion and a creation.
    let changed = old.symmetric_difference(&new).count();
    assert!(
        changed <= 1,
        "{changed} index creations or deletions since {before}: deploy them one at a time"
    );
}
