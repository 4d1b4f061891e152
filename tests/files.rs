//! `cp`, `export`, `diff` and `commit`, as each test user.

mod common;
use common::*;

fn start(b: &Berth, name: &str) {
    b.ok(&["run", "-d", "--name", name, "busybox", "sleep", "99999999"]);
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

#[test]
fn cp_both_ways_running_and_stopped() {
    each_user(|b| {
        b.load_busybox();
        start(b, "cpc");
        b.ok(&["exec", "cpc", "sh", "-c",
            "mkdir -p /data/sub && echo hi > /data/sub/f && ln -s /etc/passwd /data/link && ln -s / /out"]);
        let host = b.scratch_dir();
        let h = host.to_str().unwrap();
        // A directory into an existing directory, and its contents with `/.`.
        b.ok(&["cp", "cpc:/data", h]);
        assert_eq!(read(&host.join("data/sub/f")), "hi\n");
        assert_eq!(
            std::fs::read_link(host.join("data/link")).unwrap(),
            std::path::Path::new("/etc/passwd")
        );
        b.ok(&["cp", "cpc:/data/.", &format!("{h}/contents")]);
        assert_eq!(read(&host.join("contents/sub/f")), "hi\n");
        // -L follows the link in the source.
        b.ok(&["cp", "-L", "cpc:/data/link", &format!("{h}/passwd")]);
        assert!(read(&host.join("passwd")).starts_with("root:"));
        // Into the container: owned by the container's root.
        let file = b.write_file("hostfile", "from host\n");
        b.ok(&["cp", file.to_str().unwrap(), "cpc:/tmp/"]);
        assert_eq!(
            b.ok(&["exec", "cpc", "cat", "/tmp/hostfile"]),
            "from host\n"
        );
        assert_eq!(
            b.ok(&["exec", "cpc", "stat", "-c", "%u:%g", "/tmp/hostfile"]),
            "0:0\n"
        );
        // A hostile symlink resolves inside the container: /out -> /.
        b.ok(&["cp", file.to_str().unwrap(), "cpc:/out/etc/planted"]);
        assert_eq!(b.ok(&["exec", "cpc", "cat", "/etc/planted"]), "from host\n");
        b.ok(&[
            "exec",
            "cpc",
            "ln",
            "-s",
            host.to_str().unwrap(),
            "/hostlink",
        ]);
        // The link's target does not exist inside the container: an error.
        let out = b.cmd(&["cp", file.to_str().unwrap(), "cpc:/hostlink/"]);
        assert!(!out.status.success(), "{}", show(&out));
        assert!(
            !host.join("hostfile").exists(),
            "cp wrote through a container symlink onto the host"
        );
        // Missing sources are named, on either side.
        let out = b.fails(&["cp", "cpc:/nope", h]);
        assert!(
            stderr(&out).contains("Could not find the file /nope"),
            "{}",
            show(&out)
        );
        let missing = format!("{h}/nope");
        let out = b.fails(&["cp", &missing, "cpc:/tmp/"]);
        assert_eq!(
            stderr(&out),
            format!("lstat {missing}: no such file or directory\n"),
            "{}",
            show(&out)
        );
        // A tar on stdout and on stdin.
        let out = b.cmd(&["cp", "cpc:/data/sub/f", "-"]);
        let mut names = Vec::new();
        for e in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["f"]);
        let mut t = tar::Builder::new(Vec::new());
        let mut hd = tar::Header::new_gnu();
        hd.set_size(3);
        hd.set_mode(0o644);
        t.append_data(&mut hd, "fromtar", &b"tar"[..]).unwrap();
        let out = b.cmd_stdin(&["cp", "-", "cpc:/tmp"], &t.into_inner().unwrap());
        assert_success(&out, "cp - cpc:/tmp");
        assert_eq!(b.ok(&["exec", "cpc", "cat", "/tmp/fromtar"]), "tar");
        // Stopped: the same files, through the overlay.
        b.ok(&["kill", "cpc"]);
        b.ok(&["cp", "cpc:/tmp/hostfile", &format!("{h}/back")]);
        assert_eq!(read(&host.join("back")), "from host\n");
        b.ok(&["cp", file.to_str().unwrap(), "cpc:/root/stopped"]);
        b.ok(&["start", "cpc"]);
        assert_eq!(
            b.ok(&["exec", "cpc", "cat", "/root/stopped"]),
            "from host\n"
        );
        b.ok(&["kill", "cpc"]);
    });
}

