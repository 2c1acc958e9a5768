//! Invitation email: after an offer (or new invitees) is committed, each invitee's URL goes
//! to its email address, or to the admins of the organization it was made for. Sent in the
//! background so a slow mail server never holds up the creator; every outcome is written
//! to the audit log (`invitation.mailed` / `invitation.mail_failed`).

use std::sync::Arc;

use sqlx::Row;

use crate::mail::{Mailer, invitation};

use super::{Actor, Invitation, Service, audit};

impl Service {
    /// Sends invitations through `mailer` from now on.
    pub fn with_mailer(mut self, mailer: Mailer) -> Service {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// Whether invitations are mailed (otherwise only shown to their creator).
    pub fn mails_invitations(&self) -> bool {
        self.mailer.is_some()
    }

    /// Mails `invitations` of the channel `channel_name` (in the background). Returns the
    /// task, so tests and the CLI can wait for it.
    pub(crate) fn mail_invitations(
        &self,
        actor: &Actor,
        channel_name: &str,
        description: &str,
        expires_at: i64,
        invitations: &[Invitation],
    ) -> Option<tokio::task::JoinHandle<()>> {
        let mailer = self.mailer.clone()?;
        let (svc, actor, channel, description) =
            (self.clone(), actor.clone(), channel_name.to_string(), description.to_string());
        let invitations = invitations.to_vec();
        Some(tokio::spawn(async move {
            let from_org = svc.organization_name(&actor.org_id).await.unwrap_or_else(|_| actor.org_id.clone());
            let expires = crate::model::utc_minute(expires_at);
            for inv in &invitations {
                let recipients = match (&inv.email, &inv.organization) {
                    (Some(e), _) => vec![e.clone()],
                    (None, Some(org)) => svc.admin_emails(org).await.unwrap_or_default(),
                    (None, None) => Vec::new(),
                };
                for to in recipients {
                    let mail = invitation(&to, &from_org, &channel, &description, &inv.url, &expires);
                    let (action, detail) = match mailer.send(&mail).await {
                        Ok(via) => ("invitation.mailed", serde_json::json!({"to": to, "via": via})),
                        Err(e) => {
                            tracing::warn!(invitee = %inv.invitee_id, to, error = %e, "invitation not mailed");
                            ("invitation.mail_failed", serde_json::json!({"to": to, "error": e.to_string()}))
                        }
                    };
                    let record = async {
                        let mut tx = svc.db.write().await?;
                        audit(&mut tx, svc.now(), &actor, action, &inv.invitee_id, detail).await?;
                        tx.commit().await?;
                        Ok::<_, super::ServiceError>(())
                    };
                    if let Err(e) = record.await {
                        tracing::warn!(error = %e, "cannot record the mail outcome");
                    }
                }
            }
        }))
    }

    /// The email addresses of an organization's admins (by organization name).
    async fn admin_emails(&self, org_name: &str) -> super::Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT u.email FROM users u JOIN organizations g ON g.id = u.org_id WHERE g.name = $1 AND u.role = 'admin' \
             ORDER BY u.email",
        )
        .bind(org_name)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("email")?)).collect()
    }
}
