//! A page of the channels someone may see, filtered (state, kind, organization, switch,
//! text) and counted: what a list shows at an operator's scale, in three statements
//! whatever the number of channels (the count, the page, the page's attachments).

use super::channels::{ATTACHMENT_SELECT, Among, CHANNEL_SELECT, Named, Result, visible_ids, with_attachments};
use super::{Dialect, Query, ReadTx, WriteTx, placeholders, query};

/// What a channel list asks for: each filter `None` when not asked, and which page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelFilter {
    /// The channel's state, as stored (`active`, `failed`, ...).
    pub state: Option<String>,
    /// `p2p`, `p2mp` or `mp2mp`.
    pub kind: Option<String>,
    /// An organization's name: the channel's, or one of its live members'.
    pub organization: Option<String>,
    /// A switch on the channel's path.
    pub switch: Option<String>,
    /// Text in the channel's name (any case), or its whole ID.
    pub text: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

/// `s` for a `LIKE ... ESCAPE '\'` pattern: its own `%`, `_` and `\` taken literally.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The channels `among` covers that pass `f`, newest first: the page `f` asks for, each
/// with its names and attachments, and how many pass in all.
pub async fn named_page(tx: &mut ReadTx<'_>, among: Among<'_>, f: &ChannelFilter) -> Result<(Vec<Named>, u64)> {
    let mut binds: Vec<String> = Vec::new();
    let visible = match among {
        Among::Every => "SELECT id FROM channels".to_string(),
        Among::VisibleTo { org_id } => {
            binds.push(org_id.to_string());
            visible_ids(1)
        }
    };
    let at = |value: String, binds: &mut Vec<String>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let mut wheres = vec![format!("c.id IN ({visible})")];
    if let Some(s) = &f.state {
        wheres.push(format!("c.state = {}", at(s.clone(), &mut binds)));
    }
    if let Some(k) = &f.kind {
        wheres.push(format!("c.kind = {}", at(k.clone(), &mut binds)));
    }
    if let Some(o) = &f.organization {
        let n = at(o.clone(), &mut binds);
        wheres.push(format!(
            "(o.name = {n} OR EXISTS (SELECT 1 FROM attachments m JOIN organizations mo ON mo.id = m.org_id \
             WHERE m.channel_id = c.id AND m.state = 'attached' AND mo.name = {n}))"
        ));
    }
    if let Some(s) = &f.switch {
        let n = at(format!("%,{},%", like_literal(s)), &mut binds);
        wheres.push(format!("(',' || c.path || ',') LIKE {n} ESCAPE '\\'"));
    }
    if let Some(t) = &f.text {
        let like = at(format!("%{}%", like_literal(&t.to_lowercase())), &mut binds);
        let id = at(t.clone(), &mut binds);
        wheres.push(format!("(LOWER(c.name) LIKE {like} ESCAPE '\\' OR c.id = {id})"));
    }
    let wheres = wheres.join(" AND ");
    let bound = |q: Query<'static>| binds.iter().fold(q, |q, b| q.bind(b.clone()));
    let count = bound(query(format!(
        "SELECT COUNT(*) AS n FROM channels c JOIN organizations o ON o.id = c.org_id WHERE {wheres}"
    )))
    .fetch_one(&mut *tx)
    .await?;
    let total = u64::try_from(count.try_get::<i64>("n")?).unwrap_or(0);
    let rows = bound(query(format!(
        "{CHANNEL_SELECT} WHERE {wheres} ORDER BY c.created_at DESC, c.id DESC LIMIT {} OFFSET {}",
        f.limit, f.offset
    )))
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    let atts = if ids.is_empty() {
        Vec::new()
    } else {
        let sql = format!(
            "{ATTACHMENT_SELECT} WHERE a.channel_id IN ({}) ORDER BY a.attached_at, a.id",
            placeholders(1, ids.len())
        );
        ids.iter().fold(query(sql), |q, id| q.bind(id.clone())).fetch_all(&mut *tx).await?
    };
    let page = with_attachments(&rows, &atts)?;
    Ok((page, total))
}

/// Every channel that holds switch configuration or is about to (provisioning, modifying,
/// active, paused), oldest first, with its attachments, read inside `tx`: what a topology
/// import must leave plannable. On PostgreSQL the attachments are held in share mode until
/// `tx` ends, so that no acceptance adds a member between this look and the import's
/// commit (acceptances wait the import out). Every switch's row is locked first, in name
/// order, as the order worker locks the switches it applies to before it touches their
/// attachments (`topology::lock_switches`): the two wait for each other, never in a circle.
/// On SQLite the writer is this transaction's.
pub async fn live_for_import(tx: &mut WriteTx, dialect: Dialect) -> Result<Vec<Named>> {
    if dialect == Dialect::Postgres {
        query("SELECT name FROM switches ORDER BY name FOR UPDATE").fetch_all(&mut *tx).await?;
        query("LOCK TABLE attachments IN SHARE MODE").execute(&mut *tx).await?;
    }
    let live = "SELECT id FROM channels WHERE state IN ('provisioning', 'modifying', 'active', 'paused')";
    let rows = query(format!("{CHANNEL_SELECT} WHERE c.id IN ({live}) ORDER BY c.created_at, c.id"))
        .fetch_all(&mut *tx)
        .await?;
    let atts = query(format!("{ATTACHMENT_SELECT} WHERE a.channel_id IN ({live}) ORDER BY a.attached_at, a.id"))
        .fetch_all(&mut *tx)
        .await?;
    with_attachments(&rows, &atts)
}
