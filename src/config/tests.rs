//! Settings: the shipped defaults describe the seed project, layers
//! override in order, and bad values are refused with one sentence.

use super::*;

#[test]
fn defaults_parse_and_describe_rota_cc() {
    let s = Settings::load(None).expect("defaults load");
    assert_eq!(s.scope(), Scope::Project("rota-cc".into()));
    assert_eq!(s.runbooks.dir, PathBuf::from("commands"));
    assert!(s.thresholds.is_empty());
}

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn the_token_comes_from_the_environment_and_never_prints() {
    let s = Secrets::read(env(&[("DISCORD_TOKEN", " abc.def ")]));
    assert_eq!(s.discord_token().unwrap().expose(), "abc.def");
    assert_eq!(s.discord_api_base().unwrap(), None);
    assert!(!format!("{s:?}").contains("abc"), "{s:?}");
    for empty in [&[][..], &[("DISCORD_TOKEN", "  ")][..]] {
        let err = Secrets::read(env(empty))
            .discord_token()
            .unwrap_err()
            .to_string();
        assert!(err.contains("DISCORD_TOKEN is missing or empty"), "{err}");
    }
    let s = Secrets::read(env(&[
        ("DISCORD_TOKEN", "t"),
        ("DISCORD_API_BASE", "http://127.0.0.1:9/"),
    ]));
    assert_eq!(s.discord_api_base().unwrap(), Some("http://127.0.0.1:9"));
    let err = Secrets::read(env(&[("DISCORD_API_BASE", "localhost")]))
        .discord_api_base()
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be an https:// URL"), "{err}");
    let err = Secrets::read(env(&[("DISCORD_API_BASE", "http://proxy.internal:8080")]))
        .discord_api_base()
        .unwrap_err()
        .to_string();
    assert!(err.contains("plain http only on loopback"), "{err}");
}

#[test]
fn an_unreadable_secret_file_fails_only_what_needs_it() {
    let s = Secrets::read(env(&[
        ("DISCORD_TOKEN_FILE", "/nonexistent/discord-token"),
        ("DATABASE_URL", "postgres://bot@db/bot"),
    ]));
    let err = s.discord_token().unwrap_err().to_string();
    assert!(err.contains("cannot read DISCORD_TOKEN_FILE"), "{err}");
    assert_eq!(s.database_url().unwrap().expose(), "postgres://bot@db/bot");
    assert!(s.monitored_database_url().unwrap().is_none());
    let err = Secrets::read(env(&[]))
        .database_url()
        .unwrap_err()
        .to_string();
    assert!(err.contains("DATABASE_URL is missing"), "{err}");
}

