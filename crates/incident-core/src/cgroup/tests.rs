use super::*;

const ID: &str = "2a26aea528dba9698cd7056d3c1137d0cfeeaf7c03a8ab0d554d2f21687bda5a";
const HOST: u64 = 24 << 30;

/// Read from a running container's `memory.stat` on cgroup v1: docker
/// stats showed 8.613MiB for usage 10264576 and these contents.
#[test]
fn v1_files_read_as_docker_stats_shows_them() {
    let stat = include_str!("../fixtures/v1-memory.stat");
    let r = reading("10264576\n", stat, "67108864\n", HOST).unwrap();
    assert_eq!(
        r,
        Reading::Sampled {
            usage_bytes: 10264576 - 1232896,
            limit_bytes: Some(64 << 20),
        }
    );
    assert_eq!(crate::memory::human_bytes(10264576 - 1232896), "8.613MiB");
    // No limit: v1 writes a page-rounded i64::MAX.
    let r = reading("10264576\n", stat, "9223372036854771712\n", HOST).unwrap();
    assert!(matches!(
        r,
        Reading::Sampled {
            limit_bytes: None,
            ..
        }
    ));
}

/// cgroup v2 names the files differently and writes "max" for no limit;
/// `inactive_file` (not `total_inactive_file`) is the cache taken off.
#[test]
fn v2_files_read_as_docker_stats_shows_them() {
    let stat = include_str!("../fixtures/v2-memory.stat");
    assert_eq!(parse_stat(stat).get("inactive_file"), Some(&1228800));
    let r = reading("9871360\n", stat, "max\n", HOST).unwrap();
    assert_eq!(
        r,
        Reading::Sampled {
            usage_bytes: 9871360 - 1228800,
            limit_bytes: None,
        }
    );
    let r = reading("9871360\n", stat, "134217728\n", HOST).unwrap();
    assert!(matches!(r, Reading::Sampled { limit_bytes: Some(l), .. } if l == 128 << 20));
    assert_eq!(files(Version::V2)[0], "memory.current");
}

#[test]
fn garbage_is_an_error_not_a_number() {
    let e = reading("lots\n", "", "max", HOST).unwrap_err();
    assert!(e.contains("not a number"), "{e}");
    assert!(reading("max", "", "max", HOST).is_err());
    // Unparsable stat lines are skipped, not fatal.
    assert_eq!(parse_stat("a 1\nbroken\nb x\nc 3\n").len(), 2);
}

#[test]
fn both_drivers_name_their_cgroups() {
    assert_eq!(
        candidate_dirs(Driver::Cgroupfs, None, ID),
        [format!("docker/{ID}")]
    );
    assert_eq!(
        candidate_dirs(Driver::Cgroupfs, Some("/ci/jobs/"), ID),
        [format!("ci/jobs/{ID}")]
    );
    assert_eq!(
        candidate_dirs(Driver::Systemd, None, ID),
        [format!("system.slice/docker-{ID}.scope")]
    );
    assert_eq!(
        candidate_dirs(Driver::Systemd, Some("shop-web.slice"), ID),
        [format!("shop.slice/shop-web.slice/docker-{ID}.scope")]
    );
    assert_eq!(Driver::from_engine("systemd"), Driver::Systemd);
    assert_eq!(Driver::from_engine("cgroupfs"), Driver::Cgroupfs);
}

#[test]
fn directory_names_give_container_ids() {
    assert_eq!(container_id_of(ID), Some(ID));
    assert_eq!(container_id_of(&format!("docker-{ID}.scope")), Some(ID));
    assert_eq!(container_id_of("docker-abc.scope"), None);
    assert_eq!(container_id_of("system.slice"), None);
    assert_eq!(container_id_of(&ID.replace('a', "z")), None);
}
