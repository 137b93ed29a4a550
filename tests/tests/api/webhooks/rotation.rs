//! Secret rotation: signed with both secrets during the grace, and no secret stored.

use std::time::Duration;

use integration_tests::verifiers::Verifier;
use integration_tests::{growth_org, pipeline, stack, Receiver};

use super::{create_dossier, endpoint, header};

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_old_last() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    let (id, old_secret) = endpoint(&org, &receiver.url, Some("dossier.created")).await;
    let admin = stack().await.admin();
    let new_secret = admin
        .rotate_webhook_secret(org.id, id, 24)
        .await
        .unwrap()
        .secret;
    assert_ne!(new_secret, old_secret);
    create_dossier(&org, "Rotated").await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let signature = header(&got[0], "x-leadgrid-signature");
    assert_eq!(signature.matches("v1=").count(), 2, "{signature}");
    let body = &got[0].body;
    // Receivers still on the old secret keep verifying with the spec's own code...
    assert!(Verifier::Spec.verifies(signature, body, &old_secret, 300));
    // ...and each of the receivers' examples in docs/webhooks (and Stripe's library) accepts
    // either secret during the grace, and nothing else.
    for verifier in Verifier::ROTATION_AWARE {
        assert!(
            verifier.verifies(signature, body, &new_secret, 300),
            "{verifier:?}, new"
        );
        assert!(
            verifier.verifies(signature, body, &old_secret, 300),
            "{verifier:?}, old"
        );
        assert!(
            !verifier.verifies(signature, body, "whsec_other", 300),
            "{verifier:?}, other"
        );
        let tampered = body.replace("Rotated", "Rotatex");
        assert!(
            !verifier.verifies(signature, &tampered, &new_secret, 300),
            "{verifier:?}, body"
        );
    }
    // A replay outside the tolerance is refused, however well signed.
    let t: u64 = signature[2..signature.find(',').unwrap()].parse().unwrap();
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        < t + 3
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for verifier in Verifier::ROTATION_AWARE {
        assert!(
            !verifier.verifies(signature, body, &new_secret, 1),
            "{verifier:?}, stale"
        );
    }

    let newest = admin
        .rotate_webhook_secret(org.id, id, 0)
        .await
        .unwrap()
        .secret;
    create_dossier(&org, "Rotated again").await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 2)
        .await;
    let signature = header(&got[1], "x-leadgrid-signature");
    assert_eq!(
        signature.matches("v1=").count(),
        1,
        "grace 0 ends the old secrets at once"
    );
    assert!(Verifier::Spec.verifies(signature, &got[1].body, &newest, 300));

    // The table holds salts, never a secret.
    let item = stack()
        .await
        .dynamodb()
        .get_item()
        .table_name(&stack().await.config.table_name)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", org.id)),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("WEBHOOK#{id}")),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let stored = format!("{item:?}");
    for secret in [&old_secret, &new_secret, &newest] {
        assert!(!stored.contains(secret.trim_start_matches("whsec_")));
    }
}
