//! What every run records about the code and the machine beside its result (`env.json`,
//! and the commit, device and threads of its result row), and the time stamps of rows.

/// The code and machine of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Environment {
    /// `git rev-parse --short=12 HEAD`, with `-dirty` when tracked files are modified.
    pub git_commit: String,
    pub tch_version: &'static str,
    pub torch_version: &'static str,
    /// `cpu` or `cuda:0 (<name>)`, as the suite describes it.
    pub device: String,
    pub threads: i32,
    pub cpu: String,
}

impl Environment {
    /// The environment now, for a run on `device` with `threads` libtorch threads.
    pub fn capture(device: String, threads: i32) -> Self {
        Environment { git_commit: git_commit(), tch_version: "0.26.0", torch_version: "2.13.0", device, threads, cpu: cpu_model() }
    }
}

fn git_commit() -> String {
    let output = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output();
    match output {
        Ok(out) if out.status.success() => {
            let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let dirty = std::process::Command::new("git").args(["status", "--porcelain", "--untracked-files=no"]).output();
            match dirty {
                Ok(d) if !d.stdout.is_empty() => format!("{commit}-dirty"),
                _ => commit,
            }
        }
        _ => "unknown".to_owned(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, no time-zone data).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    rfc3339(secs)
}

/// `secs` after the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2024-02-29 (a leap day) 12:34:56 UTC.
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        let now = now_rfc3339();
        assert!(now.len() == 20 && now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
