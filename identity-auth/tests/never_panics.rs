//! Arbitrary password hash strings never panic the hasher; they verify or give a typed error. Arbitrary
//! submissions never panic a self-service flow.

use identity_auth::{Argon2Params, HashAlgorithm, HasherConfig, PasswordHasher};
use identity_core::{HashedPassword, SecretString};
use proptest::prelude::*;

fn hasher() -> &'static PasswordHasher {
    static HASHER: std::sync::OnceLock<PasswordHasher> = std::sync::OnceLock::new();
    HASHER.get_or_init(|| {
        PasswordHasher::new(HasherConfig {
            algorithm: HashAlgorithm::Argon2id,
            argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
            bcrypt_cost: 4,
        })
        .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_phc_like_strings_never_panic(
        algorithm in prop_oneof![
            Just("argon2id".to_owned()), Just("argon2i".to_owned()), Just("pbkdf2-sha256".to_owned()),
            Just("pbkdf2-sha512".to_owned()), Just("scrypt".to_owned()), Just("2b".to_owned()), Just("2y".to_owned()),
            "[a-z0-9-]{0,12}"
        ],
        rest in "[a-zA-Z0-9=,$./+*-]{0,80}",
    ) {
        if let Ok(hash) = HashedPassword::new(format!("${algorithm}${rest}")) {
            let _ = PasswordHasher::check_importable(&hash);
            let _ = hasher().verify(&SecretString::new("password"), &hash);
        }
    }
}

mod support;

/// Any JSON a client might send: scalars, and arrays and objects of them a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9@. _-]{0,24}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("traits".to_owned()),
                    Just("traits.email".to_owned()),
                    Just("email".to_owned()),
                    Just("identifier".to_owned()),
                    Just("password".to_owned()),
                    Just("code".to_owned()),
                    Just("totp_code".to_owned()),
                    "[a-z_.]{1,12}"
                ],
                inner,
                0..5
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever is submitted to any flow, with any method, the answer is the flow or a typed error; nothing
    /// panics, and nothing but an object of traits ever becomes an identity.
    #[test]
    fn arbitrary_submissions_to_every_flow_never_panic(
        method in prop_oneof![
            Just("password".to_owned()), Just("code".to_owned()), Just("totp".to_owned()),
            Just("lookup_secret".to_owned()), Just("profile".to_owned()), "[a-z_]{0,10}"
        ],
        fields in json_value(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            use identity_auth::{FlowRequest, FlowType, LoginRequest, Submission};
            let world = support::world(support::store());
            let request = FlowRequest::new(FlowType::Api, "https://id.example/x");
            let submission = Submission::new(&method, fields.clone());
            let flow = world.service.create_registration(&request).await.unwrap().flow;
            let _ = world.service.submit_registration(flow.id, submission.clone()).await;
            let login = LoginRequest { flow: request.clone(), session_token: None };
            let flow = world.service.create_login(&login).await.unwrap().flow;
            let _ = world.service.submit_login(flow.id, submission.clone()).await;
            let flow = world.service.create_recovery(&request).await.unwrap().flow;
            let _ = world.service.submit_recovery(flow.id, submission.clone()).await;
            let _ = world.service.submit_recovery(flow.id, submission.clone()).await;
            let flow = world.service.create_verification(&request).await.unwrap().flow;
            let _ = world.service.submit_verification(flow.id, submission).await;
            let page = world.store.list_identities(&Default::default(), &Default::default()).await.unwrap();
            for identity in page.items {
                assert!(identity.traits.is_object(), "{}", identity.traits);
            }
        });
    }
}
