//! Starting this test binary as the ranks of a c10d group over 127.0.0.1, the way torchrun
//! starts a program: the same command K times, told its place by RANK, WORLD_SIZE,
//! MASTER_ADDR and MASTER_PORT. Each rank runs only the binary's ignored `rank` test.

use std::process::{Child, Command, Stdio};

/// A port nobody listens on now (the OS picks it; it is free again once the probe closes).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts rank `rank` of `world_size`, with the test's own variables `env` besides.
pub fn start(rank: usize, world_size: usize, port: u16, env: &[(&str, String)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "rank", "--ignored", "--nocapture", "--test-threads", "1"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RANK", rank.to_string())
        .env("WORLD_SIZE", world_size.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `world_size` ranks and waits for them; every one must succeed.
pub fn run_all(world_size: usize, env: &[(&str, String)], label: &str) {
    let port = free_port();
    let ranks: Vec<Child> = (0..world_size).map(|r| start(r, world_size, port, env)).collect();
    for (r, child) in ranks.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{label} rank {r}: {}", describe(&output));
    }
}

/// A finished rank's exit status and everything it printed.
pub fn describe(output: &std::process::Output) -> String {
    format!("{}\n{}{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
