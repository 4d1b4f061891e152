//! `berth compose` end to end as the unprivileged test users: project
//! discovery from a subdirectory, `.env` interpolation, `-f -`, `-p`, the
//! listing flags, errors with file and line, `version`, and berth invoked
//! through a symlink named `docker-compose`.

mod common;

use common::{run, run_with_input, Berth};
use std::path::Path;

const COMPOSE: &str = "services:\n  web:\n    image: \"busybox:${TAG:-latest}\"\n    depends_on: [db]\n    ports: [\"8080:80\"]\n  db:\n    image: busybox\n    volumes: [data:/data]\nvolumes:\n  data: {}\n";

fn write(b: &Berth, dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
    if running_switched(b) {
        std::os::unix::fs::chown(dir.join(name), Some(b.user.uid), Some(b.user.gid)).unwrap();
    }
}

fn running_switched(b: &Berth) -> bool {
    common::running_as_root() && !b.user.is_root()
}

fn out(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn config_as_each_user_and_through_docker_compose() {
    for user in common::users() {
        let b = Berth::new(&user);
        let project = b.scratch_dir().join("My.Project");
        std::fs::create_dir(&project).unwrap();
        let sub = project.join("sub");
        std::fs::create_dir(&sub).unwrap();
        if running_switched(&b) {
            for d in [&project, &sub] {
                std::os::unix::fs::chown(d, Some(user.uid), Some(user.gid)).unwrap();
            }
        }
        write(&b, &project, "compose.yaml", COMPOSE);
        write(&b, &project, ".env", "TAG=1.36 # pinned\n");

        // Found from a subdirectory; named after its directory.
        let mut cmd = b.command(&["compose", "config"]);
        cmd.current_dir(&sub);
        let o = run(cmd);
        let (stdout, stderr) = out(&o);
        assert!(o.status.success(), "{stderr}");
        assert!(stdout.starts_with("name: myproject\n"), "{stdout}");
        assert!(stdout.contains("    image: busybox:1.36\n"), "{stdout}");
        assert!(stdout.contains("        published: \"8080\"\n"), "{stdout}");
        assert!(stdout.contains("    name: myproject_data\n"), "{stdout}");

        // The same through a symlink named docker-compose.
        let link = b.scratch_dir().join("docker-compose");
        std::os::unix::fs::symlink(b.program(), &link).unwrap();
        let mut cmd = b.user_command(&link, &["config"]);
        cmd.current_dir(&project);
        let o = run(cmd);
        assert!(o.status.success(), "{}", out(&o).1);
        assert_eq!(
            out(&o).0,
            stdout,
            "docker-compose config differs from berth compose config"
        );
        let mut cmd = b.user_command(&link, &["config", "--services"]);
        cmd.current_dir(&project);
        assert_eq!(
            out(&run(cmd)).0,
            "db\nweb\n",
            "services in dependency order"
        );
        let mut cmd = b.user_command(&link, &["version", "--short"]);
        cmd.current_dir(&project);
        assert_eq!(out(&run(cmd)).0.trim(), env!("CARGO_PKG_VERSION"));

        // -f - and -p from anywhere; --volumes, --images, --hash.
        let o = run_with_input(
            b.command(&["compose", "-p", "other", "-f", "-", "config", "--images"]),
            COMPOSE.as_bytes(),
        );
        assert_eq!(out(&o).0, "busybox\nbusybox:latest\n", "{}", out(&o).1);
        let o = run_with_input(
            b.command(&["compose", "-p", "other", "-f", "-", "config", "--volumes"]),
            COMPOSE.as_bytes(),
        );
        assert_eq!(out(&o).0, "data\n");
        let mut cmd = b.command(&["compose", "config", "--hash", "web"]);
        cmd.current_dir(&project);
        let (h, _) = out(&run(cmd));
        let hash = h
            .strip_prefix("web ")
            .unwrap_or_else(|| panic!("{h}"))
            .trim();
        assert_eq!(hash.len(), 64, "{h}");

        // A broken file: status 1, the file, line and key path named.
        write(
            &b,
            &project,
            "compose.override.yaml",
            "services:\n  web:\n    restart: always\n    ports:\n      - 80:80:80:80:80\n",
        );
        let mut cmd = b.command(&["compose", "config", "-q"]);
        cmd.current_dir(&project);
        let o = run(cmd);
        let (stdout, stderr) = out(&o);
        assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!(
                "{}:5: services.web.ports[0]:",
                project.join("compose.override.yaml").display()
            )),
            "{stderr}"
        );

        // Writing to a file with -o.
        std::fs::remove_file(project.join("compose.override.yaml")).unwrap();
        let target = project.join("out.yaml");
        let mut cmd = b.command(&["compose", "config", "-o"]);
        cmd.arg(&target).current_dir(&project);
        let o = run(cmd);
        assert!(o.status.success(), "{}", out(&o).1);
        assert!(std::fs::read_to_string(&target)
            .unwrap()
            .contains("busybox:1.36"));
    }
}
