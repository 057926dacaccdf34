//! Contract: `smoke-test provision` creates the same resource shapes (keys, GSIs, TTL,
//! notifications, visibility timeouts, DLQ receive counts) as the CDK stacks in infra/.
//!
//! Needs the shapes the infra build writes (`make infra-test` leaves them in
//! infra/cdk.out.test/shapes.json); `make test` runs it after the infra suite with
//! STEREOSPOT_INFRA_SHAPES set, hence `#[ignore]` in the plain cargo run.
use smoke_test::moto::MotoServer;
use smoke_test::provision::{canonical_json, describe_shapes, provision, ResourceNames};

#[tokio::test]
#[ignore = "needs the infra shapes: run through `make test` (target shapes-contract)"]
async fn provision_matches_the_cdk_stacks() {
    let path = std::env::var("STEREOSPOT_INFRA_SHAPES")
        .expect("STEREOSPOT_INFRA_SHAPES: path of infra shapes.json");
    let infra: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read infra shapes"))
            .expect("infra shapes JSON");
    let moto = MotoServer::start().expect("moto");
    let conf = moto.sdk_config().await;
    let res = provision(&conf, &ResourceNames::random())
        .await
        .expect("provision");
    let local = describe_shapes(&conf, &res).await.expect("describe");
    assert_eq!(
        canonical_json(&local),
        canonical_json(&infra),
        "provisioned shapes differ from the CDK stacks"
    );
}
