//! Typed ids: one newtype over a UUID per kind of object, so an `IdentityId` can never be passed where a
//! `SessionId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Problem;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Serialises as the hyphenated UUID string.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id (UUID v4): it reveals nothing, not even when it was made.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// A fresh time-ordered id (UUID v7): it keeps database indexes compact, but reveals when it was made.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = Problem;

            fn from_str(s: &str) -> Result<Self, Problem> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Problem::Malformed { expected: "a UUID" })
            }
        }
    };
}

id_type!(
    /// Identifies an [`Identity`](crate::Identity).
    IdentityId
);
id_type!(
    /// Identifies a verifiable or recovery address of an identity.
    AddressId
);
id_type!(
    /// Identifies a [`Session`](crate::Session).
    SessionId
);
id_type!(
    /// Identifies a device a session was used from.
    DeviceId
);
id_type!(
    /// Identifies an [`Enrollment`](crate::Enrollment).
    EnrollmentId
);
id_type!(
    /// Identifies an [`AuthenticationPolicy`](crate::AuthenticationPolicy).
    AuthenticationPolicyId
);
id_type!(
    /// Identifies an external JWT signer trusted to vouch for identities.
    JwtSignerId
);
id_type!(
    /// Identifies a certificate authority whose certificates may enroll or authenticate identities.
    CaId
);
id_type!(
    /// Identifies an upstream OIDC provider used for federated login.
    ProviderId
);
id_type!(
    /// Identifies an [`Organization`](crate::Organization).
    OrganizationId
);
id_type!(
    /// Identifies a [`Group`](crate::Group).
    GroupId
);
id_type!(
    /// Identifies a [`Role`](crate::Role).
    RoleId
);
id_type!(
    /// Identifies a [`Project`](crate::Project).
    ProjectId
);
id_type!(
    /// Identifies a self-service flow (login, registration, settings, recovery, verification).
    FlowId
);
id_type!(
    /// Identifies an OAuth2 grant: the family of codes and tokens issued from one authorization, revoked together.
    GrantId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_json() {
        let id = IdentityId::new();
        let parsed: IdentityId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<IdentityId>(&json).unwrap(), id);
    }

    #[test]
    fn a_malformed_id_is_a_typed_problem() {
        assert_eq!("not-a-uuid".parse::<SessionId>(), Err(Problem::Malformed { expected: "a UUID" }));
        assert!(serde_json::from_str::<SessionId>("\"nope\"").is_err());
    }

    #[test]
    fn v7_ids_are_ordered_by_creation() {
        let first = GroupId::new_v7();
        let second = GroupId::new_v7();
        assert!(first < second);
        assert_eq!(first.as_uuid().get_version_num(), 7);
        assert_eq!(GroupId::new().as_uuid().get_version_num(), 4);
    }

    #[test]
    fn debug_names_the_kind_of_id() {
        let id = RoleId::from_uuid(Uuid::nil());
        assert_eq!(format!("{id:?}"), "RoleId(00000000-0000-0000-0000-000000000000)");
    }
}
