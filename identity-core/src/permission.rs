//! CRUD permissions as a four-bit set, so checking one is a mask operation.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Problem;

/// One of the four operations a scope can allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Make a new object.
    Create,
    /// See an object.
    Read,
    /// Change an object.
    Update,
    /// Remove an object.
    Delete,
}

impl Operation {
    /// All four, in CRUD order.
    pub const ALL: [Operation; 4] = [Operation::Create, Operation::Read, Operation::Update, Operation::Delete];

    /// The name used in JSON: `create`, `read`, `update` or `delete`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Operation::Create => 1,
            Operation::Read => 2,
            Operation::Update => 4,
            Operation::Delete => 8,
        }
    }
}

impl FromStr for Operation {
    type Err = Problem;

    fn from_str(s: &str) -> Result<Self, Problem> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| Problem::UnknownVariant { value: s.to_owned(), expected: "create, read, update, delete" })
    }
}

/// A set of [`Operation`]s. Serialises as Unikorn's `operations` list (`["create","read"]`, in CRUD order);
/// duplicates in the input merge, unknown names are refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permission(u8);

impl Permission {
    /// No operation.
    pub const NONE: Permission = Permission(0);
    /// Create only.
    pub const CREATE: Permission = Permission::of(Operation::Create);
    /// Read only.
    pub const READ: Permission = Permission::of(Operation::Read);
    /// Update only.
    pub const UPDATE: Permission = Permission::of(Operation::Update);
    /// Delete only.
    pub const DELETE: Permission = Permission::of(Operation::Delete);
    /// All four operations.
    pub const ALL: Permission = Permission(Self::CREATE.0 | Self::READ.0 | Self::UPDATE.0 | Self::DELETE.0);

    /// The set holding just `operation`.
    pub const fn of(operation: Operation) -> Permission {
        Permission(operation.bit())
    }

    /// Whether every operation in `other` is also in `self`.
    pub const fn contains(self, other: Permission) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `operation` is allowed.
    pub const fn allows(self, operation: Operation) -> bool {
        self.0 & operation.bit() != 0
    }

    /// Whether no operation is allowed.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The allowed operations, in CRUD order.
    pub fn operations(self) -> impl Iterator<Item = Operation> {
        Operation::ALL.into_iter().filter(move |op| self.allows(*op))
    }
}

impl BitOr for Permission {
    type Output = Permission;

    fn bitor(self, rhs: Permission) -> Permission {
        Permission(self.0 | rhs.0)
    }
}

impl BitOrAssign for Permission {
    fn bitor_assign(&mut self, rhs: Permission) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Permission {
    type Output = Permission;

    fn bitand(self, rhs: Permission) -> Permission {
        Permission(self.0 & rhs.0)
    }
}

impl From<Operation> for Permission {
    fn from(operation: Operation) -> Permission {
        Permission::of(operation)
    }
}

impl FromIterator<Operation> for Permission {
    fn from_iter<I: IntoIterator<Item = Operation>>(iter: I) -> Permission {
        iter.into_iter().fold(Permission::NONE, |set, op| set | Permission::of(op))
    }
}

impl fmt::Debug for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.operations().map(Operation::as_str).collect();
        write!(f, "Permission({})", names.join("|"))
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.operations())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<Operation>::deserialize(deserializer)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_behave_like_sets() {
        let read_update = Permission::READ | Permission::UPDATE;
        assert!(read_update.allows(Operation::Read));
        assert!(!read_update.allows(Operation::Delete));
        assert!(Permission::ALL.contains(read_update));
        assert!(!read_update.contains(Permission::ALL));
        assert!(read_update.contains(Permission::NONE));
        assert_eq!(read_update & Permission::READ, Permission::READ);
        assert!(Permission::NONE.is_empty());
        assert_eq!(Operation::ALL.into_iter().collect::<Permission>(), Permission::ALL);
    }

    #[test]
    fn serialises_as_sorted_operation_names() {
        let set = Permission::DELETE | Permission::CREATE;
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["create","delete"]"#);
        let parsed: Permission = serde_json::from_str(r#"["read","read","create"]"#).unwrap();
        assert_eq!(parsed, Permission::CREATE | Permission::READ);
        assert_eq!(format!("{parsed:?}"), "Permission(create|read)");
    }

    #[test]
    fn unknown_operations_are_refused() {
        let err = serde_json::from_str::<Permission>(r#"["read","write"]"#).unwrap_err();
        assert!(err.to_string().contains("write"), "{err}");
        assert!(matches!("write".parse::<Operation>(), Err(Problem::UnknownVariant { .. })));
        assert_eq!("update".parse::<Operation>(), Ok(Operation::Update));
    }
}