#[test]
fn diff_export_and_commit() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "--name",
            "chg",
            "busybox",
            "sh",
            "-c",
            "mkdir /new && echo x > /new/f && rm /etc/group && echo changed >> /etc/passwd",
        ]);
        let diff = b.ok(&["diff", "chg"]);
        let lines: Vec<&str> = diff.lines().collect();
        assert_eq!(
            lines,
            [
                "C /etc",
                "D /etc/group",
                "C /etc/passwd",
                "A /new",
                "A /new/f"
            ],
            "{diff}"
        );
        let out = b.cmd(&["export", "chg"]);
        assert_success(&out, "export");
        let mut names = Vec::new();
        for e in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert!(names.iter().any(|n| n == "new/f"), "{names:?}");
        assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
        assert!(!names.iter().any(|n| n == "etc/group"), "{names:?}");
        let id = b.ok(&[
            "commit",
            "-m",
            "my change",
            "-c",
            "ENV COMMITTED=yes",
            "chg",
            "mine:v1",
        ]);
        assert!(id.trim().starts_with("sha256:"), "{id}");
        assert_eq!(b.image_id("mine:v1"), id.trim());
        let out = b.run_rm(
            "mine:v1",
            &[
                "sh",
                "-c",
                "cat /new/f; test -e /etc/group || echo gone; echo $COMMITTED",
            ],
        );
        assert_eq!(out, "x\ngone\nyes\n");
        let hist = b.ok(&["history", "mine:v1"]);
        assert!(hist.contains("my change"), "{hist}");
        // The committed layer round-trips through save and load.
        let dir = b.scratch_dir();
        let tarball = dir.join("mine.tar");
        b.ok(&["save", "-o", tarball.to_str().unwrap(), "mine:v1"]);
        b.ok(&["rmi", "mine:v1"]);
        b.ok(&["load", "-i", tarball.to_str().unwrap()]);
        assert_eq!(b.run_rm("mine:v1", &["cat", "/new/f"]), "x\n");
    });
}

/// `commit` keeps what Docker's keeps of the container's config: exposed
/// ports, declared volumes, stop signal and health check.
#[test]
fn commit_keeps_the_containers_config() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "--name",
            "cfg",
            "--network",
            "none",
            "--expose",
            "91/udp",
            "-v",
            "/vol1",
            "--stop-signal",
            "USR1",
            "--health-cmd",
            "true",
            "busybox",
            "true",
        ]);
        b.ok(&["commit", "cfg", "cfg:v1"]);
        let config = b.ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.Config.StopSignal}} \
             {{json .Config.Healthcheck}}",
            "cfg:v1",
        ]);
        assert_eq!(
            config,
            "{\"91/udp\":{}} {\"/vol1\":{}} USR1 {\"Test\":[\"CMD-SHELL\",\"true\"]}\n"
        );
        b.ok(&["rm", "-v", "cfg"]);
        b.ok(&["rmi", "cfg:v1"]);
    });
}

#[test]
fn cp_of_a_stopped_container_sees_its_volumes() {
    each_user(|b| {
        b.load_busybox();
        b.ok(&[
            "run",
            "--name",
            "vc",
            "-v",
            "cpdata:/data",
            "busybox",
            "sh",
            "-c",
            "echo inside > /data/f",
        ]);
        let out_dir = b.scratch_dir();
        let dest = out_dir.join("f");
        b.ok(&["cp", "vc:/data/f", dest.to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "inside\n");
        let src = b.write_file("host.txt", "from host\n");
        b.ok(&["cp", src.to_str().unwrap(), "vc:/data/"]);
        // The file went into the volume, not into the container's own layer.
        let seen = b.ok(&[
            "run",
            "--rm",
            "-v",
            "cpdata:/data",
            "busybox",
            "cat",
            "/data/host.txt",
        ]);
        assert_eq!(seen, "from host\n");
        b.ok(&["rm", "vc"]);
    });
}
