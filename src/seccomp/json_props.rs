//! Property tests: Docker-format seccomp profiles (a file the user names,
//! often downloaded) never make the parser or the compiler panic, and a
//! profile that parses compiles to a program that decides every syscall.

use super::*;
use crate::util::json_gen::json_bytes;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "archMap",
    "architecture",
    "subArchitectures",
    "syscalls",
    "names",
    "name",
    "action",
    "errnoRet",
    "args",
    "index",
    "value",
    "valueTwo",
    "op",
    "includes",
    "excludes",
    "caps",
    "arches",
    "minKernel",
    "flags",
    "listenerPath",
    "comment",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn profiles_never_panic(bytes in json_bytes(KEYS, 5)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(profile) = json::parse(&text) {
            if let Ok(filter) = build(&profile, CapMask::of(&DOCKER_DEFAULT_CAPS), &Options::default()) {
                let arch = Arch::native();
                for nr in [0u32, 1, 59, 435, 9999] {
                    let _ = filter.evaluate(arch, nr, [0; 6]);
                }
            }
        }
    }
}
