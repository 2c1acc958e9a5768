//! Who acts: a user's role and the actor a request, the worker or an organization's policy
//! acts as, with where it came from (for the audit log). Plain values, no I/O.

use serde::Serialize;

/// The organization of the operator's staff.
pub const OPERATOR_ORG: &str = "org-operator";

/// A user's role (SPEC §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Creates offers, manages users of its organization.
    Admin,
    /// Views; accepts on the organization's behalf when its policy allows.
    Member,
    /// The operator's NOC staff: sees and manages everything.
    Operator,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Member => "member",
            UserRole::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<UserRole> {
        match s {
            "admin" => Some(UserRole::Admin),
            "member" => Some(UserRole::Member),
            "operator" => Some(UserRole::Operator),
            _ => None,
        }
    }
}

/// Who is asking, and from where (for the audit log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub user_id: String,
    pub email: String,
    pub org_id: String,
    pub role: UserRole,
    /// Where the request came from: an IP address, `cli`, `worker`.
    pub source: String,
}

impl Actor {
    /// The operator's own processes (import, demo seeding, sweeps).
    pub fn system(source: &str) -> Actor {
        Actor {
            user_id: "system".into(),
            email: String::new(),
            org_id: OPERATOR_ORG.into(),
            role: UserRole::Operator,
            source: source.into(),
        }
    }

    /// An organization's standing policy acting for it (auto-accept): an admin's rights in
    /// that organization, and no person behind it.
    pub fn policy_of(org_id: &str) -> Actor {
        Actor {
            user_id: format!("auto-accept:{org_id}"),
            email: String::new(),
            org_id: org_id.into(),
            role: UserRole::Admin,
            source: "auto-accept".into(),
        }
    }

    pub fn is_operator(&self) -> bool {
        self.role == UserRole::Operator
    }

    /// Whether this actor may unplug an organization's interfaces and end its channels:
    /// the operator, or an admin of that organization (`own`: the actor belongs to it).
    /// One rule for the service, which enforces it, and the pages, which show a control
    /// only to those it lets act.
    pub fn acts_for(&self, own: bool) -> bool {
        self.is_operator() || (own && self.role == UserRole::Admin)
    }

    /// The user acting, when a person (a row of `users`) acts.
    pub fn person(&self) -> Option<&str> {
        self.user_id.starts_with("usr-").then_some(self.user_id.as_str())
    }
}
