//! Embedded schema migrations, applied in order, each once, under an
//! advisory lock so two bots starting together do not race.

/// (version, name, SQL). Append only: never edit an applied migration.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "incidents_and_audit",
        include_str!("../../migrations/0001_incidents_and_audit.sql"),
    ),
    (
        2,
        "action_requests",
        include_str!("../../migrations/0002_action_requests.sql"),
    ),
    (
        3,
        "escalations_and_roster",
        include_str!("../../migrations/0003_escalations_and_roster.sql"),
    ),
    (
        4,
        "watcher",
        include_str!("../../migrations/0004_watcher.sql"),
    ),
    (
        5,
        "action_params",
        include_str!("../../migrations/0005_action_params.sql"),
    ),
    (
        6,
        "execution_claims",
        include_str!("../../migrations/0006_execution_claims.sql"),
    ),
    (
        7,
        "alert_occurrences",
        include_str!("../../migrations/0007_alert_occurrences.sql"),
    ),
    (8, "fleet", include_str!("../../migrations/0008_fleet.sql")),
    (
        9,
        "history_node",
        include_str!("../../migrations/0009_history_node.sql"),
    ),
    (
        10,
        "paging",
        include_str!("../../migrations/0010_paging.sql"),
    ),
    (
        11,
        "reverify",
        include_str!("../../migrations/0011_reverify.sql"),
    ),
];

/// Any constant works; it only has to be the same for every bot.
const LOCK_KEY: i64 = 0x1bc1_de57;

pub(super) async fn apply(
    client: &mut tokio_postgres::Client,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        applied.push(format!("{version:04}_{name}"));
    }
    tx.commit().await?;
    Ok(applied)
}
