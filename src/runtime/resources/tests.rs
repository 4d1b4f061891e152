use super::*;

/// A fake cgroup tree: a v1 memory hierarchy and a v2 one, in a
/// temporary directory; `writable` decides whether our cgroups there are.
fn fake(v2_controllers: &str) -> (tempfile::TempDir, Hierarchies, Membership) {
    let d = tempfile::tempdir().unwrap();
    let mem = d.path().join("memory");
    let v2 = d.path().join("unified");
    std::fs::create_dir_all(mem.join("job")).unwrap();
    std::fs::create_dir_all(v2.join("user")).unwrap();
    std::fs::write(mem.join("job/cgroup.procs"), "").unwrap();
    std::fs::write(v2.join("user/cgroup.procs"), "").unwrap();
    std::fs::write(v2.join("user/cgroup.controllers"), v2_controllers).unwrap();
    std::fs::write(v2.join("user/cgroup.subtree_control"), "").unwrap();
    let mountinfo = format!(
        "35 31 0:32 / {} rw - cgroup cgroup rw,memory\n41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
        mem.display(),
        v2.display()
    );
    let h = Hierarchies::parse(&mountinfo);
    let m = Membership::parse("4:memory:/job\n0::/user\n");
    (d, h, m)
}

#[test]
fn v1_and_v2_controllers_are_placed_where_they_live() {
    let (d, h, m) = fake("cpu pids");
    let r = ResourcesConfig {
        memory: 64 << 20,
        pids_limit: Some(10),
        cpuset_cpus: "0".into(),
        ..Default::default()
    };
    let plan = plan_with(&r, &h, &m);
    assert_eq!(
        plan.v2_parent.as_deref(),
        Some(d.path().join("unified/user").as_path())
    );
    assert!(plan.placed.contains(&(
        Controller::Memory,
        Place::V1 {
            parent: d.path().join("memory/job")
        }
    )));
    assert!(plan.placed.contains(&(Controller::Pids, Place::V2)));
    assert_eq!(
        plan.missing,
        [(
            Controller::Cpuset,
            Missing::V2NotOffered(
                d.path().join("unified/user"),
                vec!["cpu".into(), "pids".into()]
            )
        )]
    );
    let w = unapplied_warning(&r, &plan).unwrap();
    assert!(
        w.starts_with("--cpuset-cpus is not applied: cpuset: cgroup v2 "),
        "{w}"
    );
    assert!(w.contains("(cgroup.controllers: cpu pids)"), "{w}");
    assert!(w.contains("Delegate=cpu cpuset io memory pids"), "{w}");
    assert!(w.contains("The container runs without it."), "{w}");
}

#[test]
fn nothing_writable_is_one_warning_naming_every_flag() {
    let (d, h, _) = fake("memory pids");
    // Our cgroups are elsewhere, where nothing exists to write.
    let m = Membership::parse("4:memory:/not/ours\n0::/not/ours\n");
    let r = ResourcesConfig {
        memory: 64 << 20,
        pids_limit: Some(10),
        ..Default::default()
    };
    let plan = plan_with(&r, &h, &m);
    assert!(plan.placed.is_empty() && plan.v2_parent.is_none());
    let w = unapplied_warning(&r, &plan).unwrap();
    assert!(
        w.starts_with("--memory, --pids-limit are not applied: memory: its cgroup v1 hierarchy "),
        "{w}"
    );
    assert!(
        w.contains(&format!(
            "pids: cgroup v2 {} is not delegated to this user",
            d.path().join("unified/not/ours").display()
        )),
        "{w}"
    );
    assert!(w.contains("The container runs without them."), "{w}");
    // Nothing asked, nothing said.
    assert_eq!(unapplied_warning(&ResourcesConfig::default(), &plan), None);
}

#[test]
fn a_leaf_of_ours_counts_as_its_parent() {
    let (d, h, _) = fake("memory");
    std::fs::create_dir(d.path().join("unified/user").join(LEAF)).unwrap();
    let m = Membership::parse(&format!("0::/user/{LEAF}\n"));
    assert_eq!(
        plan_with(&ResourcesConfig::default(), &h, &m).v2_parent,
        Some(d.path().join("unified/user"))
    );
}

