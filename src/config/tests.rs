use super::*;

#[test]
fn defaults_parse_and_describe_rota_cc() {
    let s = Settings::load(None).expect("defaults load");
    assert_eq!(s.scope(), Scope::Project("rota-cc".into()));
    assert_eq!(s.runbooks.dir, PathBuf::from("commands"));
    assert!(s.thresholds.is_empty());
}

#[test]
fn the_token_comes_from_the_environment_and_never_prints() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let e = DiscordEnv::from_env(env(&[("DISCORD_TOKEN", " abc.def ")])).unwrap();
    assert_eq!(e.token.expose(), "abc.def");
    assert_eq!(e.api_base, None);
    assert!(!format!("{e:?}").contains("abc"), "{e:?}");
    for empty in [&[][..], &[("DISCORD_TOKEN", "  ")][..]] {
        let err = DiscordEnv::from_env(env(empty)).unwrap_err().to_string();
        assert!(err.contains("DISCORD_TOKEN is missing or empty"), "{err}");
    }
    let e = DiscordEnv::from_env(env(&[
        ("DISCORD_TOKEN", "t"),
        ("DISCORD_API_BASE", "http://127.0.0.1:9/"),
    ]))
    .unwrap();
    assert_eq!(e.api_base.as_deref(), Some("http://127.0.0.1:9"));
    let err = DiscordEnv::from_env(env(&[
        ("DISCORD_TOKEN", "t"),
        ("DISCORD_API_BASE", "localhost"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.contains("must be an https:// URL"), "{err}");
    let err = DiscordEnv::from_env(env(&[
        ("DISCORD_TOKEN", "t"),
        ("DISCORD_API_BASE", "http://proxy.internal:8080"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.contains("plain http only on loopback"), "{err}");
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
    let mut s = Settings::load(None).unwrap();
    assert_eq!(s.docker_endpoint(None), DEFAULT_DOCKER_HOST);
    assert_eq!(
        s.docker_endpoint(Some("tcp://10.0.0.1:2375".into())),
        "tcp://10.0.0.1:2375"
    );
    assert_eq!(s.docker_endpoint(Some("  ".into())), DEFAULT_DOCKER_HOST);
    s.docker.host = "unix:///run/other.sock".into();
    assert_eq!(
        s.docker_endpoint(Some("tcp://10.0.0.1:2375".into())),
        "unix:///run/other.sock"
    );
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
