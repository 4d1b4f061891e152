//! `berth compose` running projects, as the unprivileged test users: `up -d`
//! waiting for a healthy dependency, `ps`, `logs`, `exec -T`, `run --rm`,
//! the Compose labels seen by `berth ps --filter`, a second `up` that
//! recreates only the service whose configuration changed, `--scale`,
//! `depends_on` conditions that fail `up` with the service named, and
//! `down -v` leaving no container nor volume.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A service's shell that stops at once on SIGTERM (sh as pid 1 would
/// otherwise ignore it and `down` would wait for the grace period).
fn service_sh(script: &str) -> String {
    format!("[\"sh\", \"-c\", \"trap 'exit 0' TERM; {script}; sleep 1000 & wait\"]")
}

/// A project directory owned by the user, holding `files`.
fn project(b: &Berth, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = b.scratch_dir().join(name);
    std::fs::create_dir(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    if running_as_root() && !b.user.is_root() {
        for entry in std::iter::once(dir.clone()).chain(files.iter().map(|(f, _)| dir.join(f))) {
            std::os::unix::fs::chown(&entry, Some(b.user.uid), Some(b.user.gid)).unwrap();
        }
    }
    dir
}

/// Runs `berth compose ARGS` in `dir`.
fn compose(b: &Berth, dir: &Path, args: &[&str]) -> std::process::Output {
    let mut argv = vec!["compose"];
    argv.extend_from_slice(args);
    let mut cmd = b.command(&argv);
    cmd.current_dir(dir);
    run(cmd)
}

/// `berth compose ARGS` in `dir`, asserted to succeed; its stdout and stderr.
#[track_caller]
fn compose_ok(b: &Berth, dir: &Path, args: &[&str]) -> (String, String) {
    let out = compose(b, dir, args);
    assert_success(
        &out,
        &format!("`compose {}` in {}", args.join(" "), dir.display()),
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The full id of a container by name.
fn container_id(b: &Berth, name: &str) -> String {
    b.ok(&["inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

/// The names of every container of the store, sorted.
fn all_names(b: &Berth) -> Vec<String> {
    let mut v: Vec<String> = b
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn web_db(greeting_default: &str) -> String {
    format!(
        "services:
  db:
    image: busybox
    command: {db}
    stop_grace_period: 2s
    healthcheck:
      test: [\"CMD\", \"test\", \"-f\", \"/data/ready\"]
      interval: 1s
      retries: 30
    volumes:
      - data:/data
  web:
    image: busybox
    command: {web}
    stop_grace_period: 2s
    environment:
      GREETING: ${{GREETING:-{greeting_default}}}
    depends_on:
      db:
        condition: service_healthy
volumes:
  data:
",
        db = service_sh("echo db starting; sleep 1; echo kept > /data/ready; echo db ready"),
        web = service_sh("echo web up $$GREETING"),
    )
}

#[test]
fn up_ps_logs_exec_run_down() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let compose_file = web_db("hi");
        let dir = project(
            &b,
            "shop",
            &[
                ("compose.yaml", &compose_file),
                (".env", "GREETING=hello\n"),
            ],
        );

        let (_, err) = compose_ok(&b, &dir, &["up", "-d"]);
        // The dependency is healthy before its dependent starts.
        let healthy = err.find("Container shop-db-1  Healthy");
        let started = err.find("Container shop-web-1  Started");
        assert!(
            healthy.is_some() && started.is_some() && healthy < started,
            "up -d as {}: db must be healthy before web starts:\n{err}",
            user.name
        );
        assert!(err.contains("Volume shop_data  Created"), "{err}");

        // Both keep running after `up` returned.
        let (ps, _) = compose_ok(&b, &dir, &["ps"]);
        let header = ps.lines().next().unwrap_or("");
        for col in [
            "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
        ] {
            assert!(header.contains(col), "compose ps header {header:?}");
        }
        let db_line = ps
            .lines()
            .find(|l| l.starts_with("shop-db-1 "))
            .unwrap_or_else(|| panic!("{ps}"));
        assert!(
            db_line.contains("(healthy)") && db_line.contains("Up "),
            "{db_line}"
        );
        assert!(
            ps.lines()
                .any(|l| l.starts_with("shop-web-1 ") && l.contains("Up ")),
            "{ps}"
        );
        let (services, _) = compose_ok(&b, &dir, &["ps", "--services"]);
        let mut services: Vec<&str> = services.lines().collect();
        services.sort();
        assert_eq!(services, ["db", "web"]);
        assert_eq!(compose_ok(&b, &dir, &["ps", "-q"]).0.lines().count(), 2);

        // Compose's labels, seen by the plain commands.
        let labelled = b.ok(&[
            "ps",
            "--filter",
            "label=com.docker.compose.project=shop",
            "--format",
            "{{.Names}}",
        ]);
        let mut labelled: Vec<&str> = labelled.lines().collect();
        labelled.sort();
        assert_eq!(labelled, ["shop-db-1", "shop-web-1"]);
        let labels = b.ok(&[
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            "shop-web-1",
        ]);
        let labels: serde_json::Value = serde_json::from_str(labels.trim()).unwrap();
        assert_eq!(labels["com.docker.compose.service"], "web");
        assert_eq!(labels["com.docker.compose.container-number"], "1");
        assert_eq!(labels["com.docker.compose.oneoff"], "False");
        assert_eq!(
            labels["com.docker.compose.depends_on"],
            "db:service_healthy:false"
        );
        assert_eq!(
            labels["com.docker.compose.config-hash"]
                .as_str()
                .unwrap_or("")
                .len(),
            64
        );

        // Logs: prefixed by container, `.env` interpolated.
        let (logs, _) = compose_ok(&b, &dir, &["logs", "--no-color"]);
        assert!(logs.contains("web-1  | web up hello"), "logs:\n{logs}");
        assert!(logs.contains("db-1  | db ready"), "logs:\n{logs}");
        let (web_logs, _) = compose_ok(&b, &dir, &["logs", "--no-log-prefix", "web"]);
        assert_eq!(web_logs.trim(), "web up hello");

        // exec into a running service; its volume holds what db wrote.
        let (out, _) = compose_ok(&b, &dir, &["exec", "-T", "db", "cat", "/data/ready"]);
        assert_eq!(out.trim(), "kept");
        let (out, _) = compose_ok(
            &b,
            &dir,
            &["exec", "-T", "web", "sh", "-c", "echo $GREETING"],
        );
        assert_eq!(out.trim(), "hello");
        let failed = compose(&b, &dir, &["exec", "-T", "web", "sh", "-c", "exit 7"]);
        assert_eq!(failed.status.code(), Some(7), "{}", show(&failed));

        // A one-off container, removed after it ran.
        let (out, _) = compose_ok(
            &b,
            &dir,
            &["run", "--rm", "-T", "--no-deps", "web", "echo", "one-off"],
        );
        assert_eq!(out.trim(), "one-off");
        assert_eq!(all_names(&b), ["shop-db-1", "shop-web-1"]);

        // Managed from elsewhere with -p.
        let (ps, _) = compose_ok(&b, &b.dir, &["-p", "shop", "ps", "--services"]);
        assert_eq!(ps.lines().count(), 2, "{ps}");

        // down -v: no container, no volume.
        let (_, err) = compose_ok(&b, &dir, &["down", "-v"]);
        assert!(err.contains("Volume shop_data  Removed"), "{err}");
        assert!(all_names(&b).is_empty(), "{:?}", all_names(&b));
        assert_eq!(b.ok(&["volume", "ls", "-q"]).trim(), "");
        let (ps, _) = compose_ok(&b, &dir, &["ps", "-a", "-q"]);
        assert_eq!(ps.trim(), "");
    }
}

#[test]
fn second_up_recreates_only_the_changed_service() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let dir = project(&b, "app", &[("compose.yaml", &web_db("hi"))]);
        compose_ok(&b, &dir, &["up", "-d"]);
        let (db, web) = (container_id(&b, "app-db-1"), container_id(&b, "app-web-1"));

        // Nothing changed: both kept.
        let (_, err) = compose_ok(&b, &dir, &["up", "-d"]);
        assert!(err.contains("Container app-web-1  Running"), "{err}");
        assert_eq!(container_id(&b, "app-db-1"), db);
        assert_eq!(container_id(&b, "app-web-1"), web);

        // web's environment changed: only web is recreated.
        std::fs::write(dir.join("compose.yaml"), web_db("changed")).unwrap();
        let (_, err) = compose_ok(&b, &dir, &["up", "-d"]);
        assert!(err.contains("Container app-web-1  Recreated"), "{err}");
        assert!(!err.contains("Container app-db-1  Recreate"), "{err}");
        assert_eq!(container_id(&b, "app-db-1"), db, "db must be kept");
        let new_web = container_id(&b, "app-web-1");
        assert_ne!(new_web, web, "web must be recreated");
        let (logs, _) = compose_ok(&b, &dir, &["logs", "--no-log-prefix", "web"]);
        assert_eq!(logs.trim(), "web up changed");

        // --force-recreate replaces both.
        compose_ok(&b, &dir, &["up", "-d", "--force-recreate"]);
        assert_ne!(container_id(&b, "app-db-1"), db);
        assert_ne!(container_id(&b, "app-web-1"), new_web);

        // --scale adds numbered containers.
        compose_ok(&b, &dir, &["up", "-d", "--scale", "web=2"]);
        assert_eq!(all_names(&b), ["app-db-1", "app-web-1", "app-web-2"]);

        compose_ok(&b, &dir, &["down", "-v"]);
        assert!(all_names(&b).is_empty());
    }
}

#[test]
fn failed_dependencies_fail_up_naming_them() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = format!(
            "services:
  sick:
    image: busybox
    command: {sick}
    stop_grace_period: 1s
    healthcheck:
      test: [\"CMD\", \"false\"]
      interval: 1s
      retries: 1
  needs_sick:
    image: busybox
    command: {idle}
    depends_on:
      sick:
        condition: service_healthy
",
            sick = service_sh("true"),
            idle = service_sh("true"),
        );
        let dir = project(&b, "bad", &[("compose.yaml", &text)]);
        let out = compose(&b, &dir, &["up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "up must fail: {}", show(&out));
        assert!(
            err.contains("dependency failed to start: container bad-sick-1 is unhealthy"),
            "{err}"
        );
        let st = b.ok(&[
            "inspect",
            "--format",
            "{{.State.Status}}",
            "bad-needs_sick-1",
        ]);
        assert_eq!(st.trim(), "created", "the dependent must not start");
        compose_ok(&b, &dir, &["down"]);

        // service_completed_successfully: a zero exit lets the dependent
        // start, another one fails `up` with the service named.
        let completed = |code: i32| {
            format!(
                "services:
  init:
    image: busybox
    command: [\"sh\", \"-c\", \"echo init done; exit {code}\"]
  app:
    image: busybox
    command: {idle}
    stop_grace_period: 1s
    depends_on:
      init:
        condition: service_completed_successfully
",
                idle = service_sh("echo app up"),
            )
        };
        let dir = project(&b, "seq", &[("compose.yaml", &completed(0))]);
        let (_, err) = compose_ok(&b, &dir, &["up", "-d"]);
        assert!(err.contains("Container seq-init-1  Exited"), "{err}");
        let st = b.ok(&["inspect", "--format", "{{.State.Status}}", "seq-app-1"]);
        assert_eq!(st.trim(), "running");
        let (logs, _) = compose_ok(&b, &dir, &["logs", "--no-color"]);
        assert!(
            logs.contains("init-1  | init done") && logs.contains("app-1  | app up"),
            "{logs}"
        );
        compose_ok(&b, &dir, &["down"]);

        std::fs::write(dir.join("compose.yaml"), completed(3)).unwrap();
        let out = compose(&b, &dir, &["up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "up must fail: {}", show(&out));
        assert!(
            err.contains("\"init\" didn't complete successfully: exit 3"),
            "{err}"
        );
        compose_ok(&b, &dir, &["down"]);
        assert!(all_names(&b).is_empty());
    }
}

#[test]
fn build_sections_are_built_and_rebuilt() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = "services:
  app:
    build:
      context: ./app
      args:
        WHO: compose
    command: [\"cat\", \"/built\"]
";
        let dir = project(&b, "bld", &[("compose.yaml", text)]);
        let app = dir.join("app");
        std::fs::create_dir(&app).unwrap();
        std::fs::write(
            app.join("Dockerfile"),
            "FROM busybox\nARG WHO=nobody\nRUN echo \"built by $WHO\" > /built\n",
        )
        .unwrap();
        if running_as_root() && !b.user.is_root() {
            for p in [app.clone(), app.join("Dockerfile")] {
                std::os::unix::fs::chown(&p, Some(b.user.uid), Some(b.user.gid)).unwrap();
            }
        }
        // Attached `up`: the service's output, prefixed, then its exit.
        let (out, err) = compose_ok(&b, &dir, &["up"]);
        assert!(err.contains("Image bld-app  Built"), "{err}");
        assert!(out.contains("app-1  | built by compose"), "{out}");
        assert!(out.contains("app-1 exited with code 0"), "{out}");
        let first = b.image_id("bld-app");

        // `build --build-arg` overrides `args:`; the next `up --build` runs it.
        compose_ok(&b, &dir, &["build", "--build-arg", "WHO=flag"]);
        assert_ne!(b.image_id("bld-app"), first);
        let (out, _) = compose_ok(&b, &dir, &["run", "--rm", "-T", "app"]);
        assert_eq!(out.trim(), "built by flag");

        // A failing build names the service and the step.
        std::fs::write(app.join("Dockerfile"), "FROM busybox\nRUN exit 3\n").unwrap();
        let out = compose(&b, &dir, &["build"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", show(&out));
        assert!(
            err.contains("service \"app\"") && err.contains("exit code: 3"),
            "{err}"
        );

        // down --rmi local removes the image built for the service.
        compose_ok(&b, &dir, &["down", "--rmi", "local"]);
        assert!(b.cmd(&["image", "inspect", "bld-app"]).status.code() != Some(0));
        assert!(all_names(&b).is_empty());
    }
}

#[test]
fn service_settings_reach_the_container() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        // Supplementary groups need a subordinate id range.
        let (groups, want_groups) = if user.subids {
            ("    group_add: [\"1234\"]\n", "k-1  | 0 1234")
        } else {
            ("", "k-1  | 0")
        };
        let text = "services:
  k:
    image: busybox
    command: [\"sh\", \"-c\", \"cat /proc/sys/kernel/domainname /proc/sys/kernel/shmmax; id -G; df -k /dev/shm | tail -1\"]
    domainname: example.org
    sysctls:
      kernel.shmmax: \"123456789\"
    shm_size: 32m
    annotations: {team: lab}
    stop_grace_period: 3s
    logging:
      driver: json-file
      options: {max-size: 1m}
"
        .to_string()
            + groups;
        let dir = project(&b, "set", &[("compose.yaml", &text)]);
        let (out, _) = compose_ok(&b, &dir, &["up"]);
        for want in [
            "k-1  | example.org",
            "k-1  | 123456789",
            want_groups,
            " 32768 ",
        ] {
            assert!(out.contains(want), "{want:?} missing from:\n{out}");
        }
        let seen = b.ok(&[
        "inspect",
        "--format",
        "{{json .HostConfig.Annotations}} {{.Config.StopTimeout}} {{json .HostConfig.LogConfig.Config}}",
        "set-k-1",
    ]);
        assert_eq!(seen.trim(), r#"{"team":"lab"} 3 {"max-size":"1m"}"#);

        // What `run` refuses, compose refuses too, naming the service.
        let bad =
            "services:\n  k:\n    image: busybox\n    sysctls:\n      net.ipv4.ip_forward: \"1\"\n";
        std::fs::write(dir.join("compose.yaml"), bad).unwrap();
        let out = compose(&b, &dir, &["up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", show(&out));
        assert!(
            err.contains("service \"k\": sysctls: \"net.ipv4.ip_forward\""),
            "{err}"
        );
        compose_ok(&b, &dir, &["down"]);
    }
}

#[test]
fn recreate_keeps_anonymous_volumes() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = |x: &str| {
            format!(
            "services:\n  a:\n    image: busybox\n    command: {}\n    environment: {{X: \"{x}\"}}\n    volumes: [\"/cache\"]\n",
            service_sh("true")
        )
        };
        let dir = project(&b, "anon", &[("compose.yaml", &text("1"))]);
        compose_ok(&b, &dir, &["up", "-d"]);
        compose_ok(
            &b,
            &dir,
            &["exec", "-T", "a", "sh", "-c", "echo kept > /cache/f"],
        );
        std::fs::write(dir.join("compose.yaml"), text("2")).unwrap();
        let (_, err) = compose_ok(&b, &dir, &["up", "-d"]);
        assert!(err.contains("Container anon-a-1  Recreated"), "{err}");
        let (out, _) = compose_ok(
            &b,
            &dir,
            &["exec", "-T", "a", "sh", "-c", "cat /cache/f; echo $X"],
        );
        assert_eq!(out, "kept\n2\n");
        assert_eq!(b.ok(&["volume", "ls", "-q"]).lines().count(), 1);
        compose_ok(&b, &dir, &["down", "-v"]);
        assert_eq!(b.ok(&["volume", "ls", "-q"]).trim(), "");
    }
}

#[test]
fn attached_up_profiles_override_and_listings() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let main = format!(
            "services:
  a:
    image: busybox
    command: {a}
    healthcheck: {{test: [\"CMD\", \"true\"], interval: 1s}}
  b:
    image: busybox
    command: [\"sh\", \"-c\", \"echo b done; exit 4\"]
  dbg:
    image: busybox
    profiles: [debug]
    command: [\"echo\", \"debugging\"]
",
            a = service_sh("echo a says $$FROM_OVERRIDE")
        );
        let over = "services:\n  a:\n    environment: {FROM_OVERRIDE: \"yes\"}\n";
        let dir = project(
            &b,
            "att",
            &[("compose.yaml", &main), ("compose.override.yaml", over)],
        );
        // Attached: prefixed output, the exit of b stops a, b's status is ours.
        let out = compose(&b, &dir, &["up", "--exit-code-from", "b"]);
        assert_eq!(out.status.code(), Some(4), "{}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("a-1  | a says yes"), "{text}");
        assert!(text.contains("b-1  | b done"), "{text}");
        assert!(text.contains("b-1 exited with code 4"), "{text}");
        // Only the services of the active profiles ran.
        assert_eq!(all_names(&b), ["att-a-1", "att-b-1"]);

        // --wait returns once a is healthy.
        compose_ok(&b, &dir, &["up", "-d", "--wait", "a"]);
        let st = b.ok(&["inspect", "--format", "{{.State.Health.Status}}", "att-a-1"]);
        assert_eq!(st.trim(), "healthy");
        let (json, _) = compose_ok(&b, &dir, &["ps", "-a", "--format", "json"]);
        let rows: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let b_row = rows
            .iter()
            .find(|r| r["Service"] == "b")
            .unwrap_or_else(|| panic!("{json}"));
        assert_eq!(b_row["ExitCode"], 4);
        assert_eq!(b_row["State"], "exited");
        let (exited, _) = compose_ok(
            &b,
            &dir,
            &["ps", "--status", "exited", "--format", "{{.Name}}"],
        );
        assert_eq!(exited.trim(), "att-b-1");
        let (ls, _) = compose_ok(&b, &dir, &["ls", "-a"]);
        assert!(
            ls.contains("att ") && ls.contains("compose.override.yaml"),
            "{ls}"
        );

        // A profile named on the command line adds its service.
        let (out, _) = compose_ok(&b, &dir, &["--profile", "debug", "up", "dbg"]);
        assert!(out.contains("dbg-1  | debugging"), "{out}");
        compose_ok(&b, &dir, &["--profile", "debug", "down"]);
        assert!(all_names(&b).is_empty(), "{:?}", all_names(&b));
    }
}

#[test]
fn interrupting_attached_up_stops_the_project() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = "services:\n  s:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'echo got term; exit 0' TERM; echo up; sleep 1000 & wait\"]\n";
        let dir = project(&b, "intr", &[("compose.yaml", text)]);
        let mut cmd = b.command(&["compose", "up"]);
        cmd.current_dir(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = cmd.spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let st = b.cmd(&["inspect", "--format", "{{.State.Status}}", "intr-s-1"]);
            if String::from_utf8_lossy(&st.stdout).trim() == "running" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "intr-s-1 never ran");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("s-1  | got term"), "{}", show(&out));
        let st = b.ok(&["inspect", "--format", "{{.State.Status}}", "intr-s-1"]);
        assert_eq!(st.trim(), "exited");
        compose_ok(&b, &dir, &["down"]);
    }
}

#[test]
fn resource_limits_ulimits_and_devices() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = "services:
  r:
    image: busybox
    command: [\"sh\", \"-c\", \"ulimit -n; ls -l /dev/mydev | cut -c1\"]
    mem_limit: 64m
    pids_limit: 50
    deploy:
      resources:
        limits: {cpus: \"0.5\"}
    ulimits:
      nofile: {soft: 1000, hard: 2000}
    devices: [\"/dev/null:/dev/mydev\"]
";
        let dir = project(&b, "res", &[("compose.yaml", text)]);
        let (out, _) = compose_ok(&b, &dir, &["up"]);
        assert!(
            out.contains("r-1  | 1000\n") && out.contains("r-1  | c\n"),
            "{out}"
        );
        // Recorded as `run`'s flags record them (applied where this user's
        // cgroups allow; otherwise the runtime warned once).
        let seen = b.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{json .HostConfig.Ulimits}}",
        "res-r-1",
    ]);
        assert_eq!(
            seen.trim(),
            r#"67108864 500000000 50 [{"Hard":2000,"Name":"nofile","Soft":1000}]"#
        );
        compose_ok(&b, &dir, &["down"]);
    }
}

#[test]
fn secrets_and_configs_are_mounted() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = "services:
  s:
    image: busybox
    command: [\"sh\", \"-c\", \"cat /run/secrets/pw; cat /run/secrets/tok; echo; cat /etc/app.conf\"]
    secrets: [pw, tok]
    configs:
      - source: conf
        target: /etc/app.conf
secrets:
  pw: {file: ./pw.txt}
  tok: {environment: TOKEN}
configs:
  conf: {content: \"setting=1\\n\"}
";
        let dir = project(
            &b,
            "sec",
            &[("compose.yaml", text), ("pw.txt", "hunter2\n")],
        );
        let mut cmd = b.command(&["compose", "up"]);
        cmd.current_dir(&dir).env("TOKEN", "t0k");
        let out = run(cmd);
        assert_success(&out, "compose up with secrets");
        let text = String::from_utf8_lossy(&out.stdout);
        for want in ["s-1  | hunter2\n", "s-1  | t0k\n", "s-1  | setting=1\n"] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        compose_ok(&b, &dir, &["down"]);
        assert!(!b.root.join("compose").join("sec").exists());
    }
}

/// `cap_add`, `cap_drop`, `security_opt` and `privileged` reach the
/// container as `run`'s flags do, and `exec --privileged` works.
#[test]
fn security_settings_reach_the_container() {
    for user in users() {
        let b = Berth::new(&user);
        b.load_busybox();
        let text = format!(
            "services:
  s:
    image: busybox
    command: {}
    cap_drop: [ALL]
    cap_add: [chown]
    security_opt: [\"no-new-privileges\"]
  p:
    image: busybox
    command: [\"sleep\", \"1000\"]
    privileged: true
",
            service_sh("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
        );
        let dir = project(&b, "sec", &[("compose.yaml", &text)]);
        compose_ok(&b, &dir, &["up", "-d"]);
        let mut logs = String::new();
        for _ in 0..50 {
            logs = compose_ok(&b, &dir, &["logs", "--no-color", "s"]).0;
            if logs.contains("NoNewPrivs") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(logs.contains("CapEff:\t0000000000000001"), "{logs}");
        assert!(logs.contains("NoNewPrivs:\t1"), "{logs}");
        let seen = b.ok(&[
            "inspect",
            "--format",
            "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{.HostConfig.Privileged}}",
            "sec-s-1",
        ]);
        assert_eq!(seen.trim(), r#"["CAP_CHOWN"] ["ALL"] false"#);
        let (status, _) = compose_ok(&b, &dir, &["exec", "-T", "p", "cat", "/proc/self/status"]);
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .unwrap()
            .trim()
            .to_string();
        assert_ne!(eff, "00000000a80425fb", "privileged: {status}");
        compose_ok(&b, &dir, &["down", "-t", "0"]);
    }
}
