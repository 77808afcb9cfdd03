//! A Kratos identity export decodes into our `Identity`, keeps what it carried, and bad exports are refused with
//! the path of the bad field.

use identity_core::{
    AddressVia, CredentialConfig, CredentialType, Error, Identity, IdentityState, IdentityType, VerificationStatus,
    from_json,
};
use serde_json::Value;

const EXPORT: &str = include_str!("data/kratos-identity.json");

fn export_with(change: impl FnOnce(&mut Value)) -> String {
    let mut json: Value = serde_json::from_str(EXPORT).unwrap();
    change(&mut json);
    json.to_string()
}

#[test]
fn a_kratos_export_decodes_with_everything_it_carried() {
    let identity: Identity = from_json(EXPORT).unwrap();
    assert_eq!(identity.id.to_string(), "9f425a8d-7efc-4768-8f23-7647a74fdf13");
    assert_eq!(identity.schema_id, "default");
    assert_eq!(identity.state, IdentityState::Active);
    assert_eq!(identity.traits["name"]["first"], "Ada");
    assert_eq!(identity.metadata_public, Some(serde_json::json!({"plan": "pro"})));
    assert_eq!(identity.metadata_admin, None);

    let address = &identity.verifiable_addresses[0];
    assert!(address.verified);
    assert_eq!((address.via, address.status), (AddressVia::Email, VerificationStatus::Completed));
    assert_eq!(identity.recovery_addresses[0].value, "ada@example.com");

    let password = identity.credentials.get(CredentialType::Password).unwrap();
    assert_eq!(password.identifiers, ["ada@example.com"]);
    let CredentialConfig::Password(config) = &password.config else { panic!("not a password config") };
    assert_eq!(config.hashed_password.as_ref().unwrap().algorithm(), "2a");
    let oidc = identity.credentials.get(CredentialType::Oidc).unwrap();
    assert_eq!(oidc.identifiers, ["google:108734567890"]);

    // What Kratos does not have takes its default.
    assert_eq!(identity.identity_type, IdentityType::User);
    assert!(!identity.is_admin && identity.role_attributes.is_empty());
}

#[test]
fn a_decoded_export_survives_a_round_trip() {
    let identity: Identity = from_json(EXPORT).unwrap();
    let again: Identity = from_json(&serde_json::to_string(&identity).unwrap()).unwrap();
    assert_eq!(again, identity);
}

#[test]
fn an_unknown_state_names_the_field() {
    let err = from_json::<Identity>(&export_with(|j| j["state"] = "banned".into())).unwrap_err();
    match err {
        Error::Json { path, message } => {
            assert_eq!(path, "state");
            assert!(message.contains("banned"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_unknown_address_channel_names_its_path() {
    let err =
        from_json::<Identity>(&export_with(|j| j["verifiable_addresses"][0]["via"] = "pigeon".into())).unwrap_err();
    assert!(matches!(err, Error::Json { ref path, .. } if path == "verifiable_addresses[0].via"), "{err}");
}

#[test]
fn plaintext_kratos_secrets_are_read_for_sealing_but_never_written_or_shown() {
    let json = export_with(|j| {
        j["credentials"]["totp"] = serde_json::json!({"type": "totp", "identifiers": ["ada"],
            "config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"},
            "created_at": "2024-05-06T10:21:03Z", "updated_at": "2024-05-06T10:21:03Z"});
        j["credentials"]["lookup_secret"] = serde_json::json!({"type": "lookup_secret", "identifiers": ["ada"],
            "config": {"recovery_codes": [{"code": "k3x9-backup", "used_at": null},
                                          {"code": "p0q7-backup", "used_at": "2024-05-07T08:00:00Z"}]},
            "created_at": "2024-05-06T10:21:03Z", "updated_at": "2024-05-06T10:21:03Z"});
    });
    let identity: Identity = from_json(&json).unwrap();
    let totp = identity.credentials.get(CredentialType::Totp).unwrap();
    let CredentialConfig::Totp(config) = &totp.config else { panic!("not a TOTP config") };
    assert!(config.imported_url.as_ref().unwrap().expose_secret().contains("JBSWY3DPEHPK3PXP"));
    let lookup = identity.credentials.get(CredentialType::LookupSecret).unwrap();
    let CredentialConfig::LookupSecret(codes) = &lookup.config else { panic!("not a lookup config") };
    assert_eq!(codes.imported_codes.len(), 2);
    assert!(codes.imported_codes[1].used_at.is_some());
    assert!(totp.has_unsealed_import() && lookup.has_unsealed_import());

    let written = serde_json::to_string(&identity).unwrap();
    let shown = format!("{identity:?}");
    for secret in ["JBSWY3DPEHPK3PXP", "k3x9-backup", "p0q7-backup"] {
        assert!(!written.contains(secret), "{secret} was serialised");
        assert!(!shown.contains(secret), "{secret} shows in Debug");
    }
}

#[test]
fn kratos_oidc_links_keep_their_initial_tokens() {
    let json = export_with(|j| {
        j["credentials"]["oidc"]["config"] = serde_json::json!({"providers": [{"subject": "108734567890",
            "provider": "google", "initial_id_token": "enc-id", "initial_access_token": "enc-access",
            "initial_refresh_token": "enc-refresh", "organization": null}]});
    });
    let identity: Identity = from_json(&json).unwrap();
    let oidc = identity.credentials.get(CredentialType::Oidc).unwrap();
    let CredentialConfig::Oidc(config) = &oidc.config else { panic!("not an OIDC config") };
    assert_eq!(config.providers[0].initial_refresh_token.as_deref(), Some("enc-refresh"));
    assert!(!oidc.has_unsealed_import());
    let again: Identity = from_json(&serde_json::to_string(&identity).unwrap()).unwrap();
    assert_eq!(again, identity);
}

#[test]
fn bad_role_attributes_traits_and_trailing_garbage_are_refused() {
    let err =
        from_json::<Identity>(&export_with(|j| j["role_attributes"] = serde_json::json!(["#admins"]))).unwrap_err();
    assert!(matches!(err, Error::Json { ref path, .. } if path.starts_with("role_attributes")), "{err}");
    let err = from_json::<Identity>(&export_with(|j| j["traits"] = "ada".into())).unwrap_err();
    assert!(matches!(err, Error::Json { ref path, .. } if path == "traits"), "{err}");
    assert!(from_json::<Identity>(&format!("{EXPORT} trailing")).is_err());
    assert!(from_json::<Identity>("").is_err());
}
