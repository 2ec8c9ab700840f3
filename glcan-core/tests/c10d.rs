//! Two real processes over 127.0.0.1 through torch's c10d (TCPStore + ProcessGroupGloo), as
//! `torchrun` would start them: the same program twice, told its rank by RANK, WORLD_SIZE,
//! MASTER_ADDR and MASTER_PORT. Each test starts this test binary twice, running only the
//! ignored `rank` test below, whose job the variable GLCAN_C10D_JOB names.

use std::path::Path;
use std::time::{Duration, Instant};

use glcan_core::c10d::{ProcessGroup, Rendezvous};
use tch::{Kind, Tensor};

mod ranks;

const JOB: &str = "GLCAN_C10D_JOB";
/// Where a rank of the `dies` job says it has joined.
const JOINED: &str = "GLCAN_C10D_JOINED";
const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
#[ignore = "one rank of the two-process tests below, which start it"]
fn rank() {
    let job = std::env::var(JOB).expect("started by a two-process test, which names the job");
    let rendezvous = Rendezvous::from_env(|name| std::env::var(name).ok(), TIMEOUT).unwrap().expect("the test sets RANK");
    let group = ProcessGroup::connect(&rendezvous).unwrap();
    match job.as_str() {
        "exchange" => exchange(&group),
        "dies" => {
            let joined = Path::new(&std::env::var(JOINED).unwrap()).join(format!("rank{}", group.rank()));
            std::fs::write(joined, b"joined").unwrap();
            if group.rank() == 1 {
                std::thread::sleep(Duration::from_secs(120)); // killed by the test long before
            }
            let mut incoming = Tensor::zeros([4], (Kind::Float, tch::Device::Cpu));
            group.recv(&mut incoming, 1, 9).unwrap(); // fails: rank 1 is gone
        }
        other => panic!("unknown job {other}"),
    }
}

/// Rank 0 sends a tensor, rank 1 sends it back doubled, both check the bits; then both
/// all-reduce seeded tensors and check the sum each could compute alone.
fn exchange(group: &ProcessGroup) {
    let original = Tensor::arange(6, (Kind::Float, tch::Device::Cpu)).view([2, 3]) / 7.0;
    if group.rank() == 0 {
        group.send(&original, 1, 3).unwrap();
        let mut back = Tensor::zeros([2, 3], (Kind::Float, tch::Device::Cpu));
        group.recv(&mut back, 1, 4).unwrap();
        assert!(back.equal(&(&original * 2.0)), "rank 0 got {back}");
    } else {
        let mut received = Tensor::zeros([2, 3], (Kind::Float, tch::Device::Cpu));
        group.recv(&mut received, 0, 3).unwrap();
        assert!(received.equal(&original), "rank 1 got {received}");
        group.send(&(&received * 2.0), 0, 4).unwrap();
    }
    let seeded = |seed: i64| {
        tch::manual_seed(seed);
        Tensor::randn([3, 5], (Kind::Float, tch::Device::Cpu))
    };
    let mut mine = vec![seeded(group.rank() as i64), Tensor::from_slice(&[group.rank() as f32 + 1.0])];
    group.all_reduce_sum(&mut mine).unwrap();
    // Two addends: a + b is b + a to the bit, whichever order Gloo adds them in.
    assert!(mine[0].equal(&(seeded(0) + seeded(1))), "the sum of both ranks' tensors");
    assert_eq!(Vec::<f32>::try_from(&mine[1]).unwrap(), [3.0]);
    group.barrier().unwrap();
}

fn job_env(job: &str, joined: &Path) -> Vec<(&'static str, String)> {
    vec![(JOB, job.to_owned()), (JOINED, joined.display().to_string())]
}

#[test]
fn two_ranks_exchange_tensors_bit_for_bit_and_all_reduce() {
    let dir = tempfile::tempdir().unwrap();
    ranks::run_all(2, &job_env("exchange", dir.path()), "exchange");
}

#[test]
fn a_killed_rank_makes_the_other_fail_within_the_timeout_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = ranks::free_port();
    let env = job_env("dies", dir.path());
    let mut rank0 = ranks::start(0, 2, port, &env);
    let mut rank1 = ranks::start(1, 2, port, &env);
    let joined = Instant::now();
    while !(dir.path().join("rank0").exists() && dir.path().join("rank1").exists()) {
        assert!(joined.elapsed() < Duration::from_secs(60), "the ranks never joined");
        std::thread::sleep(Duration::from_millis(50));
    }
    rank1.kill().unwrap();
    rank1.wait().unwrap();
    let killed = Instant::now();
    // Rank 0 waits in recv for the dead rank: it must end, non-zero, within the timeout.
    let status = loop {
        if let Some(status) = rank0.try_wait().unwrap() {
            break status;
        }
        if killed.elapsed() > TIMEOUT * 4 {
            rank0.kill().unwrap();
            panic!("rank 0 still waits {:?} after rank 1 died", killed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = rank0.wait_with_output().unwrap();
    assert!(!status.success(), "rank 0 should fail: {}", ranks::describe(&output));
    let text = ranks::describe(&output);
    assert!(text.contains("rank 0 receiving from rank 1"), "the error names the dead peer: {text}");
}