#[test]
fn zero_ids_and_unknown_roster_roles_are_refused() {
    let dir = std::env::temp_dir().join(format!("ib-config-ids-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zero = dir.join("zero.toml");
    std::fs::write(&zero, "[discord.roster]\ndevops_lead = 0\n").unwrap();
    let err = Settings::load(Some(&zero)).unwrap_err().to_string();
    assert!(err.contains("discord.roster.devops_lead is 0"), "{err}");
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "[discord.roster]\ndevops_led = 5\n").unwrap();
    let s = Settings::load(Some(&typo)).unwrap();
    let err = s
        .check_roster(&["devops_lead".to_string()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("discord.roster.devops_led is not a roster role"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_needs_guild_and_incident_channel() {
    let mut s = Settings::load(None).unwrap();
    let err = s.check_discord().unwrap_err().to_string();
    assert!(err.contains("discord.guild_id is not set"), "{err}");
    s.discord.guild_id = 1;
    assert!(s
        .check_discord()
        .unwrap_err()
        .to_string()
        .contains("INCIDENT_BOT_DISCORD__INCIDENT_CHANNEL_ID"));
    s.discord.incident_channel_id = 2;
    s.check_discord().unwrap();
}

#[test]
fn endpoint_prefers_config_then_docker_host() {
    let endpoint = |docker_host: &'static [(&'static str, &'static str)]| {
        Settings::load_with(None, env(docker_host))
            .unwrap()
            .docker_endpoint()
            .to_string()
    };
    assert_eq!(endpoint(&[]), DEFAULT_DOCKER_HOST);
    assert_eq!(
        endpoint(&[("DOCKER_HOST", "tcp://10.0.0.1:2375")]),
        "tcp://10.0.0.1:2375"
    );
    assert_eq!(endpoint(&[("DOCKER_HOST", "  ")]), DEFAULT_DOCKER_HOST);
    let dir = std::env::temp_dir().join(format!("ib-config-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("host.toml");
    std::fs::write(&file, "[docker]\nhost = \"unix:///run/other.sock\"\n").unwrap();
    let s = Settings::load_with(Some(&file), env(&[("DOCKER_HOST", "tcp://10.0.0.1:2375")]));
    assert_eq!(s.unwrap().docker_endpoint(), "unix:///run/other.sock");
}

#[test]
fn a_file_layers_over_defaults_and_unknown_keys_fail() {
    let dir = std::env::temp_dir().join(format!("ib-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[watch]\nproject = \"shop\"\n[thresholds.mem.status]\nprocess_max_mib = 700\n",
    )
    .unwrap();
    let s = Settings::load(Some(&good)).unwrap();
    assert_eq!(s.scope(), Scope::Project("shop".into()));
    assert_eq!(s.docker.timeout_secs, 5, "untouched keys keep defaults");
    assert_eq!(
        s.thresholds["mem"]["status"]["process_max_mib"],
        toml::Value::Integer(700)
    );

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[watch]\nprojcet = \"shop\"\n").unwrap();
    let err = Settings::load(Some(&bad)).unwrap_err().to_string();
    assert!(err.contains("projcet"), "{err}");

    let missing = dir.join("missing.toml");
    assert!(matches!(
        Settings::load(Some(&missing)),
        Err(ConfigError::MissingFile(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_node_is_named_like_a_host() {
    let dir = std::env::temp_dir().join(format!("ib-config-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let named = |node: &str| {
        let file = dir.join("fleet.toml");
        std::fs::write(&file, format!("[fleet]\nnode = {node:?}\n")).unwrap();
        Settings::load_with(Some(&file), env(&[])).map(|s| s.fleet.node)
    };
    assert_eq!(named("web-2.example").unwrap(), "web-2.example");
    for bad in ["web 2", "web-2; reboot", &"h".repeat(65)] {
        let err = named(bad).unwrap_err().to_string();
        assert!(err.contains("fleet.node"), "{bad}: {err}");
    }
    // Unset, it is this machine's hostname, as a host name.
    let node = named("").unwrap();
    assert!(crate::core::commands::is_node_name(&node), "{node:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn remote_engines_need_tls_off_loopback_and_names_of_their_own() {
    let dir = std::env::temp_dir().join(format!("ib-config-remote-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let load = |remotes: &str| {
        let file = dir.join("remote.toml");
        std::fs::write(&file, format!("[fleet]\nnode = \"web-1\"\n{remotes}")).unwrap();
        Settings::load_with(Some(&file), env(&[])).map(|s| s.fleet.remote.len())
    };
    let remote = |node: &str, host: &str, tls: &str| {
        format!("[[fleet.remote]]\nnode = \"{node}\"\nhost = \"{host}\"\ntls_dir = \"{tls}\"\n")
    };
    assert_eq!(
        load(&remote("db-1", "tcp://10.0.0.5:2376", "/etc/ib/db-1")).unwrap(),
        1
    );
    assert_eq!(
        load(&remote("db-1", "unix:///run/db-1.sock", "")).unwrap(),
        1
    );
    assert_eq!(
        load(&remote("db-1", "tcp://127.0.0.1:23750", "")).unwrap(),
        1
    );
    for (bad, why) in [
        (remote("db-1", "tcp://10.0.0.5:2375", ""), "needs tls_dir"),
        (
            remote("web-1", "unix:///run/x.sock", ""),
            "other than this node's",
        ),
        (remote("db 1", "unix:///run/x.sock", ""), "host name"),
        (remote("db-1", "ssh://db-1", ""), "unix:///"),
        (
            remote("db-1", "unix:///a.sock", "") + &remote("db-1", "unix:///b.sock", ""),
            "twice",
        ),
    ] {
        let err = load(&bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