#[test]
fn docker_checks() {
    let err = |r: ResourcesConfig| check(&r).unwrap_err().to_string();
    assert_eq!(
        err(ResourcesConfig {
            memory: 4 << 20,
            ..Default::default()
        }),
        "Minimum memory limit allowed is 6MB"
    );
    assert_eq!(
        err(ResourcesConfig {
            memory_swap: 64 << 20,
            ..Default::default()
        }),
        "You should always set the Memory limit when using Memoryswap limit, see usage"
    );
    assert_eq!(
        err(ResourcesConfig {
            memory: 64 << 20,
            memory_swap: 32 << 20,
            ..Default::default()
        }),
        "Minimum memoryswap limit should be larger than memory limit, see usage"
    );
    assert_eq!(
        err(ResourcesConfig {
            nano_cpus: 500_000_000,
            cpu_quota: 1000,
            ..Default::default()
        }),
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
    );
    let n = online_cpus();
    assert_eq!(
        err(ResourcesConfig {
            nano_cpus: (n as i64 + 1) * 1_000_000_000,
            ..Default::default()
        }),
        format!("Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available")
    );
    assert_eq!(
        err(ResourcesConfig {
            blkio_weight: 5,
            ..Default::default()
        }),
        "Range of blkio weight is from 10 to 1000"
    );
    assert!(err(ResourcesConfig {
        cpuset_cpus: "4096".into(),
        ..Default::default()
    })
    .starts_with("Requested CPUs are not available - requested 4096, available: "));
    check(&ResourcesConfig {
        memory: 64 << 20,
        memory_swap: -1,
        nano_cpus: 500_000_000,
        cpuset_cpus: "0".into(),
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn lists() {
    assert_eq!(parse_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
    assert_eq!(parse_list("x"), None);
    assert_eq!(parse_list("3-1"), None);
}

#[test]
fn cgroups_of_a_fake_tree_are_made_and_filled() {
    let (d, h, m) = fake("pids");
    let r = ResourcesConfig {
        memory: 64 << 20,
        pids_limit: Some(10),
        ..Default::default()
    };
    let plan = plan_with(&r, &h, &m);
    let mut cg = ContainerCgroup::default();
    cg.apply_plan(&plan, "berth-abc", &r).unwrap();
    let mem = d.path().join("memory/job/berth-abc");
    let v2 = d.path().join("unified/user/berth-abc");
    assert_eq!(
        std::fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
        "67108864"
    );
    assert_eq!(std::fs::read_to_string(v2.join("pids.max")).unwrap(), "10");
    assert_eq!(
        std::fs::read_to_string(d.path().join("unified/user/cgroup.subtree_control")).unwrap(),
        "+pids"
    );
    assert_eq!(
        cg.procs_files(),
        [mem.join("cgroup.procs"), v2.join("cgroup.procs")]
    );
    assert!(!cg.oom_killed());
    std::fs::write(
        mem.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    )
    .unwrap();
    assert!(cg.oom_killed());
}

#[test]
fn v1_only_memory_flags_are_said_on_cgroup_v2() {
    let (_d, h, _) = fake("memory");
    // Memory on cgroup v2 here: no v1 memory hierarchy for us.
    let m = Membership::parse("0::/user\n4:memory:/not/ours\n");
    let h = Hierarchies { v1: vec![], ..h };
    let r = ResourcesConfig {
        memory: 64 << 20,
        memory_swappiness: Some(10),
        oom_kill_disable: true,
        ..Default::default()
    };
    let plan = plan_with(&r, &h, &m);
    assert_eq!(plan.placed, [(Controller::Memory, Place::V2)]);
    let w = unapplied_warning(&r, &plan).unwrap();
    assert!(
        w.starts_with("--memory-swappiness, --oom-kill-disable are not applied: "),
        "{w}"
    );
    assert!(w.contains("cgroup v2 has no per-cgroup swappiness"), "{w}");
}
