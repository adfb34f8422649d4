//! Issue 10: upgrading from a version that claimed conference IDs with ConfigMaps. The state
//! such a version leaves behind (tests/fixtures/upgrade-from-configmap-claims.yaml, recorded
//! from it) is recreated, and the current operator starts on it: no user's ID changes, no PIN
//! changes, no e-mail is sent, and every ID gets a ConferenceIdClaim for its holder.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use conferencing_operator::api::{ConferenceIdClaim, ConferencingUser, ConferencingUserStatus, NotificationKind};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::PostParams;
use serde::Deserialize;
use support::*;

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn upgrading_from_configmap_claims_keeps_every_id_and_pin_and_sends_nothing() {
    let mut env = TestEnv::new("upgrade").await;
    let (tenant, users) = example_objects();
    env.apply(&tenant).await;
    for u in &users {
        env.apply(u).await;
    }
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upgrade-from-configmap-claims.yaml"
    ))
    .expect("fixture")
    .replace("NAMESPACE", &env.ns);
    for u in &users {
        let uid = env.user(&u.name_any()).await.uid().expect("uid");
        text = text.replace(&format!("UID-OF-{}", u.name_any()), &uid);
    }
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut pins: HashMap<String, Vec<u8>> = HashMap::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).expect("yaml");
        match v["kind"].as_str() {
            Some("ConferencingUser") => {
                let name = v["metadata"]["name"].as_str().expect("name").to_string();
                let old: ConferencingUserStatus = serde_yaml::from_value(v["status"].clone()).expect("status");
                let mut u = env.user(&name).await;
                u.status = Some(old.clone());
                env.api::<ConferencingUser>()
                    .replace_status(&name, &PostParams::default(), &u)
                    .await
                    .expect("write the old status");
                if let Some(id) = old.conference_id {
                    ids.insert(name, id);
                }
            }
            Some("Secret") => {
                let s: Secret = serde_yaml::from_value(v).expect("secret");
                pins.insert(s.name_any(), s.data.as_ref().and_then(|d| d.get("pin")).expect("pin").0.clone());
                env.api::<Secret>().create(&PostParams::default(), &s).await.expect("create Secret");
            }
            Some("ConfigMap") => {
                let c: ConfigMap = serde_yaml::from_value(v).expect("configmap");
                env.api::<ConfigMap>().create(&PostParams::default(), &c).await.expect("create ConfigMap");
            }
            other => panic!("unexpected kind {other:?} in the fixture"),
        }
    }
    assert_eq!(ids.len(), 4, "four Native users hold IDs");

    env.start_operator();
    for u in &users {
        env.wait_ready(&u.name_any()).await;
    }
    for (name, id) in &ids {
        let claim = wait_until(&format!("a claim of {id} for {name}"), TIMEOUT, || async {
            env.api::<ConferenceIdClaim>().get_opt(id).await.ok().flatten()
        })
        .await;
        assert_eq!(&claim.spec.holder.name, name);
    }
    env.wait_converged(Duration::from_secs(3)).await;
    for u in &users {
        let now = env.user(&u.name_any()).await;
        let st = now.status.clone().expect("status");
        assert_eq!(st.conference_id.as_ref(), ids.get(&u.name_any()), "{}'s ID did not change", u.name_any());
        assert!(st.notifications.pending.is_empty(), "nothing owed");
        for kind in NotificationKind::ALL {
            assert_eq!(env.event_count(&u.name_any(), kind.as_str()).await, 0, "no {kind} for {}", u.name_any());
        }
    }
    for (secret, pin) in &pins {
        let s = env.api::<Secret>().get(secret).await.expect("secret");
        assert_eq!(&s.data.expect("data")["pin"].0, pin, "{secret}: the PIN did not change");
    }
    let emails = std::fs::read_dir(env.outbox()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(emails, 0, "no e-mail");
    // The old ConfigMaps are left alone (the operator has no ConfigMap rights); the upgrade
    // notes say how to delete them.
    let cms = env.api::<ConfigMap>().list(&Default::default()).await.expect("list").items;
    assert_eq!(cms.iter().filter(|c| c.name_any().starts_with("conference-id-")).count(), 4);
}
